"""The project's own exception types: every failure a user can cause surfaces as one of these."""


class C5Error(Exception):
    """Base class: a one-line, user-facing message in str(exc)."""


class ReadError(C5Error):
    """A path could not be read as frames (missing, corrupt, unsupported, too large...)."""


class BundleError(C5Error):
    """A model bundle is missing, truncated, tampered with or of an unknown format."""


class ModelError(C5Error):
    """Inference or model construction failed (unknown architecture, out of memory...)."""
