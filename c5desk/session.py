"""The headless document behind the window: which source is open and which frame is shown.

The GUI only renders what a Session holds and forwards user actions to it, so tests can drive every action
without a display.
"""

from __future__ import annotations

from pathlib import Path

from c5desk.io import open_source
from c5desk.io.frame import Frame


class Session:
    def __init__(self) -> None:
        self.path: Path | None = None
        self._source = None
        self._frame: Frame | None = None

    @property
    def frame(self) -> Frame | None:
        return self._frame

    @property
    def frame_count(self) -> int:
        return len(self._source) if self._source is not None else 0

    def open(self, path: str | Path) -> Frame:
        """Open a file and show its first frame; the previous source stays open if this one fails."""
        source = open_source(path)
        try:
            first = source.frame(0)
        except Exception:
            source.close()
            raise
        self.close()
        self.path, self._source, self._frame = Path(path), source, first
        return first

    def go_to(self, index: int) -> Frame:
        if self._source is None:
            raise IndexError("no file is open")
        index = max(0, min(index, self.frame_count - 1))
        if self._frame is None or self._frame.index != index:
            self._frame = self._source.frame(index)
        return self._frame

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        self.path, self._source, self._frame = None, None, None
