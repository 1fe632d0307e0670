"""The headless state behind the window: what is open, which frame is shown, its Document, navigation.

A session shows frames from one of two places: files (one file, or a folder walked in natural order) or
the dataset store (frames proposed by active learning). Each frame shown gets a Document, started from the
store's saved annotation or autosave when the frame is already there.

Navigation never asks about unsaved edits itself: the ReadingController (c5desk.reading.controller) checks
and asks the user first, so a script using a Session alone can still move on deliberately.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from c5desk.errors import ReadError
from c5desk.reading.document import Document, Origin

if TYPE_CHECKING:  # imported when first used: the window appears before pydicom and SQLite load
    from c5desk.io.frame import Frame
    from c5desk.io.source import Source
    from c5desk.store import Store


class Session:
    def __init__(self, store: Store | None = None) -> None:
        self.store = store
        self.path: Path | None = None  # the open file (None when showing a store frame)
        self.files: list[Path] = []  # the folder being browsed, if any
        self.file_pos = -1
        self.document: Document | None = None
        self._source: Source | None = None
        self._frame: Frame | None = None

    # ---- what is shown ---------------------------------------------------------------------------------
    @property
    def frame(self) -> Frame | None:
        return self._frame

    @property
    def frame_count(self) -> int:
        return len(self._source) if self._source is not None else (1 if self._frame is not None else 0)

    @property
    def unsaved(self) -> bool:
        return self.document is not None and self.document.dirty

    def _show(self, frame: Frame, origin: Origin) -> Frame:
        self._frame = frame
        self.document = Document.for_frame(frame, origin, self.store)
        return frame

    # ---- files -----------------------------------------------------------------------------------------
    def open(self, path: str | Path) -> Frame:
        """Open a file (its first frame) or a folder (its first file); on failure the current one stays."""
        path = Path(path)
        if path.is_dir():
            return self.open_folder(path)
        frame = self._open_file(path)
        self.files, self.file_pos = [], -1
        return frame

    def open_folder(self, folder: str | Path) -> Frame:
        from c5desk.io import iter_paths

        files = list(iter_paths([folder]))
        if not files:
            raise ReadError(f"{Path(folder).name}: no frames, DICOM or video files in this folder")
        frame = self._open_file(files[0])
        self.files, self.file_pos = files, 0
        return frame

    def open_file_at(self, position: int) -> Frame:
        """Open the file at `position` in the folder being browsed."""
        if not self.files:
            raise IndexError("no folder is open")
        position = max(0, min(position, len(self.files) - 1))
        frame = self._open_file(self.files[position])
        self.file_pos = position
        return frame

    def _open_file(self, path: Path) -> Frame:
        from c5desk.io import open_source

        source = open_source(path)
        try:
            first = source.frame(0)
        except Exception:
            source.close()
            raise
        self.close()
        self.path, self._source = path, source
        return self._show(first, Origin(path=path, frame_index=0))

    def go_to(self, index: int) -> Frame:
        """Show frame `index` of the open file (clamped to its range)."""
        if self._source is None:
            raise IndexError("no file is open")
        index = max(0, min(index, self.frame_count - 1))
        if self._frame is None or self._frame.index != index:
            self._show(self._source.frame(index), Origin(path=self.path, frame_index=index))
        return self._frame  # type: ignore[return-value]

    # ---- the dataset store -----------------------------------------------------------------------------
    def open_store(self, folder: str | Path, create: bool = True) -> Store:
        """Use the dataset store in `folder` (created when missing) for saving, autosave and suggestions."""
        from c5desk.store import Store

        store = Store.open(folder, create=create)
        if self.store is not None:
            self.store.close()
        self.store = store
        old = self.document
        if old is not None:
            old.frame_id = None  # an id in the previous store means nothing in this one
            if not old.dirty:  # the frame may have an annotation or autosave in this store: show it
                self.document = Document.for_frame(old.frame, old.origin, store)
                if old.prediction is not None:
                    self.document.set_prediction(old.prediction)
        return store

    def open_store_frame(self, frame_id: int) -> Frame:
        if self.store is None:
            raise ReadError("no dataset is open")
        frame = self.store.frame(frame_id)
        self.close()
        return self._show(frame, Origin(store_frame_id=int(frame_id)))

    def next_most_useful(self, model_version: str | None = None) -> Frame | None:
        """The unannotated store frame the model in use (`model_version`) is least sure about; None when
        every frame is annotated."""
        if self.store is None:
            raise ReadError("no dataset is open")
        current = self.document.frame_id if self.document is not None else None
        for suggestion in self.store.next_most_useful(limit=2, model_version=model_version):
            if suggestion.frame_id != current:
                return self.open_store_frame(suggestion.frame_id)
        return None

    # ---- stepping --------------------------------------------------------------------------------------
    def step(self, delta: int) -> Frame | None:
        """The next (delta=1) or previous (-1) frame: within the file, then the folder's next file, or the
        store's next frame when showing store frames. None at either end."""
        if self._source is not None:
            index = self._frame.index + delta if self._frame is not None else 0
            if 0 <= index < self.frame_count:
                return self.go_to(index)
            if self.files and 0 <= self.file_pos + delta < len(self.files):
                frame = self.open_file_at(self.file_pos + delta)
                return self.go_to(self.frame_count - 1) if delta < 0 else frame
            return None
        if self.store is not None and self.document is not None and self.document.frame_id is not None:
            ids = [record.id for record in self.store.frames()]
            position = ids.index(self.document.frame_id) + delta if self.document.frame_id in ids else -1
            if 0 <= position < len(ids):
                return self.open_store_frame(ids[position])
        return None

    def close(self) -> None:
        """Close the open file (the store stays open)."""
        if self._source is not None:
            self._source.close()
        self.path, self._source, self._frame, self.document = None, None, None, None

    def shutdown(self) -> None:
        self.close()
        if self.store is not None:
            self.store.close()
            self.store = None
