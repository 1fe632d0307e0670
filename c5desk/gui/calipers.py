"""Calipers drawn on the frame: distances, areas, and the two ruler points that set the scale.

    Distance   drag, or click the two ends: a line labelled in mm (px when uncalibrated); several allowed
    Area       click the corners, double-click or Enter closes: area and perimeter
    Set scale  click two ticks of the depth ruler, type their distance in mm: the user calibration of the
               frame's scanner or image (saved in the dataset), and every measurement becomes mm
    Backspace removes the last caliper (or the last corner), Esc the one in progress, else all; a right
    click on a caliper removes it. Calipers belong to the frame on screen and go when another is shown.

The canvas is another module's: the tools here live in their own item above the canvas's tool surface,
shown only while a caliper tool is on, so clicks reach the brush and pan/zoom exactly as before otherwise.
The geometry is c5desk.lesion.calipers; the Measure menu's commands (the ruler's dialog, linked views) are
c5desk.gui.caliper_commands; the calibration is c5desk.reading.calibration.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.overlays import ToolSurface
from c5desk.lesion.calipers import distance, format_length, polygon
from c5desk.reading.calibration import recalibrate_document

if TYPE_CHECKING:
    from c5desk.gui.main_window import MainWindow
    from c5desk.reading.document import Document

Point = tuple[float, float]
MODE_NAMES = {"distance": "Distance", "area": "Area", "ruler": "Ruler: click two ticks"}
CALIPER_RGB = (120, 255, 120)  # green: unlike the cyan mask, the yellow contour and the magenta preview
MY_TOOLS = ("tool_distance", "tool_area")
PICK_PX = 6  # a right click this close (screen px) to a caliper removes it
KEYS = {
    QtCore.Qt.Key.Key_Escape,
    QtCore.Qt.Key.Key_Backspace,
    QtCore.Qt.Key.Key_Return,
    QtCore.Qt.Key.Key_Enter,
}


def _pen(style: QtCore.Qt.PenStyle = QtCore.Qt.PenStyle.SolidLine) -> QtGui.QPen:
    pen = QtGui.QPen(QtGui.QColor(*CALIPER_RGB), 1.5, style)
    pen.setCosmetic(True)
    return pen


def _path(points: list[Point], closed: bool = False) -> QtGui.QPainterPath:
    path = QtGui.QPainterPath()
    polygon_f = QtGui.QPolygonF([QtCore.QPointF(x + 0.5, y + 0.5) for x, y in points])
    if closed and len(points) > 2:
        polygon_f.append(polygon_f[0])
    path.addPolygon(polygon_f)
    for x, y in points:  # small crosses mark the caliper's points
        path.moveTo(x + 0.5 - 2, y + 0.5)
        path.lineTo(x + 0.5 + 2, y + 0.5)
        path.moveTo(x + 0.5, y + 0.5 - 2)
        path.lineTo(x + 0.5, y + 0.5 + 2)
    return path


@dataclass
class Caliper:
    kind: str  # "distance" | "area"
    points: list[Point]
    item: QtWidgets.QGraphicsPathItem
    label: pg.TextItem

    def text(self, mm_per_px: tuple[float, float] | None) -> str:
        if self.kind == "distance":
            return str(distance(self.points[0], self.points[1], mm_per_px))
        found = polygon(self.points, mm_per_px)
        return f"{found.area:.1f} {found.units}² · {format_length(found.perimeter, found.units)}"


class CaliperSurface(ToolSurface):
    """An invisible item over the frame handing mouse events to the layer while a caliper tool is on."""

    def wheelEvent(self, ev: QtWidgets.QGraphicsSceneWheelEvent) -> None:
        ev.ignore()  # the view box zooms, as over the frame itself

    def mouseClickEvent(self, ev) -> None:
        if not self.handler.click(_pixel(ev.pos()), ev.button(), ev.double()):
            ev.ignore()

    def mouseDragEvent(self, ev) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or not self.handler.drag(
            _pixel(ev.buttonDownPos()), _pixel(ev.pos()), ev.isFinish()
        ):
            ev.ignore()
            return
        ev.accept()

    def hoverEvent(self, ev) -> None:
        self.handler.hover(None if ev.isExit() else _pixel(ev.pos()))


def _pixel(pos: QtCore.QPointF) -> Point:
    """Item coordinates (pixel (c, r) spans [c, c+1)) to pixel-centre coordinates, as the canvas uses."""
    return pos.x() - 0.5, pos.y() - 0.5


class CaliperLayer(QtCore.QObject):
    """The caliper tools of one window: what is drawn, the tool in use, the points being placed."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window, self.canvas = window, window.canvas
        self.mode = "off"
        self.calipers: list[Caliper] = []
        self.pending: list[Point] = []
        self._hover: Point | None = None
        self._document = window.document
        self.surface = CaliperSurface(self)
        self.rubber = QtWidgets.QGraphicsPathItem()
        self.rubber.setPen(_pen(QtCore.Qt.PenStyle.DashLine))
        for z, item in ((101, self.surface), (100, self.rubber)):
            item.setZValue(z)
            self.canvas.view.addItem(item)
        self.surface.hide()
        self.ruler_done: Callable[[Point, Point], object] | None = None  # caliper_commands.set_scale_from
        self.canvas.prediction_shown.connect(self._maybe_new_document)
        self.canvas.installEventFilter(self)

    # ---- the tool ----------------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """Use a caliper tool: distance, area, ruler; or none ("off": another tool was chosen)."""
        self.pending, self.mode = [], mode
        self._draw_pending()
        if mode == "off":
            self.surface.hide()
            self.canvas.set_tool(self.canvas.tool)  # the canvas's own badge back
            return
        doc = self.window.document
        if doc is not None:
            self.surface.set_size(doc.frame.shape[1], doc.frame.shape[0])
        self.canvas.set_tool("navigate")  # the canvas's tools rest; pan/zoom stays on the middle button
        self.canvas.viewport().setCursor(QtCore.Qt.CursorShape.CrossCursor)
        badge = self.canvas.tool_badge
        badge.setText(MODE_NAMES[mode])
        badge.setStyleSheet("background: #2e8b57; color: white; font-weight: bold; padding: 3px 8px;")
        badge.adjustSize()
        self.surface.show()
        self.canvas.setFocus()

    def click(self, point: Point, button: QtCore.Qt.MouseButton, double: bool) -> bool:
        if button == QtCore.Qt.MouseButton.RightButton:
            return self.remove_at(point)
        if button != QtCore.Qt.MouseButton.LeftButton or self.window.document is None:
            return False
        if self.mode == "area":
            if double:
                self.close_area()
            else:
                self.pending.append(point)
        elif self.mode in ("distance", "ruler"):
            self.pending.append(point)
            if len(self.pending) == 2:
                self._two_points(*self.pending)
        self._draw_pending()
        return True

    def drag(self, start: Point, end: Point, finished: bool) -> bool:
        """A left drag: the two ends of a distance or of the ruler (an area is clicked, not dragged)."""
        if self.mode not in ("distance", "ruler") or self.window.document is None:
            return False
        self.pending = [start, end]
        if finished:
            self._two_points(start, end)
        self._draw_pending()
        return True

    def hover(self, point: Point | None) -> None:
        self._hover = point
        self._draw_pending()

    def _two_points(self, start: Point, end: Point) -> None:
        self.pending = []
        if math.dist(start, end) < 1:
            return
        if self.mode == "ruler":
            self._draw_pending()
            if self.ruler_done is not None:
                self.ruler_done(start, end)
        else:
            self.add("distance", [start, end])

    def close_area(self) -> None:
        points = _without_repeats(self.pending)
        self.pending = []
        if len(points) >= 3:
            self.add("area", points)
        self._draw_pending()

    # ---- what is drawn -----------------------------------------------------------------------------------
    def add(self, kind: str, points: list[Point]) -> Caliper:
        item = QtWidgets.QGraphicsPathItem(_path(points, closed=kind == "area"))
        item.setPen(_pen())
        label = pg.TextItem(color=CALIPER_RGB, fill=pg.mkBrush(0, 0, 0, 170), anchor=(0.5, 1.2))
        caliper = Caliper(kind, list(points), item, label)
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        label.setPos(sum(xs) / len(xs) + 0.5, min(ys) + 0.5 if kind == "area" else sum(ys) / len(ys) + 0.5)
        for z, graphic in ((98, item), (99, label)):
            graphic.setZValue(z)
            self.canvas.view.addItem(graphic)
        self.calipers.append(caliper)
        self.relabel()
        return caliper

    def relabel(self) -> None:
        """Every caliper's text with the frame's current scale (after a calibration: mm)."""
        doc = self.window.document
        scale = doc.frame.mm_per_px if doc is not None else None
        for caliper in self.calipers:
            caliper.label.setText(caliper.text(scale))

    def remove(self, caliper: Caliper) -> None:
        self.calipers.remove(caliper)
        for graphic in (caliper.item, caliper.label):
            self.canvas.view.removeItem(graphic)

    def remove_at(self, point: Point) -> bool:
        """Remove the caliper nearest a right click, when within PICK_PX screen pixels of one."""
        tolerance = PICK_PX * max(self.canvas.view.viewPixelSize())
        near = [(_distance_to(c, point), i) for i, c in enumerate(self.calipers)]
        best = min(near, default=(math.inf, -1))
        if best[0] > tolerance:
            return False
        self.remove(self.calipers[best[1]])
        return True

    def clear(self) -> None:
        self.pending = []
        for caliper in list(self.calipers):
            self.remove(caliper)
        self._draw_pending()

    def _draw_pending(self) -> None:
        points = list(self.pending)
        if points and self._hover is not None and self.mode != "off":
            points.append(self._hover)
        self.rubber.setPath(_path(points) if points else QtGui.QPainterPath())

    def _maybe_new_document(self) -> None:
        """Calipers belong to the frame they were drawn on: another frame shown clears them."""
        doc = self.window.document
        if doc is not self._document:
            self._document = doc
            self.clear()
            if doc is not None:
                self.surface.set_size(doc.frame.shape[1], doc.frame.shape[0])

    # ---- keys --------------------------------------------------------------------------------------------
    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        kinds = (QtCore.QEvent.Type.ShortcutOverride, QtCore.QEvent.Type.KeyPress)
        if self.mode == "off" or event.type() not in kinds or event.key() not in KEYS:  # type: ignore[attr-defined]
            return False
        if event.type() == QtCore.QEvent.Type.ShortcutOverride:
            event.accept()  # these keys are ours while a caliper tool is on, not the window's shortcuts
            return True
        self.key(event.key())  # type: ignore[attr-defined]
        return True

    def key(self, key: int) -> None:
        if key in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter):
            self.close_area()
        elif key == QtCore.Qt.Key.Key_Backspace:
            if self.pending:
                self.pending.pop()
            elif self.calipers:
                self.remove(self.calipers[-1])
        elif self.pending:  # Esc: the caliper in progress, else all of them
            self.pending = []
        else:
            self.clear()
        self._draw_pending()


def _without_repeats(points: list[Point]) -> list[Point]:
    kept: list[Point] = []
    for point in points:
        if not kept or math.dist(kept[-1], point) >= 1:
            kept.append(point)
    return kept


def _distance_to(caliper: Caliper, point: Point) -> float:
    corners = caliper.points + (caliper.points[:1] if caliper.kind == "area" else [])
    return min(_segment_distance(point, a, b) for a, b in itertools.pairwise(corners))


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.dist(p, (a[0] + t * dx, a[1] + t * dy))


# ---- wiring ------------------------------------------------------------------------------------------------
def install_calipers(window: MainWindow) -> CaliperLayer:
    """The window's caliper tools (once): the layer over the canvas, the score panel's calibration badge,
    and the other tools switching the calipers off."""
    existing = getattr(window, "calipers", None)
    if isinstance(existing, CaliperLayer):
        return existing
    layer = CaliperLayer(window)
    window.calipers = layer  # type: ignore[attr-defined]
    from c5desk.gui.caliper_commands import set_scale_from  # it imports this module

    layer.ruler_done = partial(set_scale_from, layer)
    window.score_panel.frame_source = lambda: window.document.frame if window.document is not None else None
    for key, action in window.actions.items():
        if key.startswith("tool_") and key not in MY_TOOLS:
            action.triggered.connect(lambda _checked=False: layer.set_mode("off"))
    window.link.predicted.connect(lambda doc: _measure_late_prediction(window, doc))
    window.refresh()  # the calibration badge, now that the panel can tell a user calibration
    return layer


def _measure_late_prediction(window: MainWindow, doc: Document) -> None:
    """A prediction started before the scale was set comes back measured in px: measure it again."""
    pred = doc.prediction
    if pred is None or pred.measurements is None or not doc.frame.calibrated or pred.measurements.calibrated:
        return
    recalibrate_document(doc, doc.frame)
    if doc is window.document:
        window.refresh()
