"""The headless state behind the window: what is open, which frame is shown, its Document, navigation.

A session shows frames from one of two places: files (one file, or a folder walked in natural order) or
the dataset store (frames proposed by active learning). Each frame shown gets a Document, started from the
store's saved annotation or autosave when the frame is already there. "Next most useful" first finishes
what is open (the clip's and the folder's unannotated frames), then follows the store's suggestions.

Navigation never asks about unsaved edits itself: the ReadingController (c5desk.reading.controller) checks
and asks the user first, so a script using a Session alone can still move on deliberately.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from c5desk.errors import C5Error, ReadError
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
        from c5desk.reading.calibration import with_user_calibration  # the scale a user set, if any

        frame = with_user_calibration(frame, self.store)
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
        case = self.store.frame_record(frame_id).case
        self.close()
        return self._show(frame, Origin(store_frame_id=int(frame_id), case=case))

    def next_most_useful(self, model_version: str | None = None) -> Frame | None:
        """The next frame worth annotating: the open clip's next unannotated frame, then the open folder's
        next file with one, then the unannotated store frame the model in use (`model_version`) is least
        sure about. None when there is none (`search_scope` names what was searched)."""
        if self.store is None:
            raise ReadError("no dataset is open")
        annotated = annotated_sources(self.store)
        frame = self._next_in_clip(annotated) or self._next_in_folder(annotated)
        if frame is not None:
            return frame
        current = self.document.frame_id if self.document is not None else None
        for suggestion in self.store.next_most_useful(limit=2, model_version=model_version):
            if suggestion.frame_id != current:
                return self.open_store_frame(suggestion.frame_id)
        return None

    def search_scope(self) -> str | None:
        """What next_most_useful searches before the store: "this folder and clip", "this clip"... or None."""
        if self._source is None:
            return None  # a store frame: only the store's suggestions
        searched = (("folder", len(self.files) > 1), ("clip", self.frame_count > 1))
        parts = [name for name, more in searched if more]
        return "this " + " and ".join(parts) if parts else "this file"

    def _next_in_clip(self, annotated: set[str]) -> Frame | None:
        """The open clip's next frame with no saved annotation (after the shown one, then from the start)."""
        if self._source is None or self._frame is None:
            return None
        count, shown = self.frame_count, self._frame.index
        index = _unannotated(self._source, [*range(shown + 1, count), *range(shown)], annotated)
        return self.go_to(index) if index is not None else None

    def _next_in_folder(self, annotated: set[str]) -> Frame | None:
        """The folder's next file (after the open one, then from the first) with an unannotated frame."""
        count = len(self.files)
        for position in [*range(self.file_pos + 1, count), *range(max(self.file_pos, 0))]:
            index = _first_unannotated(self.files[position], annotated)
            if index is not None:
                frame = self.open_file_at(position)
                return self.go_to(index) if index else frame
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


def annotated_sources(store: Store) -> set[str]:
    """The source ids of the store's frames that have a saved annotation."""
    annotated = {annotation.frame_id for annotation in store.annotations()}
    return {record.source_id for record in store.frames() if record.id in annotated}


def _first_unannotated(path: Path, annotated: set[str]) -> int | None:
    """The index of the file's first frame without a saved annotation; None when all have one (or the file
    cannot be read: it is skipped, as the folder's walk skips it)."""
    from c5desk.io import open_source

    try:
        with open_source(path) as source:
            return _unannotated(source, range(len(source)), annotated)
    except (C5Error, OSError):
        return None


def _unannotated(source: Source, indices: Iterable[int], annotated: set[str]) -> int | None:
    """The first of `indices` whose frame has no saved annotation (a frame that cannot be decoded is
    skipped). Frames are decoded one at a time and the search stops at the first hit: usually the next."""
    for index in indices:
        try:
            if source.frame(index).source_id not in annotated:
                return index
        except C5Error:
            continue
    return None
