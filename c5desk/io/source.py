"""Source: what open_source returns for any path -- a lazily decoded, indexable sequence of Frames."""

from __future__ import annotations

import threading
import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from c5desk.errors import ReadError
from c5desk.io.frame import Frame
from c5desk.io.limits import FRAME_CACHE_BYTES

# Enough for stepping back and forth in a cine without holding a whole multi-frame file in memory;
# fewer when frames are large (FRAME_CACHE_BYTES), but always the newest.
FRAME_CACHE_SIZE = 4


class Source(ABC):
    """Frames of one file, decoded only when asked for (frame(i) decodes frame i alone).

    Returned frames are cached in a small LRU and shared, so their arrays are read-only: copy before
    editing. Safe to use from several threads (decoding is serialised by a lock).
    """

    kind: str = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self._cache: OrderedDict[int, Frame] = OrderedDict()
        self._lock = threading.RLock()

    @abstractmethod
    def __len__(self) -> int:
        """Number of frames (at least 1 for any source that opened)."""

    @abstractmethod
    def _decode(self, index: int) -> Frame:
        """Decode frame `index` (already range-checked); may raise anything, converted to ReadError."""

    @abstractmethod
    def _describe(self) -> dict[str, Any]:
        """Format-specific part of info()."""

    def frame(self, index: int) -> Frame:
        """Frame `index` (negative counts from the end).

        IndexError when out of range; ReadError when the frame cannot be decoded.
        """
        count = len(self)
        if not -count <= index < count:
            raise IndexError(f"{self.name}: frame {index} out of range (it has {count} frames)")
        index %= count
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
            frame = self._decode_guarded(index)
            self._cache[index] = frame
            while len(self._cache) > 1 and (
                len(self._cache) > FRAME_CACHE_SIZE or _cache_bytes(self._cache) > FRAME_CACHE_BYTES
            ):
                self._cache.popitem(last=False)
            return frame

    def _decode_guarded(self, index: int) -> Frame:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # decoder warnings would clutter the one-line error contract
                frame = self._decode(index)
        except ReadError:
            raise
        except MemoryError as exc:
            raise ReadError(f"{self.name}: not enough memory to decode frame {index}") from exc
        except Exception as exc:
            raise ReadError(f"{self.name}: cannot decode frame {index}: {one_line(exc)}") from exc
        for array in (frame.pixels, frame.grey):
            array.flags.writeable = False
        return frame

    def __iter__(self) -> Iterator[Frame]:
        for index in range(len(self)):
            yield self.frame(index)

    def info(self) -> dict[str, Any]:
        """A JSON-serialisable description: frames, size, colour model, calibration, regions, metadata."""
        return {"kind": self.kind, **self._describe()}

    def close(self) -> None:
        with self._lock:
            self._cache.clear()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {len(self)} frames>"


def _cache_bytes(cache: OrderedDict[int, Frame]) -> int:
    return sum(frame.pixels.nbytes + frame.grey.nbytes for frame in cache.values())


def describe(
    format_name: str,
    frames: int,
    size: tuple[int, int],
    colour_model: str,
    display: str,
    bits_stored: int,
    metadata: dict[str, Any],
    **dicom: Any,
) -> dict[str, Any]:
    """The info() dictionary; DICOM passes transfer_syntax, mm_per_px, calibration, region, regions and
    voi (how >8-bit grey becomes 8-bit: 'window 40/400', 'VOI LUT (...)', 'min-max'; None otherwise)."""
    return {
        "format": format_name,
        "frames": frames,
        "rows": size[0],
        "cols": size[1],
        "colour_model": colour_model,
        "display": display,
        "bits_stored": bits_stored,
        "transfer_syntax": dicom.get("transfer_syntax"),
        "mm_per_px": dicom.get("mm_per_px"),
        "calibration": dicom.get("calibration"),
        "region": dicom.get("region"),
        "regions": dicom.get("regions", []),
        "voi": dicom.get("voi"),
        "metadata": metadata,
    }


def one_line(exc: BaseException) -> str:
    """An exception as one short line for a user-facing message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
