"""ReadingController: the reading decisions, headless — open, step, save, accept, autosave, recover.

The window renders and asks; this decides. It holds the Session (what is open, which frame, its Document)
and talks to two ports the window supplies:
  - a ReadingView: renders the current document, asks "save, discard or cancel?", shows messages;
  - a ModelPort: runs the model on a document and re-scores its edited mask (the window's does it on a
    worker thread; `ImmediateModel` does it in place, for tests and scripts).
So the flow of a frame — leave the current one safely, open the next, show it with its saved annotation or
autosave, measure it and run the model — can be followed here and tested without a display.

Nothing typed or painted is dropped without asking: every move first calls `leave_current`. Failures are
messages; the current frame stays on screen.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from c5desk.errors import C5Error
from c5desk.reading.document import Document, score_mask
from c5desk.reading.session import Session

if TYPE_CHECKING:
    from c5desk.inference import Predictor
    from c5desk.io.frame import Frame
    from c5desk.store import Store

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"
log = logging.getLogger(__name__)


class ReadingView(Protocol):
    def ask_unsaved(self, description: str) -> str:
        """SAVE, DISCARD or CANCEL for the unsaved edits of `description`."""
        ...

    def show_error(self, title: str, message: str) -> None: ...

    def show_status(self, message: str, timeout_ms: int = 0) -> None: ...

    def show_document(self, fit: bool) -> None:
        """A document became current (or none): render it, its panels and the navigation."""
        ...

    def sync_navigation(self) -> None:
        """After a refused or failed move: slider and file list follow the session again."""
        ...

    def refresh(self, mask_changed: bool = False) -> None:
        """The current document's score, label or saved state changed (and its mask, when so said)."""
        ...

    def autosaves_waiting(self, count: int) -> None: ...


class ModelPort(Protocol):
    @property
    def version(self) -> str | None: ...

    def predict(self, document: Document) -> None: ...

    def rescore(self, document: Document) -> None: ...


class ImmediateModel:
    """A ModelPort that runs the model at once, on the caller's thread (None: measurements only)."""

    def __init__(self, predictor: Predictor | None) -> None:
        self.predictor = predictor

    @property
    def version(self) -> str | None:
        return self.predictor.version if self.predictor is not None else None

    def predict(self, document: Document) -> None:
        if self.predictor is not None and document.set_prediction(self.predictor.predict(document.frame)):
            document.rescore(self.predictor)

    def rescore(self, document: Document) -> None:
        request = document.rescore_request()
        if request is not None:
            version, frame, mask = request
            document.apply_rescore(version, *score_mask(self.predictor, frame, mask))


class ReadingController:
    def __init__(self, session: Session, view: ReadingView, model: ModelPort, store_folder: Path) -> None:
        self.session, self.view, self.model = session, view, model
        self.store_folder = Path(store_folder)
        self.playing = False  # during cine playback frames are shown without model work

    @property
    def document(self) -> Document | None:
        return self.session.document

    # ---- moving between frames -------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> bool:
        """Open a file or folder; a bad one gives a message and leaves the current frame on screen."""
        return self._navigate(lambda: self.session.open(path))

    def open_file_at(self, position: int) -> bool:
        if position < 0 or position == self.session.file_pos:
            return False
        return self._navigate(lambda: self.session.open_file_at(position))

    def open_store_frame(self, frame_id: int) -> bool:
        """A frame of the dataset store by id (e.g. one received from a scanner)."""
        return self._navigate(lambda: self.session.open_store_frame(frame_id))

    def go_to(self, index: int) -> bool:
        frame = self.session.frame
        if frame is None or frame.index == index or self.session.path is None:
            return False
        return self._navigate(lambda: self.session.go_to(index), fit=False)

    def step(self, delta: int) -> bool:
        return self._navigate(lambda: self.session.step(delta), fit=False)

    def next_most_useful(self) -> bool:
        """The open clip's and folder's next unannotated frame, then the store's most useful suggestion."""
        if self.ensure_store() is None:
            return False
        scope, found = self.session.search_scope(), []

        def move() -> Frame | None:
            found.append(self.session.next_most_useful(self.model.version))
            return found[-1]

        moved = self._navigate(move)
        if found == [None]:  # searched, nothing left (not: the move was cancelled or failed)
            self.view.show_status(nothing_left_message(scope))
        return moved

    def recover_autosave(self) -> bool:
        store = self.ensure_store()
        entries = store.journal_entries() if store is not None else []
        if not entries:
            self.view.show_status("No autosaved edits to recover")
            return False
        moved = self._navigate(lambda: self.session.open_store_frame(entries[0].frame_id))
        self.view.autosaves_waiting(len(store.journal_entries()))
        return moved

    def _navigate(self, move: Callable[[], Frame | None], fit: bool = True) -> bool:
        """Run `move` (a Session call) once unsaved edits are dealt with; report failures as messages."""
        if not self.leave_current():
            self.view.sync_navigation()
            return False
        self.ensure_store(quiet=True)  # so that the frame opens with its saved annotation or autosave
        try:
            frame = move()
        except (C5Error, IndexError) as exc:
            self._error("Cannot open", str(exc))
            self.view.sync_navigation()
            return False
        if frame is None:
            self.view.show_status("No more frames that way")
            return False
        self._shown(fit)
        return True

    def _shown(self, fit: bool) -> None:
        doc = self.document
        self.view.show_document(fit)
        if doc is None:
            return
        count = self.session.frame_count
        log.info("showing frame %d of %d (source %s)", doc.frame.index + 1, count, doc.frame.source_id)
        if doc.recovered_from:
            when, where = doc.recovered_from, doc.origin.describe()
            self.view.show_status(f"Recovered unsaved edits of {where}, autosaved at {when} (UTC)")
        if not self.playing:
            self.model.rescore(doc)  # measurements of a saved or recovered mask
            self.model.predict(doc)

    def leave_current(self) -> bool:
        """True when the current frame may be left: saved, or the user chose Save or Discard."""
        doc = self.document
        if doc is None or not doc.dirty:
            return True
        answer = self.view.ask_unsaved(doc.origin.describe())
        if answer == SAVE:
            return self.save()
        if answer == DISCARD:
            if self.session.store is not None:
                with contextlib.suppress(C5Error):
                    doc.discard_autosave(self.session.store)
            return True
        return False

    # ---- the dataset -----------------------------------------------------------------------------------
    def ensure_store(self, folder: Path | None = None, quiet: bool = False) -> Store | None:
        """The dataset store (opened on first use, or `folder` when given); None after a message (only in
        the status line when quiet: saving will say it again, with a dialog)."""
        if self.session.store is not None and folder is None:
            return self.session.store
        shown = self.document
        try:
            store = self.session.open_store(folder or self.store_folder)
        except C5Error as exc:
            if quiet:
                log.warning("dataset not available: %s", exc)
                self.view.show_status(f"Dataset not available: {exc}")
            else:
                self._error("Cannot open the dataset", str(exc))
            return None
        if self.document is not shown:  # reloaded from this store (its annotation, its autosave)
            self._shown(fit=False)
        waiting = len(store.journal_entries())
        self.view.autosaves_waiting(waiting)
        if waiting:
            self.view.show_status(f"{waiting} frame(s) have unsaved edits autosaved: File → Recover")
        return store

    def use_store(self, folder: Path) -> bool:
        """Save to the dataset in `folder` from now on (created when missing)."""
        if self.ensure_store(Path(folder)) is None:
            return False
        self.store_folder = Path(folder)
        return True

    # ---- the document ----------------------------------------------------------------------------------
    def edited(self, redraw: bool = False) -> None:
        """The mask changed (a stroke, an operation, undo): re-score and re-measure it. `redraw`: the view
        has not drawn the change yet (a stroke draws itself as it goes)."""
        if self.document is not None:
            self.model.rescore(self.document)
            self.view.refresh(mask_changed=redraw)

    def save(self) -> bool:
        store = self.ensure_store()
        doc = self.document
        if doc is None or store is None:
            return False
        try:
            saved = doc.save(store)
        except C5Error as exc:
            self._error("Not saved", str(exc))
            return False
        log.info("saved dataset frame %s as revision %d (%s)", saved.frame_id, saved.revision, saved.label)
        self.view.refresh()
        self.view.show_status(f"Saved {doc.origin.describe()} as revision {saved.revision} ({saved.label})")
        return True

    def accept_ai(self) -> bool:
        doc = self.document
        if doc is None or doc.prediction is None:
            self.view.show_status("No model result to accept yet")
            return False
        try:
            note = doc.accept_ai()  # the mask; the label only when the clinician has not set one
        except C5Error as exc:  # several lesions, one neither labelled nor scored yet
            self.view.show_status(str(exc))
            return False
        self.edited(redraw=True)
        saved = self.save()
        if note:  # after "Saved …": the clinician must see that the model disagrees with the kept label
            self.view.show_status(f"{note} (saved)" if saved else note)
        return saved

    def _error(self, title: str, message: str) -> None:
        log.warning("%s: %s", title, message)
        self.view.show_error(title, message)

    def autosave(self) -> bool:
        """Write unsaved edits to the dataset's journal (best effort: saving reports errors itself)."""
        doc = self.document
        if doc is None or not doc.dirty:
            return False
        store = self.ensure_store()
        with contextlib.suppress(C5Error):
            if store is not None and doc.autosave(store):
                self.view.show_status("Autosaved", 1500)
                return True
        return False


def nothing_left_message(scope: str | None) -> str:
    """What "next most useful" says when it found nothing: it names what was searched."""
    if scope is None:
        return "The dataset has no more suggestions: every frame in it is annotated"
    every = "This file is annotated" if scope == "this file" else f"Every frame of {scope} is annotated"
    return f"{every}; the dataset has no more suggestions"
