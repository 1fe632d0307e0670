"""The score panel: P(malignant) as a bar with its uncertainty, measurements, the model and the device.

The model line is always visible, and says plainly when there is no trained model (the app never scores
with untrained weights) or when a test model with random weights is loaded. The calibration badge warns of
an uncalibrated frame (px) and names a scale the user set from the depth ruler ("user calibration"); the
scanner's own calibration needs no badge. The scope badge says when the frame is not what the model knows
(colour Doppler, not an ultrasound image: c5desk.inference.scope; unlike the model's training frames, e.g.
another organ: c5desk.inference.familiarity); the score is still shown beside it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.reading.calibration import is_user_calibrated
from c5desk.reading.document import Score

if TYPE_CHECKING:  # the readers (pydicom) load later, off the window's start-up path
    from c5desk.io.frame import Frame

BADGE = "QLabel {{ background: {bg}; color: {fg}; border-radius: 3px; padding: 1px 6px; font-weight: bold; }}"
WARN = BADGE.format(bg="#b26a00", fg="#ffffff")
ERROR = BADGE.format(bg="#a32020", fg="#ffffff")
INFO = BADGE.format(bg="#2f5d8a", fg="#ffffff")


class ScoreBar(QtWidgets.QWidget):
    """A 0-1 bar filled to P(malignant), a band for its flip-TTA spread and a tick at 0.5."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.p: float | None = None
        self.spread: float | None = None
        self.pending = False
        self.setMinimumHeight(26)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)

    def set_value(self, p: float | None, spread: float | None, pending: bool) -> None:
        self.p, self.spread, self.pending = p, spread, pending
        self.update()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        painter = QtGui.QPainter(self)
        rect = self.rect().adjusted(1, 1, -1, -1)
        painter.fillRect(rect, QtGui.QColor("#2a2b2f"))
        if self.p is not None:
            fill = QtCore.QRectF(rect.left(), rect.top(), rect.width() * self.p, rect.height())
            colour = QtGui.QColor("#c0392b" if self.p >= 0.5 else "#2e8b57")
            colour.setAlpha(110 if self.pending else 255)
            painter.fillRect(fill, colour)
            if self.spread:
                half = rect.width() * self.spread / 2
                centre = rect.left() + rect.width() * self.p
                band = QtCore.QRectF(centre - half, rect.top() + 4, 2 * half, rect.height() - 8)
                painter.fillRect(band, QtGui.QColor(255, 255, 255, 90))
        painter.setPen(QtGui.QPen(QtGui.QColor("#888888"), 1, QtCore.Qt.PenStyle.DashLine))
        middle = rect.left() + rect.width() / 2
        painter.drawLine(QtCore.QPointF(middle, rect.top()), QtCore.QPointF(middle, rect.bottom()))
        painter.setPen(QtGui.QColor("#ffffff"))
        text = "—" if self.p is None else f"{self.p:.2f}" + (" …" if self.pending else "")
        painter.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, text)
        painter.end()


class TermsLine(QtWidgets.QLabel):
    """The lesion's BI-RADS terms on one line (italic: suggested; bold: a clinician's), cut with "…" when the
    column is narrow, whole in the tooltip: one line, so the column still fits 1280×720."""

    def __init__(self) -> None:
        super().__init__("")
        self.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self._terms: list[tuple[str, str]] = []

    def show_terms(self, descriptors: dict[str, dict[str, str]]) -> None:
        self._terms = [(entry["value"], entry["source"]) for entry in descriptors.values()]
        plain = " · ".join(value for value, _source in self._terms)
        legend = "italic = suggested by c5desk, bold = set by a clinician"
        self.setToolTip(f"BI-RADS: {plain}\n{legend}" if plain else "")
        self._render()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._render()

    def _render(self) -> None:
        if not self._terms:
            self.setText("")
            return
        metrics, room = self.fontMetrics(), max(self.width() - 8, 40)
        shown, used = [], metrics.horizontalAdvance("BI-RADS: ")
        for value, source in self._terms:
            used += metrics.horizontalAdvance(value + " · ")
            if used > room and shown:
                shown.append("…")
                break
            tag = "b" if source == "clinician" else "i"
            shown.append(f"<{tag}>{html.escape(value)}</{tag}>")
        self.setText("BI-RADS: " + " · ".join(shown))


class ScorePanel(QtWidgets.QGroupBox):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Score", parent)
        layout = QtWidgets.QVBoxLayout(self)
        self.model_badge = QtWidgets.QLabel("Loading model…")
        self.model_badge.setWordWrap(True)
        self.model_badge.setStyleSheet(INFO)
        self.device_label = QtWidgets.QLabel("Device: —")
        self.bar = ScoreBar()
        self.verdict = QtWidgets.QLabel("P(malignant)")
        self.verdict.setWordWrap(True)
        self.uncertainty = QtWidgets.QLabel("")
        self.calibration_badge = QtWidgets.QLabel("UNCALIBRATED — px")
        self.calibration_badge.setStyleSheet(WARN)
        self.calibration_badge.setToolTip("The frame carries no mm/pixel calibration: lengths are in pixels")
        self.scope_badge = QtWidgets.QLabel("")
        self.scope_badge.setWordWrap(True)
        self.scope_badge.setStyleSheet(WARN)
        self.measurements = QtWidgets.QLabel("")
        self.measurements.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.terms = TermsLine()  # BI-RADS terms beside the score (changed in the Descriptors tab)
        for widget in (self.model_badge, self.device_label, self.verdict, self.bar, self.uncertainty,
                       self.scope_badge, self.calibration_badge, self.measurements, self.terms):  # fmt: skip
            layout.addWidget(widget)
        layout.addStretch(1)
        self.calibration_badge.hide()
        self.scope_badge.hide()
        # The frame shown, asked when a score is shown (set by calipers.install_calipers): the score alone
        # cannot tell a user calibration from the scanner's.
        self.frame_source: Callable[[], Frame | None] | None = None

    def set_model(self, text: str, kind: str = "ok", device: str | None = None) -> None:
        """kind: ok | loading | none (no trained model) | test (random weights) | error."""
        style = {"ok": "", "loading": INFO, "none": ERROR, "test": WARN, "error": ERROR}[kind]
        self.model_badge.setText(text)
        self.model_badge.setStyleSheet(style)
        if device is not None:
            self.device_label.setText(f"Device: {device}")

    def show_score(self, score: Score | None) -> None:
        if score is None:
            self.bar.set_value(None, None, False)
            self.verdict.setText("P(malignant): no frame")
            self.uncertainty.setText("")
            self.measurements.setText("")
            self.calibration_badge.hide()
            self.scope_badge.hide()
            return
        no_score = score.no_lesion_found  # model v2 found no lesion: there is nothing to score
        self.bar.set_value(None if no_score else score.p_malignant, score.spread, score.pending)
        self.verdict.setText(_verdict(score))
        self.uncertainty.setText("" if no_score else _uncertainty(score))
        self._show_calibration(score)
        self._show_scope(score)
        self.measurements.setText(_measurements(score))

    def _show_scope(self, score: Score) -> None:
        """The Predictor's scope check of the frame (colour Doppler, not ultrasound...), beside the score."""
        self.scope_badge.setText(f"OUT OF SCOPE — {score.out_of_scope}")
        self.scope_badge.setToolTip("The model was trained on greyscale B-mode breast ultrasound; read its "
                                    "answer on this frame with care")  # fmt: skip
        self.scope_badge.setVisible(bool(score.out_of_scope))

    def _show_calibration(self, score: Score) -> None:
        frame = self.frame_source() if self.frame_source is not None else None
        badge = self.calibration_badge
        if frame is not None and score.calibrated and is_user_calibrated(frame):
            badge.setText(f"user calibration — {frame.mm_per_px[0]:.4g} mm/px")  # type: ignore[index]
            badge.setStyleSheet(INFO)
            badge.setToolTip("Scale set by hand from the depth ruler (Measure → Set scale from ruler…)")
        else:
            badge.setText("UNCALIBRATED — px")
            badge.setStyleSheet(WARN)
            badge.setToolTip("The frame carries no mm/pixel calibration: lengths are in pixels")
        badge.setVisible(not score.calibrated or badge.text().startswith("user"))

    def show_terms(self, descriptors: dict[str, dict[str, str]]) -> None:
        self.terms.show_terms(descriptors)


def _verdict(score: Score) -> str:
    if score.p_malignant is None:
        return "P(malignant): no model"
    if score.no_lesion_found:
        chance = f" (P(lesion) {score.p_lesion:.2f})" if score.p_lesion is not None else ""
        return f"No lesion found{chance} — outline or point at one to score it"
    source = "edited mask" if score.edited else "model's mask"
    state = " — updating…" if score.pending else ""
    return f"P(malignant) {score.p_malignant:.2f} → {score.model_label} ({source}){state}"


def _uncertainty(score: Score) -> str:
    if score.uncertainty is None:
        return ""
    text = f"uncertainty {score.uncertainty:.2f} bits"
    if score.spread is not None:
        text += f" · flip spread ±{score.spread / 2:.2f}"
    return text


def _measurements(score: Score) -> str:
    """Two measurements per line, orientation and regions on the last one: the column fits 1280×720."""
    m = score.measurements
    if m is None:
        return "<i>no lesion outlined</i>"
    unit = m.units
    pairs = [
        (("long axis", f"{m.long_axis:.1f} {unit}"), ("short axis", f"{m.short_axis:.1f} {unit}")),
        (("area", f"{m.area:.1f} {unit}²"), ("short/long", f"{m.sl_ratio:.2f}")),
    ]
    cells = "".join(
        "<tr>"
        + "".join(f"<td>{name}</td><td align='right'><b>{value}</b>&nbsp;&nbsp;</td>" for name, value in pair)
        + "</tr>"
        for pair in pairs
    )
    tall = " (taller than wide)" if m.taller_than_wide else ""
    regions = f"{m.n_components} region" + ("s" if m.n_components != 1 else "")
    last = f"orientation <b>{m.orientation_deg:.0f}°{tall}</b> · {regions}"
    return f"<table cellspacing='2'>{cells}<tr><td colspan='4'>{last}</td></tr></table>"
