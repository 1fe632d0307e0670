"""The frame view: image with gain/contrast, probability heat map, mask fill and contour; zoom, pan, tools.

Tools act on the Document's MaskEditor directly (the raster mask; never a polygon round trip). The
navigate tool leaves every drag to pyqtgraph's pan/zoom; the middle button always pans, and the wheel
zooms except with the brush or eraser, where it sizes the brush (Ctrl+wheel still zooms).

Prompt tools (box, click, pick) do not edit here: they show what was asked at once (the box while dragging,
a green + or red − where clicked) and emit `prompted`; the model link refines the mask on its worker and the
new outline shows when it returns (gui/model_link.py: wire_prompts).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.overlays import CONTOUR_RGB, MaskItem, OtherLesionsItem, ToolSurface, contour_path, heat_lut
from c5desk.reading.document import Document
from c5desk.reading.edit import MAX_BRUSH_RADIUS, Box

TOOLS = ("navigate", "brush", "eraser", "lasso_add", "lasso_subtract", "box", "click", "pick")
PROMPT_TOOLS = ("box", "click", "pick")
TOOL_NAMES = {"navigate": "Pan/zoom", "brush": "Brush", "eraser": "Eraser", "lasso_add": "Lasso +",
              "lasso_subtract": "Lasso −", "box": "Box", "click": "Click (left lesion, right background)",
              "pick": "Pick a candidate"}  # fmt: skip
# The tool badge's colour: removing tools in red, so that the eraser is never mistaken for the brush.
TOOL_BADGE = {"navigate": "#5a5d66", "brush": "#1e7be0", "eraser": "#d03030", "lasso_add": "#1e7be0",
              "lasso_subtract": "#d03030", **dict.fromkeys(PROMPT_TOOLS, "#138a5e")}  # fmt: skip
POSITIVE_RGB, NEGATIVE_RGB = (40, 220, 90), (255, 60, 60)  # click markers: + lesion, − background
PREVIEW_RGB = (255, 64, 255)  # magenta: unlike the cyan mask, the yellow contour and the heat map
LEFT, RIGHT = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.RightButton
MARK_PX = 5.0  # half the size of a click marker, in frame pixels


def _cosmetic_pen(rgb: tuple[int, int, int], width: float, style=QtCore.Qt.PenStyle.SolidLine) -> QtGui.QPen:
    pen = QtGui.QPen(QtGui.QColor(*rgb), width, style)
    pen.setCosmetic(True)  # the same width on screen at any zoom
    return pen


class Canvas(pg.GraphicsView):
    edited = QtCore.Signal()  # an edit (stroke, lasso) finished: rescore, mark dirty
    prediction_shown = QtCore.Signal()  # a document or a model output is newly shown: drop any preview
    brush_radius_changed = QtCore.Signal(int)
    prompted = QtCore.Signal(str, object, bool, object)  # tool, (x, y) or None, positive, box or None

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent, background="k")
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.setCentralItem(self.view)
        self.image_item = pg.ImageItem()
        self.heat_item = pg.ImageItem(lut=heat_lut(), levels=(0.0, 1.0))
        self.mask_item = MaskItem()
        self.surface = ToolSurface(self)
        self.other_lesions = OtherLesionsItem()  # a frame's other lesions, dashed with their numbers
        self.contour_item = QtWidgets.QGraphicsPathItem()
        self.contour_item.setPen(_cosmetic_pen(CONTOUR_RGB, 2))
        self.cursor_item = QtWidgets.QGraphicsEllipseItem()
        self.cursor_item.setPen(_cosmetic_pen((255, 255, 255), 1, QtCore.Qt.PenStyle.DashLine))
        self.lasso_item = QtWidgets.QGraphicsPathItem()
        self.lasso_item.setPen(_cosmetic_pen((255, 255, 255), 1.5))
        self.preview_item = QtWidgets.QGraphicsPathItem()  # a threshold preview: dashed, never the mask
        self.preview_item.setPen(_cosmetic_pen(PREVIEW_RGB, 2, QtCore.Qt.PenStyle.DashLine))
        self.box_item = QtWidgets.QGraphicsRectItem()  # the box being dragged
        self.box_item.setPen(_cosmetic_pen(POSITIVE_RGB, 1.5, QtCore.Qt.PenStyle.DashLine))
        self.box_item.hide()
        self.marks = {True: QtWidgets.QGraphicsPathItem(), False: QtWidgets.QGraphicsPathItem()}
        for positive, item in self.marks.items():
            item.setPen(_cosmetic_pen(POSITIVE_RGB if positive else NEGATIVE_RGB, 2.5))
        layers = (self.image_item, self.heat_item, self.mask_item, self.other_lesions, self.contour_item,
                  self.preview_item,
                  self.lasso_item, self.box_item, *self.marks.values(), self.cursor_item,
                  self.surface)  # fmt: skip
        for z, item in enumerate(layers):
            item.setZValue(z)
            self.view.addItem(item)
        self.cursor_item.hide()
        self.document: Document | None = None
        self.tool = "navigate"
        self.brush_radius = 8
        self._lasso: list[tuple[float, float]] = []
        self._pending_marks: list[tuple[int, int, bool]] = []  # clicks sent, their outline not back yet
        self._base_levels = (0.0, 255.0)
        self._gain, self._contrast = 0.0, 1.0
        self._layers = {"contour": self.contour_item, "mask": self.mask_item, "heat": self.heat_item}
        self.set_mask_opacity(0.35)
        self.set_heat_opacity(0.45)
        self.tool_badge = self._badge()
        self.set_tool("navigate")

    def _badge(self) -> QtWidgets.QLabel:
        """The active tool's name over the frame's top-left corner (always in sight, unlike the panel)."""
        badge = QtWidgets.QLabel(self.viewport())
        badge.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        badge.move(8, 8)
        return badge

    # ---- what is shown ---------------------------------------------------------------------------------
    def set_document(self, document: Document | None, fit: bool = True) -> None:
        self.document = document
        if document is None:
            for item in (self.image_item, self.heat_item):
                item.clear()
            self.mask_item.set_mask(np.zeros((1, 1), bool))
            self.contour_item.setPath(QtGui.QPainterPath())
            self.other_lesions.show_lesions(None)
            self.show_threshold_preview(None)
            self._pending_marks = []
            self.show_marks()
            self.prediction_shown.emit()
            return
        pixels = document.frame.display
        self.surface.set_size(pixels.shape[1], pixels.shape[0])
        self._base_levels = (
            (0.0, 255.0) if pixels.dtype == np.uint8 else (float(pixels.min()), float(pixels.max()))
        )
        self.image_item.setImage(pixels, autoLevels=False, levels=self._levels())
        self.show_prediction()
        self.refresh_mask()
        if fit:
            self.fit()

    def show_prediction(self) -> None:
        """The heat map of the document's model output (cleared when there is none yet)."""
        prediction = self.document.prediction if self.document is not None else None
        if prediction is None:
            self.heat_item.clear()
        else:
            self.heat_item.setImage(prediction.prob, autoLevels=False, levels=(0.0, 1.0))
        self.show_threshold_preview(None)  # a preview belongs to the probability map it was made from
        self.prediction_shown.emit()

    def show_threshold_preview(self, mask: np.ndarray | None) -> None:
        """Outline `mask` dashed over the frame as a preview (None: hide it); the mask itself is untouched."""
        self.preview_item.setPath(QtGui.QPainterPath() if mask is None else contour_path(mask))
        self.preview_item.setVisible(mask is not None)

    def refresh_mask(self, box: Box | None = None) -> None:
        """Redraw the fill (only `box` when given, e.g. a brush stamp) and, for whole redraws, the contour."""
        if self.document is None:
            return
        mask = self.document.mask
        if box is not None:
            self.mask_item.update_box(mask, box)
            return
        self.mask_item.set_mask(mask)
        self.contour_item.setPath(contour_path(mask))
        self.other_lesions.show_lesions(self.document)
        self._pending_marks = []
        self.show_marks()

    def show_marks(self) -> None:
        """Green + and red − where the prompt behind the outline clicked, and clicks still being refined."""
        doc = self.document
        made = doc.outline.made_by_prompt(doc.mask, doc.editor.undo_names) if doc is not None else None
        clicks = [(x, y, True) for x, y in made.prompt.positive] if made is not None else []
        clicks += [(x, y, False) for x, y in made.prompt.negative] if made is not None else []
        for positive, item in self.marks.items():
            path = QtGui.QPainterPath()
            for x, y, sign in clicks + self._pending_marks:
                if sign == positive:
                    _add_mark(path, x + 0.5, y + 0.5, positive)
            item.setPath(path)

    def fit(self) -> None:
        self.view.autoRange(padding=0.02)

    # ---- display settings ------------------------------------------------------------------------------
    def set_window(self, gain: float, contrast: float) -> None:
        """gain shifts brightness (-1..1 of the range), contrast scales it (>1 steeper)."""
        self._gain, self._contrast = float(gain), max(0.05, float(contrast))
        if self.document is not None:
            self.image_item.setLevels(self._levels())

    def _levels(self) -> tuple[float, float]:
        low, high = self._base_levels
        span = max(high - low, 1.0)
        centre = low + span / 2 - self._gain * span / 2
        half = span / (2 * self._contrast)
        return centre - half, centre + half

    def set_mask_opacity(self, opacity: float) -> None:
        self.mask_item.setOpacity(float(opacity))

    def set_heat_opacity(self, opacity: float) -> None:
        self.heat_item.setOpacity(float(opacity))

    def set_layer_visible(self, layer: str, visible: bool) -> None:
        self._layers[layer].setVisible(bool(visible))

    def layer_visible(self, layer: str) -> bool:
        return self._layers[layer].isVisible()

    # ---- tools -----------------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self.tool = tool
        self.cursor_item.setVisible(False)
        rgb = (255, 90, 90) if tool == "eraser" else (255, 255, 255)  # the eraser's ring is red
        self.cursor_item.setPen(_cosmetic_pen(rgb, 1.5, QtCore.Qt.PenStyle.DashLine))
        cursor = (
            QtCore.Qt.CursorShape.OpenHandCursor if tool == "navigate" else QtCore.Qt.CursorShape.CrossCursor
        )
        self.viewport().setCursor(cursor)
        self.tool_badge.setText(TOOL_NAMES[tool])
        self.tool_badge.setStyleSheet(
            f"background: {TOOL_BADGE[tool]}; color: white; font-weight: bold; padding: 3px 8px;"
            " border-radius: 3px;"
        )
        self.tool_badge.adjustSize()

    def set_brush_radius(self, radius: int) -> None:
        radius = int(max(0, min(MAX_BRUSH_RADIUS, radius)))
        if radius != self.brush_radius:
            self.brush_radius = radius
            self.brush_radius_changed.emit(radius)
        if self.cursor_item.isVisible():
            self._place_cursor(self.cursor_item.rect().center())

    def _editing(self) -> bool:
        return self.tool != "navigate" and self.document is not None

    def drag_event(self, ev) -> bool:
        """A left-button drag on the frame: a brush/eraser stroke or a lasso (False: let the view pan)."""
        if not self._editing() or ev.button() != LEFT:
            return False
        if self.tool in ("click", "pick"):
            return False  # clicking tools: a drag pans
        ev.accept()
        if self.tool == "box":
            self._box_drag(ev)
        elif self.tool in ("brush", "eraser"):
            self._stroke(ev)
        else:
            self._lasso_drag(ev)
        return True

    def _stroke(self, ev) -> None:
        editor = self.document.editor  # type: ignore[union-attr]
        x, y = _pixel(ev.pos())
        if ev.isStart() or not editor.in_stroke:
            x0, y0 = _pixel(ev.buttonDownPos())
            self._redraw(editor.begin_stroke(x0, y0, self.brush_radius, erase=self.tool == "eraser"))
        self._redraw(editor.extend_stroke(x, y))
        self._place_cursor(ev.pos())
        if ev.isFinish():
            editor.end_stroke()
            self._edit_finished(fill_current=True)

    def _lasso_drag(self, ev) -> None:
        if ev.isStart() or not self._lasso:
            self._lasso = [_pixel(ev.buttonDownPos())]
        self._lasso.append(_pixel(ev.pos()))
        path = QtGui.QPainterPath()
        path.addPolygon(QtGui.QPolygonF([QtCore.QPointF(x + 0.5, y + 0.5) for x, y in self._lasso]))
        self.lasso_item.setPath(path)
        if ev.isFinish():
            points, self._lasso = self._lasso, []
            self.lasso_item.setPath(QtGui.QPainterPath())
            if self.document.editor.lasso(points, add=self.tool == "lasso_add"):  # type: ignore[union-attr]
                self._edit_finished()

    def _box_drag(self, ev) -> None:
        (x0, y0), (x1, y1) = _pixel(ev.buttonDownPos()), _pixel(ev.pos())
        rect = QtCore.QRectF(
            QtCore.QPointF(x0 + 0.5, y0 + 0.5), QtCore.QPointF(x1 + 0.5, y1 + 0.5)
        ).normalized()
        self.box_item.setRect(rect)
        self.box_item.setVisible(not ev.isFinish())
        if not ev.isFinish():
            return
        h, w = self.document.mask.shape  # type: ignore[union-attr]
        left, right = sorted((round(x0), round(x1)))
        top, bottom = sorted((round(y0), round(y1)))
        box = (max(0, left), max(0, top), min(w, right + 1), min(h, bottom + 1))
        if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
            self.prompted.emit("box", None, True, box)

    def _prompt_click(self, ev) -> bool:
        """Click: left = lesion, right = background, marked at once; pick: the region clicked."""
        if ev.button() not in (LEFT, RIGHT) or (self.tool == "pick" and ev.button() != LEFT):
            return False
        ev.accept()
        x, y = (round(v) for v in _pixel(ev.pos()))
        h, w = self.document.mask.shape  # type: ignore[union-attr]
        if not (0 <= x < w and 0 <= y < h):
            return True
        positive = ev.button() == LEFT
        if self.tool == "click":
            self._pending_marks.append((x, y, positive))
            self.show_marks()
        self.prompted.emit(self.tool, (x, y), positive, None)
        return True

    def click_event(self, ev) -> bool:
        """A click with the brush or eraser stamps one disc; with click or pick it asks for a prompt."""
        if self._editing() and self.tool in ("click", "pick"):
            return self._prompt_click(ev)
        if not self._editing() or ev.button() != LEFT or self.tool not in ("brush", "eraser"):
            return False
        ev.accept()
        editor = self.document.editor  # type: ignore[union-attr]
        x, y = _pixel(ev.pos())
        self._redraw(editor.begin_stroke(x, y, self.brush_radius, erase=self.tool == "eraser"))
        if editor.end_stroke():
            self._edit_finished(fill_current=True)
        return True

    def hover_event(self, ev) -> None:
        if ev.isExit() or self.tool not in ("brush", "eraser"):
            self.cursor_item.hide()
            return
        self._place_cursor(ev.pos())

    def wheel_event(self, ev: QtWidgets.QGraphicsSceneWheelEvent) -> bool:
        ctrl = bool(ev.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier)
        if self.tool not in ("brush", "eraser") or ctrl:
            return False
        step = 1 if ev.delta() > 0 else -1
        self.set_brush_radius(self.brush_radius + step * max(1, self.brush_radius // 6))
        ev.accept()
        return True

    def _place_cursor(self, pos: QtCore.QPointF) -> None:
        r = self.brush_radius + 0.5
        self.cursor_item.setRect(QtCore.QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r))
        self.cursor_item.show()

    def _redraw(self, box: Box | None) -> None:
        if box is not None:
            self.mask_item.update_box(self.document.mask, box)  # type: ignore[union-attr]

    def _edit_finished(self, fill_current: bool = False) -> None:
        """After a stroke the fill is already drawn stamp by stamp: only the outline is redone."""
        if fill_current and self.document is not None:
            self.contour_item.setPath(contour_path(self.document.mask))
        else:
            self.refresh_mask()
        self.edited.emit()


def _add_mark(path: QtGui.QPainterPath, x: float, y: float, positive: bool) -> None:
    """A + (lesion) or − (background) centred on (x, y) in item coordinates."""
    path.moveTo(x - MARK_PX, y)
    path.lineTo(x + MARK_PX, y)
    if positive:
        path.moveTo(x, y - MARK_PX)
        path.lineTo(x, y + MARK_PX)


def _pixel(pos: QtCore.QPointF) -> tuple[float, float]:
    """Item coordinates (pixel (c, r) spans [c, c+1)) to the pixel-centre coordinates the editor uses."""
    return pos.x() - 0.5, pos.y() - 0.5
