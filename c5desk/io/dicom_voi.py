"""The 8-bit grey of >8-bit monochrome DICOM as the scanner meant it: Modality LUT, then VOI LUT or window.

A 12- to 16-bit frame holds far more levels than a screen or the model's 8-bit input, and the file says
which of them matter: Window Center/Width (LINEAR, LINEAR_EXACT or SIGMOID) or a VOI LUT Sequence, after
the rescale or Modality LUT; enhanced multi-frame files say it per frame in functional groups. pydicom
applies the transforms (`apply_modality_lut`, `apply_voi`, `apply_windowing`); this module decides what
to hand it, checks the values first and maps the VOI output range to 0..255. A file that specifies no
usable VOI gets None, and the caller stretches the frame's own range as before: a bad window must never
fail a read. The stored pixels are not touched.
"""

from __future__ import annotations

import copy
import math
from typing import NamedTuple

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing
from pydicom.uid import UID

_PIXEL = ("PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation")
_MODALITY = ("RescaleSlope", "RescaleIntercept", "RescaleType", "ModalityLUTSequence")
_VOI = ("WindowCenter", "WindowWidth", "VOILUTFunction", "VOILUTSequence")
# Functional group macros that replace the top-level Modality LUT / VOI LUT attributes for a frame.
_GROUPS = (("PixelValueTransformationSequence", _MODALITY), ("FrameVOILUTSequence", _VOI))
_FUNCTIONS = frozenset({"LINEAR", "LINEAR_EXACT", "SIGMOID"})
_LUT_BITS = frozenset({8, *range(10, 17)})  # PS3.3 C.11.2.1.1: 8 or 10..16 bits per VOI LUT entry


class Voi(NamedTuple):
    """The VOI transform chosen for a frame."""

    kind: str  # "lut" (VOI LUT Sequence) or "window" (Window Center/Width)
    span: tuple[float, float]  # its output range, mapped onto 0..255
    label: str  # for info(): "VOI LUT (4096 entries, 16 bits)", "window 40/400", "window 40/400 SIGMOID"


def voi_for(ds: Dataset, syntax: UID, photometric: str, bits_stored: int) -> VoiLut | None:
    """The VOI of a >8-bit monochrome file; None for colour and <= 8-bit data (display-ready as stored)."""
    if photometric not in ("MONOCHROME1", "MONOCHROME2") or bits_stored <= 8:
        return None
    return VoiLut(ds, syntax)


class VoiLut:
    """A file's modality and VOI transforms, resolved per frame (per-frame, then shared, then top level)."""

    def __init__(self, ds: Dataset, syntax: UID) -> None:
        self._base: Dataset | None = None
        self._shared: Dataset | None = None
        self._per_frame: list[Dataset] = []
        try:
            self._base = _subset(ds, _PIXEL + _MODALITY + _VOI)
            if "BitsStored" not in self._base and "BitsAllocated" in self._base:
                self._base.BitsStored = self._base.BitsAllocated  # as DicomSource reads it
            self._base.file_meta = FileMetaDataset()
            self._base.file_meta.TransferSyntaxUID = syntax  # the byte order of OW LUT data
            self._shared = _first_item(ds, "SharedFunctionalGroupsSequence")
            self._per_frame = list(ds.get("PerFrameFunctionalGroupsSequence") or [])
        except Exception:  # an unreadable header attribute: no VOI, the caller stretches the range
            self._base = None

    def frame_dataset(self, index: int) -> Dataset | None:
        """The attributes pydicom needs for frame `index`, functional groups applied; None if unreadable."""
        if self._base is None:
            return None
        view = Dataset()
        view.file_meta = self._base.file_meta
        for element in self._base:
            view.add(copy.copy(element))  # pydicom assigns to some attributes: never to the header's
        per_frame = self._per_frame[index] if index < len(self._per_frame) else None
        for group in (self._shared, per_frame):
            if group is not None:
                _override(view, group)
        return view

    def to_grey(self, samples: np.ndarray, index: int) -> np.ndarray | None:
        """Frame `index`'s samples through its Modality and VOI LUTs as (H, W) uint8, before any
        MONOCHROME1 inversion; None when the file specifies no usable VOI (or applying it fails)."""
        try:
            view = self.frame_dataset(index)
            voi = choose_voi(view) if view is not None and samples.ndim == 2 else None
            if voi is None:
                return None
            values = apply_modality_lut(samples, view)
            values = apply_voi(values, view) if voi.kind == "lut" else apply_windowing(values, view)
            return to_byte(np.asarray(values), voi.span)
        except MemoryError:
            raise
        except Exception:
            return None

    def describe(self) -> str:
        """What frame 0 gets, for info(): the chosen VOI's label, or 'min-max'."""
        try:
            view = self.frame_dataset(0)
            voi = choose_voi(view) if view is not None else None
        except Exception:
            voi = None
        return voi.label if voi is not None else "min-max"


def choose_voi(view: Dataset) -> Voi | None:
    """The VOI to apply to a frame described by `view`, or None when it has no usable one.

    As pydicom's apply_voi_lut, a VOI LUT Sequence wins over a window; a broken LUT falls back to the
    window. pydicom maps a window onto the modality output range (from Bits Stored, Pixel Representation,
    the rescale or the Modality LUT depth): its images of -inf and +inf are that range, for any function.
    """
    lut = _lut(view)
    if lut is not None:
        entries, bits = lut
        return Voi("lut", (0.0, float((1 << bits) - 1)), f"VOI LUT ({entries} entries, {bits} bits)")
    window = _window(view)
    if window is None:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        low, high = (float(v) for v in apply_windowing(np.array([-np.inf, np.inf]), view))
    if not (math.isfinite(low) and math.isfinite(high)) or low == high:
        return None
    center, width, function = window
    label = f"window {center:g}/{width:g}" + ("" if function == "LINEAR" else f" {function}")
    return Voi("window", (low, high), label)


def to_byte(values: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    """Map the VOI output range `span` (low -> 0, high -> 255) linearly onto uint8, rounding half up."""
    low, high = span
    scaled = (values.astype(np.float64) - low) * (255.0 / (high - low))
    if not np.isfinite(scaled).all():
        raise ValueError("VOI output is not finite")
    return np.ascontiguousarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8))


def _override(view: Dataset, group: Dataset) -> None:
    """A functional group's Pixel Value Transformation / Frame VOI LUT replaces the attributes it covers."""
    for sequence, keywords in _GROUPS:
        item = _first_item(group, sequence)
        if item is None:
            continue
        for keyword in keywords:
            if keyword in view:
                del view[keyword]
        for element in _subset(item, keywords):
            view.add(copy.copy(element))


def _window(view: Dataset) -> tuple[float, float, str] | None:
    """The first (center, width, function) when they are numbers pydicom accepts, else None."""
    try:
        center, width = _first_number(view.WindowCenter), _first_number(view.WindowWidth)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        return None
    function = str(view.get("VOILUTFunction", "LINEAR")).strip().upper()
    if function not in _FUNCTIONS or not (math.isfinite(center) and math.isfinite(width)):
        return None
    if width <= 0 or (function == "LINEAR" and width < 1):  # PS3.3 C.11.2.1.2.1 and C.11.2.1.3
        return None
    return center, width, function


def _lut(view: Dataset) -> tuple[int, int] | None:
    """(entries, bits per entry) of the first VOI LUT when its descriptor and data agree, else None."""
    try:
        item = view.VOILUTSequence[0]
        entries, _first, bits = (int(v) for v in item.LUTDescriptor)
        data = item["LUTData"]
        count = len(data.value) // 2 if isinstance(data.value, bytes) else data.VM
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        return None
    entries = entries or 65536  # 0 means 2**16 entries
    return (entries, bits) if bits in _LUT_BITS and count == entries else None


def _first_number(value: object) -> float:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0]  # several windows: the first is the default view
    return float(value)  # type: ignore[arg-type]


def _subset(ds: Dataset, keywords: tuple[str, ...]) -> Dataset:
    """The non-empty elements of `keywords` in `ds` (an empty value counts as absent, as for pydicom)."""
    subset = Dataset()
    for keyword in keywords:
        if keyword in ds and not ds[keyword].is_empty:
            subset.add(ds[keyword])
    return subset


def _first_item(ds: Dataset, keyword: str) -> Dataset | None:
    sequence = ds.get(keyword)
    return sequence[0] if sequence else None
