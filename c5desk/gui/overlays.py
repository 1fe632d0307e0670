"""Scene items drawn over the frame: the mask fill (fast partial updates), its contour, the heat map LUT, and
a frame's other lesions (dashed, numbered, in the colours of the lesion list).

The mask fill is the item a brush stroke redraws dozens of times a second, so it keeps a premultiplied
ARGB buffer the size of the frame, recolours only the box a stamp changed, and asks Qt to repaint only that
box. pyqtgraph's ImageItem would rebuild the whole image on every stamp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.reading.edit import Box

if TYPE_CHECKING:
    from c5desk.reading.document import Document

MASK_RGB = (0, 200, 255)  # cyan: stands out on grey ultrasound, unlike red/green for the colour-blind
CONTOUR_RGB = (255, 220, 0)
# Okabe-Ito colours (told apart with colour-blindness), none close to the active lesion's cyan fill
LESION_RGB = ((230, 159, 0), (204, 121, 167), (0, 158, 115), (240, 228, 66), (213, 94, 0), (86, 180, 233))
ACTIVE_RGB = MASK_RGB


def premultiplied(rgb: tuple[int, int, int], alpha: float) -> np.uint32:
    a = round(255 * alpha)
    r, g, b = (round(c * a / 255) for c in rgb)
    return np.uint32((a << 24) | (r << 16) | (g << 8) | b)


class MaskItem(QtWidgets.QGraphicsObject):
    """The mask as a translucent fill; pixel (col, row) covers [col, col+1) x [row, row+1) like ImageItem."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = np.zeros((1, 1), np.uint32)
        self._image = QtGui.QImage()
        self._colour = premultiplied(MASK_RGB, 1.0)
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setAcceptedMouseButtons(QtCore.Qt.MouseButton.NoButton)

    def boundingRect(self) -> QtCore.QRectF:
        h, w = self._buffer.shape
        return QtCore.QRectF(0, 0, w, h)

    def set_mask(self, mask: np.ndarray) -> None:
        """Redraw everything (a new frame or a whole-mask operation)."""
        if mask.shape != self._buffer.shape:
            self.prepareGeometryChange()
            self._buffer = np.zeros(mask.shape, np.uint32)
            h, w = mask.shape
            self._image = QtGui.QImage(
                self._buffer.data, w, h, 4 * w, QtGui.QImage.Format.Format_ARGB32_Premultiplied
            )
        np.multiply(mask, self._colour, out=self._buffer, casting="unsafe")
        self.update()

    def update_box(self, mask: np.ndarray, box: Box) -> None:
        """Redraw only `box` (a brush stamp)."""
        rows, cols = box.slices
        np.multiply(mask[rows, cols], self._colour, out=self._buffer[rows, cols], casting="unsafe")
        self.update(QtCore.QRectF(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0))

    def paint(self, painter: QtGui.QPainter, option, widget=None) -> None:
        if self._image.isNull():
            return
        exposed = option.exposedRect.intersected(self.boundingRect()).toAlignedRect()
        if exposed.isEmpty():
            return
        painter.drawImage(exposed, self._image, exposed)


class ToolSurface(pg.GraphicsObject):
    """An invisible item over the frame that hands mouse events to `handler` (the canvas), which takes them
    or not per tool. Separate from the fill, so that hiding the fill never disables the tools."""

    def __init__(self, handler: object) -> None:
        super().__init__()
        self.handler = handler
        self._rect = QtCore.QRectF(0, 0, 1, 1)
        self.setAcceptHoverEvents(True)

    def set_size(self, width: int, height: int) -> None:
        self.prepareGeometryChange()
        self._rect = QtCore.QRectF(0, 0, width, height)

    def boundingRect(self) -> QtCore.QRectF:
        return self._rect

    def paint(self, painter: QtGui.QPainter, option, widget=None) -> None:
        pass

    # pyqtgraph delivers these to the topmost item under the cursor
    def mouseDragEvent(self, ev) -> None:
        if not self.handler.drag_event(ev):
            ev.ignore()

    def mouseClickEvent(self, ev) -> None:
        if not self.handler.click_event(ev):
            ev.ignore()

    def hoverEvent(self, ev) -> None:
        self.handler.hover_event(ev)

    def wheelEvent(self, ev: QtWidgets.QGraphicsSceneWheelEvent) -> None:
        if not self.handler.wheel_event(ev):
            ev.ignore()


def contour_path(mask: np.ndarray) -> QtGui.QPainterPath:
    """Every outline of the mask (outer and holes) through the boundary pixels' centres."""
    found, _ = cv2.findContours(
        np.ascontiguousarray(mask).view(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE
    )
    if not found:
        return QtGui.QPainterPath()
    # each outline closed on its first point, then all of them in one path built from arrays (fast)
    rings = [np.vstack([c.reshape(-1, 2), c.reshape(-1, 2)[:1]]) for c in found]
    points = np.vstack(rings).astype(np.float64) + 0.5
    connect = np.ones(len(points), bool)
    connect[np.cumsum([len(r) for r in rings]) - 1] = False  # do not join one outline to the next
    return pg.functions.arrayToQPath(points[:, 0], points[:, 1], connect=connect)


def heat_lut() -> np.ndarray:
    """256 RGBA entries: transparent at p=0, through purple and orange to yellow at p=1."""
    p = np.linspace(0.0, 1.0, 256)
    stops = np.array([[0.0, 0, 0, 80], [0.35, 120, 0, 160], [0.7, 255, 110, 0], [1.0, 255, 255, 60]])
    rgb = np.stack([np.interp(p, stops[:, 0], stops[:, i]) for i in (1, 2, 3)], axis=1)
    alpha = np.clip(p * 1.6, 0, 1) * 255  # low probabilities fade out so the anatomy stays visible
    return np.column_stack([rgb, alpha]).astype(np.uint8)


def lesion_colour(number: int, active: bool) -> tuple[int, int, int]:
    return ACTIVE_RGB if active else LESION_RGB[(number - 1) % len(LESION_RGB)]


class OtherLesionsItem(QtWidgets.QGraphicsItemGroup):
    """The lesions other than the active one over the frame: dashed outlines with their numbers."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[QtWidgets.QGraphicsItem] = []

    def show_lesions(self, doc: Document | None) -> None:
        for part in self._parts:
            self.removeFromGroup(part)
            if part.scene() is not None:
                part.scene().removeItem(part)
        self._parts = []
        for number, mask in doc.other_lesion_masks() if doc is not None else []:
            self._add(number, mask)

    def _add(self, number: int, mask: np.ndarray) -> None:
        colour = QtGui.QColor(*lesion_colour(number, False))
        outline = QtWidgets.QGraphicsPathItem(contour_path(mask))
        pen = QtGui.QPen(colour, 2, QtCore.Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        outline.setPen(pen)
        tag = QtWidgets.QGraphicsSimpleTextItem(str(number))
        tag.setBrush(colour)
        font = tag.font()
        font.setBold(True)
        font.setPointSizeF(max(font.pointSizeF(), 9.0) * 1.4)
        tag.setFont(font)
        tag.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        rows, cols = np.nonzero(mask)
        if rows.size:
            tag.setPos(float(cols.min()), float(rows.min()))
        for part in (outline, tag):
            self.addToGroup(part)
            self._parts.append(part)
