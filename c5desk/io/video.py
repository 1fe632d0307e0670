"""Video files (MP4, AVI) as frame sequences through OpenCV: sequential reads, a seek only on a jump.

The container's frame count may be wrong (or zero), so it is checked at open by reading the last frame it
claims and, failing that, by counting frames one by one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from c5desk.errors import ReadError
from c5desk.io.frame import Frame
from c5desk.io.greyscale import to_grey
from c5desk.io.ids import file_digest, source_id
from c5desk.io.limits import FrameLayout, check_decode
from c5desk.io.source import Source, describe

VIDEO_SUFFIXES = frozenset({".mp4", ".avi"})

# FFmpeg would otherwise print container errors to stderr; OpenCV reads this when the first capture opens.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

# FFmpeg when built in (always in the PyPI wheels): OpenCV's own AVI reader prints parse errors to stderr.
_BACKEND = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV logs failed opens to stderr itself; the ReadError we raise already says it."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class VideoSource(Source):
    kind = "video"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        with _quiet_opencv():
            self._capture = cv2.VideoCapture(str(path), _BACKEND)
        if not self._capture.isOpened():
            raise ReadError(f"{self.name}: video cannot be opened (unknown container or codec)")
        self._rows = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._cols = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        # Decoded as 8-bit BGR by FFmpeg, which keeps reference frames of its own.
        check_decode(self.name, FrameLayout(self._rows, self._cols, samples=3, compressed=True))
        self._fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        fourcc = int(self._capture.get(cv2.CAP_PROP_FOURCC))
        self._codec = fourcc.to_bytes(4, "little").decode("ascii", "replace").strip("\x00 ") if fourcc else ""
        self._next = 0  # the frame the capture will return on its next read
        self._frames = self._count_frames()
        if self._frames < 1:
            raise ReadError(f"{self.name}: video has no decodable frames")
        self._key: bytes | None = None

    def _count_frames(self) -> int:
        claimed = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if claimed > 0 and self._read_at(claimed - 1) is not None and not self._capture.grab():
            self._rewind()
            return claimed
        self._rewind()
        count = 0
        while self._capture.grab():
            count += 1
        self._rewind()
        return count

    def _rewind(self) -> None:
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self._next = 0

    def _read_at(self, index: int) -> np.ndarray | None:
        if index != self._next:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = self._capture.read()
        self._next = index + 1 if ok else -1  # after a failure, always seek next time
        return bgr if ok else None

    def __len__(self) -> int:
        return self._frames

    def _decode(self, index: int) -> Frame:
        bgr = self._read_at(index)
        if bgr is None:
            raise ReadError(f"{self.name}: frame {index} of {self._frames} cannot be decoded")
        pixels = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr.ndim == 3 else bgr
        if self._key is None:
            self._key = b"file-sha256:" + file_digest(self.path)
        return Frame(
            pixels=pixels,
            grey=to_grey(pixels),
            index=index,
            mm_per_px=None,
            region=None,
            source_id=source_id(self._key, index),
            meta=self._metadata(),
        )

    def _metadata(self) -> dict[str, Any]:
        return {
            "format": self.path.suffix.lstrip(".").upper(),
            "codec": self._codec,
            "fps": self._fps or None,
            "frame_time_ms": 1000.0 / self._fps if self._fps > 0 else None,
        }

    def _describe(self) -> dict[str, Any]:
        format_name = self.path.suffix.lstrip(".").upper()
        return describe(
            format_name, self._frames, (self._rows, self._cols), "rgb", "rgb", 8, self._metadata()
        )

    def close(self) -> None:
        with self._lock:
            self._capture.release()
        super().close()
