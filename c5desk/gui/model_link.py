"""The window's link to the model (a ModelPort of c5desk.reading.controller): loads it in the background,
predicts opened frames, rescores edits, refines the mask with prompts (box, click, pick).

All model work runs on the Worker's single thread; this object keeps the bookkeeping (which document
asked, whether a rescore is already running) on the GUI thread and reports through signals. Which bundle
to load when none is named is the model catalogue's choice (c5desk.model.catalog). Once shut down (its
window closed) it starts nothing more and reports nothing: a result that arrives late is dropped.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6 import QtCore

from c5desk.errors import C5Error
from c5desk.gui.worker import Worker
from c5desk.reading.document import Document, score_mask

log = logging.getLogger(__name__)
NO_MODEL_HINT = "No trained model — outlines and scores are unavailable (Model → Choose model bundle…)"
PREDICT_DELAY_MS = 120  # stepping quickly through frames runs the model only on the one the user stops at


def load_predictor(bundle: Path | None, device: str, backend: str) -> tuple[object, Path]:
    """(predictor, bundle folder) for `bundle` (None: the catalogue's active model), on the worker thread."""
    from c5desk.inference import make_predictor
    from c5desk.model.catalog import default_bundle

    folder = Path(bundle) if bundle else default_bundle()
    return make_predictor(folder, device=device, backend=backend), folder


class ModelLink(QtCore.QObject):
    status = QtCore.Signal(str, str, str)  # text, kind (loading/ok/test/none/error), device
    predicted = QtCore.Signal(object)  # the Document that received the model's output
    rescored = QtCore.Signal(object)  # the Document whose score was updated
    failed = QtCore.Signal(str, str)  # title, one-line message
    prompted = QtCore.Signal(object)  # the Document whose mask a prompt changed
    note = QtCore.Signal(str)  # a one-line status, e.g. why a prompt did nothing

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = Worker(self)
        self.predictor = None
        self.bundle: Path | None = None
        self.loading = False
        self.closed = False
        self._waiting: Document | None = None  # the document to predict once the model is there
        self._rescoring: set[int] = set()
        self._prompts: dict[int, list[tuple]] = {}  # per document: tool uses waiting for the running one
        self._prompting: set[int] = set()
        self._predict_timer = QtCore.QTimer(self, singleShot=True, interval=PREDICT_DELAY_MS)
        self._predict_timer.timeout.connect(self._predict_waiting)

    @property
    def version(self) -> str | None:
        return self.predictor.version if self.predictor is not None else None

    def load(self, bundle: Path | None, device: str = "auto", backend: str = "auto") -> None:
        """Load `bundle` (None: the catalogue's active model) in the background."""
        if self.closed:
            return
        self.loading = True
        self.status.emit("Loading model…", "loading", "—")
        job = partial(load_predictor, bundle, device, backend)
        self.worker.submit(job, self._loaded, self._load_failed)

    def predict(self, document: Document) -> None:
        """Run the model on `document` shortly (a later request replaces this one), or once it is loaded."""
        if self.closed:
            return
        self._waiting = document
        if not self.loading and self.predictor is not None:
            self._predict_timer.start()

    def rescore(self, document: Document) -> None:
        """Score the document's current mask; at most one rescore per document runs at a time."""
        if self.closed or id(document) in self._rescoring:
            return  # the running one re-checks the version when it returns
        request = document.rescore_request()
        if request is None:
            return
        version, frame, mask = request
        self._rescoring.add(id(document))
        job = partial(score_mask, self.predictor, frame, mask)
        self.worker.submit(
            job, partial(self._rescored, document, version), partial(self._rescore_failed, document, version)
        )

    def prompt(
        self, document: Document, tool: str, point: tuple[int, int] | None = None, positive: bool = True,
        box: tuple[int, int, int, int] | None = None,
    ) -> None:  # fmt: skip
        """Refine the document's mask with a tool's prompt on the worker. Clicks made while one runs wait
        their turn: each next prompt is made from the mask the previous one left."""
        if self.closed or document is None:
            return
        if self.predictor is None or document.prediction is None:
            self.note.emit("Prompts need the model's result for this frame: wait for it, or load a model")
            return
        self._prompts.setdefault(id(document), []).append((tool, point, positive, box))
        if id(document) not in self._prompting:
            self._next_prompt(document)

    def connect_prompts(self, window) -> None:
        """Wire a MainWindow's prompt tools to this link (see wire_prompts)."""
        wire_prompts(window)

    def _next_prompt(self, document: Document) -> None:
        waiting = self._prompts.get(id(document))
        if not waiting or self.closed:
            self._prompts.pop(id(document), None)
            return
        tool, point, positive, box = waiting.pop(0)
        try:
            prompt = document.prompt_for(tool, point, positive, box)
        except C5Error as exc:
            self.note.emit(str(exc))
            self._next_prompt(document)
            return
        self._prompting.add(id(document))
        job = partial(self.predictor.refine, document.frame, prompt, document.prediction)
        done = partial(self._prompt_done, document, tool, prompt, document.editor.version)
        self.worker.submit(job, done, partial(self._prompt_failed, document))

    def shutdown(self) -> None:
        """The window is closing: start nothing more, drop what is queued, wait (bounded) for the running job,
        whose result is then dropped too. Once: a window can be closed twice."""
        if self.closed:
            return
        self.closed = True
        self._waiting = None
        self._predict_timer.stop()
        if not self.worker.shutdown():
            log.warning("a model job still runs after its window closed; it ends on its own, unheard")

    # ---- results, on the GUI thread --------------------------------------------------------------------
    def _predict_waiting(self) -> None:
        if self.loading or self.predictor is None:
            return  # the document keeps waiting; _loaded starts the timer again
        document, self._waiting = self._waiting, None
        if document is not None:
            job = partial(self.predictor.predict, document.frame)
            self.worker.submit(job, partial(self._predicted, document), self._predict_failed)

    def _predicted(self, document: Document, prediction: object) -> None:
        needs_rescore = document.set_prediction(prediction)
        self.predicted.emit(document)
        if needs_rescore:
            self.rescore(document)

    def _predict_failed(self, message: str) -> None:
        log.warning("inference failed: %s", message)
        self.failed.emit("Inference failed", message)

    def _rescored(self, document: Document, version: int, result: tuple) -> None:
        self._rescoring.discard(id(document))
        document.apply_rescore(version, *result)
        self.rescored.emit(document)
        self.rescore(document)  # edits made meanwhile

    def _rescore_failed(self, document: Document, version: int, message: str) -> None:
        self._rescoring.discard(id(document))
        log.warning("rescoring failed: %s", message)
        measured_only = score_mask(None, document.frame, document.mask)  # no P, still measured and described
        document.apply_rescore(version, *measured_only)
        self.rescored.emit(document)
        self.failed.emit("Rescoring failed", message)
        self.rescore(document)  # only when edits were made meanwhile

    def _prompt_done(
        self, document: Document, tool: str, prompt: object, version: int, result: object
    ) -> None:
        self._prompting.discard(id(document))
        if document.apply_prompt(tool, prompt, result, version):  # dropped when edited by hand meanwhile
            self.prompted.emit(document)
        else:
            self.note.emit(f"{tool.capitalize()}: the outline is unchanged")
        self._next_prompt(document)

    def _prompt_failed(self, document: Document, message: str) -> None:
        self._prompting.discard(id(document))
        self._prompts.pop(id(document), None)
        log.warning("prompt failed: %s", message)
        self.failed.emit("Prompt failed", message)

    def _loaded(self, result: tuple) -> None:
        self.predictor, self.bundle = result  # the folder actually loaded (the catalogue's choice resolved)
        self.loading = False
        version = self.predictor.version
        if version.startswith("random-"):
            text, kind = f"TEST MODEL with random weights ({version}) — not a diagnosis", "test"
        else:
            from c5desk.model.metrics_view import training_domains  # once a model is loaded, not at start

            domain = training_domains(self.predictor.spec.training)
            text, kind = f"Model {version}" + (f" — for {domain}" if domain else ""), "ok"
        if self.predictor.note:
            text += f"\n{self.predictor.note}"
        log.info("model %s loaded on %s via %s %s", version, self.predictor.device, self.predictor.backend,
                 self.predictor.note)  # fmt: skip
        self.status.emit(text, kind, self.predictor.device)
        if self._waiting is not None:
            self._predict_timer.start()

    def _load_failed(self, message: str) -> None:
        self.predictor, self.loading = None, False
        log.warning("model not loaded: %s", message)
        no_model = "no trained model" in message
        text = NO_MODEL_HINT if no_model else f"Model not loaded: {message}"
        self.status.emit(text, "none" if no_model else "error", "—")
        if not no_model:
            self.failed.emit("Cannot load the model", message)
        self._waiting = None


def wire_prompts(window) -> None:
    """Connect a MainWindow's canvas prompt tools to its model link and reading controller (once)."""
    if getattr(window, "_prompts_wired", False):
        return
    window._prompts_wired = True
    canvas, link, reading = window.canvas, window.link, window.reading
    canvas.prompted.connect(
        lambda tool, point, positive, box: link.prompt(canvas.document, tool, point, positive, box)
    )
    link.prompted.connect(
        lambda document: reading.edited(redraw=True) if document is reading.document else None
    )
    link.note.connect(window.show_status)
