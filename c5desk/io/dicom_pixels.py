"""What a DICOM file's pixel data really holds, checked from the header and the data's layout before any
frame is decoded: the Image Pixel attributes, how many frames are present, and what decoding one costs.

Number of Frames is a claim; the pixel data is the evidence. Uncompressed data must hold frames x rows x
cols x samples x bits; encapsulated data is counted from its offset tables or, without them, its fragment
items (read header by header, never loaded). When the file is complete but holds fewer frames than it
claims, the header is wrong and the file is refused, naming both counts. When the file ends early (an
interrupted transfer) the frames that did arrive are kept: the count is clamped to them and info() says
how many were declared. Either way len(source) is a number of frames that exist.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from pydicom import uid
from pydicom.dataset import Dataset

from c5desk.errors import ReadError
from c5desk.io.dicom_header import SUPPORTED_PHOTOMETRIC, PixelElement
from c5desk.io.limits import MAX_FRAMES_PER_FILE, FrameLayout, check_decode, check_frame_count

_REQUIRED = ("Rows", "Columns", "BitsAllocated", "PhotometricInterpretation")
_ITEM, _DELIMITER = 0xFFFEE000, 0xFFFEE0DD


class _Found(NamedTuple):
    count: int  # frames (or, without an offset table, fragments) whole in the data
    truncated: bool  # the data ends before its element does: an interrupted transfer
    unit: str = "frames"


@dataclass(frozen=True)
class FrameCount:
    declared: int  # Number of Frames as the header says (1 when absent)
    present: int  # frames the pixel data holds; len(source)


def check_pixel_module(
    name: str, ds: Dataset, syntax: uid.UID, pixel: PixelElement | None, path: Path
) -> FrameCount:
    """Validate the Image Pixel attributes and the pixel data against them; the frames really present."""
    if pixel is None:
        hint = "truncated file?" if "Rows" in ds else "a report, an index or not DICOM at all?"
        raise ReadError(f"{name}: not a DICOM image, no pixel data found ({hint})")
    missing = [keyword for keyword in _REQUIRED if keyword not in ds]
    if missing:
        raise ReadError(f"{name}: DICOM image lacks required {', '.join(missing)}")
    check_decode(name, frame_layout(ds, syntax))
    declared = int(ds.get("NumberOfFrames", 1) or 1)
    if declared < 1:
        raise ReadError(f"{name}: Number of Frames is {declared}")
    photometric = str(ds.PhotometricInterpretation).strip()
    if photometric not in SUPPORTED_PHOTOMETRIC:
        raise ReadError(f"{name}: colour model {photometric!r} is not supported")
    if int(ds.get("SamplesPerPixel", 1) or 1) not in (1, 3):
        raise ReadError(f"{name}: {ds.SamplesPerPixel} samples per pixel is not supported")
    if int(ds.BitsAllocated) not in (1, 8, 16, 32, 64):
        raise ReadError(f"{name}: {ds.BitsAllocated} bits allocated is not a valid pixel size")
    if syntax.is_encapsulated and pixel.length is None:
        found = _encapsulated_frames(ds, pixel, path, declared)
    else:
        found = _native_frames(name, ds, pixel, path, declared)
    count, truncated, unit = found
    present = min(count, declared)
    if present == 0:
        raise ReadError(f"{name}: pixel data is truncated (not one whole frame is present)")
    check_frame_count(name, present)  # counting stops one past the limit, so this sees it
    if present < declared and not truncated:
        raise ReadError(f"{name}: Number of Frames is {declared} but the pixel data holds {count} {unit}")
    return FrameCount(declared, present)


def frame_layout(ds: Dataset, syntax: uid.UID) -> FrameLayout:
    """One decoded frame as the header describes it (for the decode memory limit)."""
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    photometric = str(ds.PhotometricInterpretation).strip()
    itemsize = max(1, (int(ds.BitsAllocated) + 7) // 8)
    palette = photometric == "PALETTE COLOR"
    return FrameLayout(
        rows=int(ds.Rows),
        cols=int(ds.Columns),
        samples=3 if palette else samples,
        itemsize=itemsize,
        mapped=palette or int(ds.get("BitsStored", ds.BitsAllocated) or 8) > 8,
        compressed=syntax.is_encapsulated,
    )


def _native_frames(name: str, ds: Dataset, pixel: PixelElement, path: Path, declared: int) -> _Found:
    """(whole frames present, whether the file ends before the element does) for uncompressed data."""
    if pixel.length is None:
        raise ReadError(f"{name}: uncompressed pixel data has no defined length")
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples == 3 and str(ds.PhotometricInterpretation).strip() == "YBR_FULL_422":
        samples = 2  # chroma stored at half width: Y Y Cb Cr per two pixels
    frame_bits = int(ds.Rows) * int(ds.Columns) * samples * int(ds.BitsAllocated)
    size = path.stat().st_size
    in_file = pixel.length if pixel.offset < 0 else max(0, min(pixel.length, size - pixel.offset))
    present = in_file * 8 // frame_bits
    if present == 0:  # byte counts say more than frame counts here
        expected = (declared * frame_bits + 7) // 8
        raise ReadError(f"{name}: pixel data is truncated ({in_file} of {expected} bytes)")
    return _Found(present, in_file < pixel.length)


def _encapsulated_frames(ds: Dataset, pixel: PixelElement, path: Path, declared: int) -> _Found:
    """(frames present, whether the data ends early) for encapsulated data, reading item headers only."""
    if pixel.offset < 0:  # deflated: the inflated value, whose end is the sequence's end
        value = ds[pixel.keyword].value
        return _count_items(_Items(io.BytesIO(value), 0, len(value), complete_at_end=True), ds, declared)
    with path.open("rb") as stream:
        items = _Items(stream, pixel.offset, path.stat().st_size, complete_at_end=False)
        return _count_items(items, ds, declared)


def _tag(head: bytes) -> int:
    return int.from_bytes(head[:2], "little") << 16 | int.from_bytes(head[2:4], "little")


class _Items:
    """Item headers of an encapsulated sequence (always little endian), never reading an item's value."""

    def __init__(self, stream: BinaryIO, start: int, end: int, *, complete_at_end: bool) -> None:
        self.stream, self.start, self.end, self.complete_at_end = stream, start, end, complete_at_end

    def item_length(self, at: int) -> int | None:
        """The length of the item starting at `at`; None unless a whole item lies there."""
        if at + 8 > self.end:
            return None
        self.stream.seek(at)
        head = self.stream.read(8)
        if len(head) < 8 or _tag(head) != _ITEM:
            return None
        length = int.from_bytes(head[4:8], "little")
        return None if length == 0xFFFFFFFF or at + 8 + length > self.end else length

    def walk(self, at: int, cap: int) -> tuple[int, bool]:
        """(whole items from `at`, at most `cap`; whether the sequence ends properly after them)."""
        count = 0
        while count < cap:
            length = self.item_length(at)
            if length is None:
                return count, self._ends_at(at)
            count, at = count + 1, at + 8 + length
        return count, True  # enough seen: what follows cannot lower the count

    def _ends_at(self, at: int) -> bool:
        if at >= self.end:
            return self.complete_at_end
        self.stream.seek(at)
        return _tag(self.stream.read(4).ljust(4, b"\0")) == _DELIMITER


def _count_items(items: _Items, ds: Dataset, declared: int) -> _Found:
    """Frames present per the Extended or Basic Offset Table, else one per fragment (pydicom's rule)."""
    cap = min(declared, MAX_FRAMES_PER_FILE) + 1  # never more entries than could matter
    table = items.item_length(items.start)  # the Basic Offset Table item
    if table is None:
        return _Found(0, True)
    first = items.start + 8 + table
    if ds.get("ExtendedOffsetTable"):
        return _extended_table(items, ds, first, cap)
    if table:
        return _basic_table(items, first, table, cap)
    # No table: a single fragment is one frame, otherwise one fragment per frame or more.
    found, ends_properly = items.walk(first, cap)
    if declared == 1 and not ends_properly:  # every fragment belongs to the one frame: it is cut short
        return _Found(0, True, "fragments")
    return _Found(found, not ends_properly, "fragments")


def _basic_table(items: _Items, first: int, table: int, cap: int) -> _Found:
    """Frames listed in the Basic Offset Table whose data is whole in the file."""
    items.stream.seek(items.start + 8)
    starts = first + np.frombuffer(items.stream.read(min(table, 4 * cap) // 4 * 4), "<u4").astype(np.int64)
    total = table // 4
    if len(starts) == total:  # the last frame is whole when its fragments end the sequence
        _fragments, last_whole = items.walk(int(starts[-1]), MAX_FRAMES_PER_FILE)
        if last_whole:
            return _Found(total, False)
    if len(starts) < total:  # more entries than could matter: count those the data reaches
        return _Found(int(np.count_nonzero(starts + 8 <= items.end)), True)
    # The others are whole when the next frame starts within the data.
    return _Found(int(np.count_nonzero(starts[1:] <= items.end)), True)


def _extended_table(items: _Items, ds: Dataset, first: int, cap: int) -> _Found:
    """Frames of the Extended Offset Table (one fragment each) that lie whole in the file."""
    offsets = _u64(ds.ExtendedOffsetTable, cap).astype(np.float64)  # float: no overflow on hostile values
    lengths = _u64(ds.get("ExtendedOffsetTableLengths") or b"", cap)
    count = min(len(offsets), len(lengths))
    ends = first + offsets[:count] + 8 + lengths[:count].astype(np.float64)
    whole = int(np.count_nonzero(ends <= items.end))
    return _Found(whole, whole < count)


def _u64(data: bytes, cap: int) -> np.ndarray:
    usable = min(len(data), 8 * cap) // 8 * 8
    return np.frombuffer(bytes(data[:usable]), "<u8")
