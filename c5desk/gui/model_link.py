"""The window's link to the model: loads it in the background, predicts opened frames, rescores edits.

All model work runs on the Worker's single thread; this object keeps the bookkeeping (which document
asked, whether a rescore is already running) on the GUI thread and reports through signals.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from c5desk.document import Document, score_mask
from c5desk.gui.worker import Worker, load_predictor
from c5desk.measure import measure_mask

NO_MODEL_HINT = "No trained model — outlines and scores are unavailable (Model → Choose model bundle…)"


class ModelLink(QtCore.QObject):
    status = QtCore.Signal(str, str, str)  # text, kind (loading/ok/test/none/error), device
    predicted = QtCore.Signal(object)  # the Document that received the model's output
    rescored = QtCore.Signal(object)  # the Document whose score was updated
    failed = QtCore.Signal(str, str)  # title, one-line message

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = Worker(self)
        self.worker.done.connect(self._done)
        self.worker.failed.connect(self._failed)
        self.predictor = None
        self.bundle: Path | None = None
        self.loading = False
        self.note = ""  # e.g. the visible GPU → CPU fallback
        self._waiting: Document | None = None  # asked for a prediction while the model was loading
        self._rescoring: set[int] = set()

    @property
    def version(self) -> str | None:
        return self.predictor.version if self.predictor is not None else None

    def load(self, bundle: Path | None, device: str = "auto", backend: str | None = None) -> None:
        """Load `bundle` (None: the default trained bundle) in the background."""
        self.loading = True
        self.status.emit("Loading model…", "loading", "—")
        self.worker.submit("load", bundle, load_predictor, bundle, device, backend)

    def predict(self, document: Document) -> None:
        if self.loading:
            self._waiting = document
        elif self.predictor is not None:
            self.worker.submit("predict", document, self.predictor.predict, document.frame)

    def rescore(self, document: Document) -> None:
        """Score the document's current mask; at most one rescore per document runs at a time."""
        if id(document) in self._rescoring:
            return  # the running one re-checks the version when it returns
        request = document.rescore_request()
        if request is None:
            return
        version, frame, mask = request
        self._rescoring.add(id(document))
        self.worker.submit("rescore", (document, version), score_mask, self.predictor, frame, mask)

    def shutdown(self) -> None:
        self.worker.shutdown()

    # ---- results ---------------------------------------------------------------------------------------
    def _done(self, kind: str, tag: object, result: object) -> None:
        if kind == "load":
            self._loaded(result)  # type: ignore[arg-type]
        elif kind == "predict":
            needs_rescore = tag.set_prediction(result)  # type: ignore[attr-defined]
            self.predicted.emit(tag)
            if needs_rescore:
                self.rescore(tag)  # type: ignore[arg-type]
        elif kind == "rescore":
            document, version = tag  # type: ignore[misc]
            self._rescoring.discard(id(document))
            document.apply_rescore(version, *result)  # type: ignore[misc]
            self.rescored.emit(document)
            self.rescore(document)  # edits made meanwhile

    def _loaded(self, result: tuple) -> None:
        self.predictor, self.note, self.bundle = result  # the folder actually loaded (default resolved)
        self.loading = False
        version = self.predictor.version
        if version.startswith("random-"):
            text, kind = f"TEST MODEL with random weights ({version}) — not a diagnosis", "test"
        else:
            text, kind = f"Model {version}", "ok"
        if self.note:
            text += f"\n{self.note}"
        self.status.emit(text, kind, self.predictor.device)
        self._flush_waiting()

    def _failed(self, kind: str, tag: object, message: str) -> None:
        if kind == "load":
            self.predictor, self.loading = None, False
            no_model = "no trained model" in message
            self.status.emit(NO_MODEL_HINT if no_model else f"Model not loaded: {message}",
                             "none" if no_model else "error", "—")  # fmt: skip
            if not no_model:
                self.failed.emit("Cannot load the model", message)
            self._waiting = None
        elif kind == "predict":
            self.failed.emit("Inference failed", message)
        elif kind == "rescore":
            document, version = tag  # type: ignore[misc]
            self._rescoring.discard(id(document))
            document.apply_rescore(version, None, None, measure_mask(document.mask, document.frame.mm_per_px))
            self.rescored.emit(document)
            self.failed.emit("Rescoring failed", message)
            self.rescore(document)  # only when edits were made meanwhile

    def _flush_waiting(self) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self.predict(waiting)
