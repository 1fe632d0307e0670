"""The cine's per-frame score: a slider that seeks where it is clicked, a strip under it painting P(malignant)
per scored frame, and the scorer that fills the strip on the model's worker thread.

What is scored is kept headless (c5desk.reading.clip_scores.ClipScores); this module only paints it and runs
the model. The scorer shares the ModelLink's single worker thread (the Predictor is not thread-safe), one
frame per job, so a frame the user opens meanwhile is predicted between two frames of "Score all frames".
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.model_link import ModelLink
from c5desk.reading.clip_scores import ClipScores
from c5desk.reading.document import Document

log = logging.getLogger(__name__)
BENIGN, MALIGNANT = QtGui.QColor("#2e8b57"), QtGui.QColor("#c0392b")
Style = QtWidgets.QStyle


class SeekSlider(QtWidgets.QSlider):
    """A horizontal slider whose groove, clicked, moves the handle to the click (not a page of 10 frames);
    the press then drags the handle as usual."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(QtCore.Qt.Orientation.Horizontal, parent)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() == QtCore.Qt.MouseButton.LeftButton and self.maximum() > self.minimum():
            _groove, handle = self._rects()
            if not handle.contains(event.position().toPoint()):
                self.setValue(self.value_at(event.position().x()))
        super().mousePressEvent(event)  # on the handle now: the press starts a drag from here

    def value_at(self, x: float) -> int:
        """The value whose handle is centred at widget position x."""
        groove, handle = self._rects()
        span = max(1, groove.width() - handle.width())
        position = round(x - groove.x() - handle.width() / 2)
        return Style.sliderValueFromPosition(self.minimum(), self.maximum(), position, span)

    def _rects(self) -> tuple[QtCore.QRect, QtCore.QRect]:
        """The groove and the handle, as the style draws them."""
        option = QtWidgets.QStyleOptionSlider()
        self.initStyleOption(option)
        control, style = Style.ComplexControl.CC_Slider, self.style()
        groove = style.subControlRect(control, option, Style.SubControl.SC_SliderGroove, self)
        return groove, style.subControlRect(control, option, Style.SubControl.SC_SliderHandle, self)


def p_colour(p: float) -> QtGui.QColor:
    """Green (0) through amber to red (1): the score bar's colours, graded."""
    t = min(1.0, max(0.0, p))
    mix = [round(a + (b - a) * t) for a, b in zip(BENIGN.getRgb()[:3], MALIGNANT.getRgb()[:3], strict=True)]
    return QtGui.QColor(*mix)


class CineStrip(QtWidgets.QWidget):
    """One tick per scored frame, coloured by its P(malignant) (taller when higher); the shown frame marked.
    A click seeks to the frame under it."""

    seek = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.scores: dict[int, float] = {}
        self.count, self.current = 0, -1
        self.setFixedHeight(16)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        self.setToolTip("P(malignant) per scored frame (green benign … red malignant); click to go there")

    def set_data(self, scores: dict[int, float], count: int, current: int) -> None:
        self.scores, self.count, self.current = dict(scores), count, current
        self.update()

    def x_of(self, index: int) -> float:
        """Centre of frame `index`'s slot (the frames share the width equally)."""
        return (index + 0.5) * self.width() / max(1, self.count)

    def index_at(self, x: float) -> int:
        return max(0, min(self.count - 1, int(x * self.count / max(1, self.width()))))

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        painter = QtGui.QPainter(self)
        painter.fillRect(self.rect(), QtGui.QColor("#2a2b2f"))
        slot = self.width() / max(1, self.count)
        width, height = max(1.0, slot - (1 if slot > 3 else 0)), self.height()
        for index, p in self.scores.items():
            tall = height * (0.35 + 0.65 * min(1.0, max(0.0, p)))
            rect = QtCore.QRectF(self.x_of(index) - width / 2, height - tall, width, tall)
            painter.fillRect(rect, p_colour(p))
        if 0 <= self.current < self.count:
            painter.setPen(QtGui.QPen(QtGui.QColor("#ffffff"), 1))
            x = self.x_of(self.current)
            painter.drawLine(QtCore.QPointF(x, 0), QtCore.QPointF(x, height))
        painter.end()

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() == QtCore.Qt.MouseButton.LeftButton and self.count > 1:
            self.seek.emit(self.index_at(event.position().x()))


class ClipScorer(QtCore.QObject):
    """Scores clip frames on the model's worker: the frame shown during playback (one at a time: while one
    runs, later frames are not queued) and, on request, every frame of a clip (cancellable)."""

    scored = QtCore.Signal(object)  # the Document that got its prediction during playback
    progress = QtCore.Signal(int, int)  # frames scored, of total, while scoring a whole clip
    finished = QtCore.Signal(str)  # scoring a whole clip ended: a one-line summary

    def __init__(self, link: ModelLink, scores: ClipScores, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.link, self.scores = link, scores
        self.shown_busy = False  # a playback frame is being predicted
        self.clip: str | None = None  # the clip "Score all frames" works on
        self._source = None
        self._todo: list[int] = []
        self._total = 0
        self._in_flight = False

    @property
    def ready(self) -> bool:
        return self.link.predictor is not None and not self.link.loading and not self.link.closed

    # ---- the frame shown during playback ---------------------------------------------------------------
    def score_shown(self, document: Document, clip: str) -> bool:
        """Predict the shown frame unless one is running or it is scored already; True when started."""
        index = document.frame.index
        if self.shown_busy or not self.ready or self.scores.get(clip, index) is not None:
            return False
        job = partial(self.link.predictor.predict, document.frame)
        self.shown_busy = self.link.worker.submit(job, partial(self._shown_done, document, clip),
                                                  self._shown_failed)  # fmt: skip
        return self.shown_busy

    def _shown_done(self, document: Document, clip: str, prediction) -> None:
        self.shown_busy = False
        self.scores.record(clip, document.frame.index, prediction.p_malignant, prediction.model_version)
        if document.prediction is None:
            document.set_prediction(prediction)
        self.scored.emit(document)

    def _shown_failed(self, message: str) -> None:
        self.shown_busy = False
        log.warning("scoring a cine frame failed: %s", message)

    # ---- every frame of a clip -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.clip is not None

    def score_all(self, path: Path, count: int) -> str | None:
        """Start scoring the frames of `path` not scored yet; a one-line reason when it cannot start."""
        if not self.ready:
            return "No model loaded to score the clip with"
        self.cancel()
        clip = str(path)
        todo = self.scores.missing(clip, count)
        if not todo:
            return "Every frame of this clip is scored already"
        from c5desk.io import open_source

        try:  # its own reader: the window's keeps serving the frames on screen
            self._source = open_source(path)
        except C5Error as exc:
            return str(exc)
        self.clip, self._todo, self._total = clip, todo, len(todo)
        self.progress.emit(0, self._total)
        self._next()
        return None

    def cancel(self) -> None:
        """Stop scoring the clip (a frame already being predicted still lands in the scores)."""
        if self.clip is None:
            return
        done = self._total - len(self._todo) - (1 if self._in_flight else 0)
        self._todo, self.clip = [], None
        self._close_source()  # waits for a decode in progress (the reader's lock), never for the model
        self.finished.emit(f"Scoring stopped after {done} of {self._total} frames")

    def _next(self) -> None:
        if self.clip is not None and self._todo and self.ready:
            index, clip = self._todo.pop(0), self.clip
            job = partial(_predict_frame, self.link.predictor, self._source, index)
            self._in_flight = self.link.worker.submit(
                job, partial(self._one_done, clip), partial(self._failed, clip)
            )
            if self._in_flight:
                return
        if self.clip is not None:
            self.clip = None
            self._close_source()
            self.finished.emit(f"Scored {self._total - len(self._todo)} of {self._total} frames")

    def _one_done(self, clip: str, prediction) -> None:
        self._in_flight = False
        self.scores.record(clip, prediction.frame_index, prediction.p_malignant, prediction.model_version)
        if clip == self.clip:  # not cancelled meanwhile
            self.progress.emit(self._total - len(self._todo), self._total)
            self._next()

    def _failed(self, clip: str, message: str) -> None:
        self._in_flight = False
        if clip != self.clip:
            return  # cancelled meanwhile: its reader was closed under it
        log.warning("scoring the clip failed: %s", message)
        self._todo, self.clip = [], None
        self._close_source()
        self.finished.emit(f"Scoring stopped: {message}")

    def _close_source(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None


def _predict_frame(predictor, source, index: int):
    """On the worker thread: decode frame `index` and predict it."""
    return predictor.predict(source.frame(index))
