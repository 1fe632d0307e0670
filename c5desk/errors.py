"""The project's own exception types: every failure a user can cause surfaces as one of these."""


class C5Error(Exception):
    """Base class: a one-line, user-facing message in str(exc)."""


class ReadError(C5Error):
    """A path could not be read as frames (missing, corrupt, unsupported, too large...)."""


class BundleError(C5Error):
    """A model bundle is missing, truncated, tampered with or of an unknown format."""


class ModelError(C5Error):
    """Inference or model construction failed (unknown architecture, out of memory...)."""


class StoreError(C5Error):
    """The dataset store cannot do what was asked (missing store, bad input, corrupt file...)."""


class MaskError(C5Error, ValueError):
    """A mask or calibration that cannot be measured (wrong shape, dtype or values)."""


class EditError(C5Error):
    """An edit that cannot be applied as asked (wrong shape, no stroke in progress...)."""


class DocumentError(C5Error):
    """A document action that cannot be done now (no label chosen, no model output to accept...)."""
