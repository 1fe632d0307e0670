"""The Measure menu's commands: the calipers' tools, setting the scale from the depth ruler, and linking two
orthogonal views of one lesion for its three diameters and ellipsoid volume.

Each command is a function of the window (the actions table imports this module on first use); the drawing
and the mouse are c5desk.gui.calipers, the decisions c5desk.reading.calibration and c5desk.lesion.calipers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.calipers import CaliperLayer, Point, install_calipers
from c5desk.lesion.calipers import Diameters, diameters_from_views
from c5desk.reading.calibration import calibrate_from_ruler, is_user_calibrated, recalibrate_document

if TYPE_CHECKING:
    from c5desk.gui.main_window import MainWindow
    from c5desk.lesion.measure import Measurements


# ---- two orthogonal views of one lesion --------------------------------------------------------------
class LinkedViews:
    """View 1 marked on one frame, linked with the orthogonal view on another: three diameters, volume."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.first: tuple[int, Measurements, str] | None = None  # frame id, its lesion, its description
        self.last: Diameters | None = None

    def _lesion(self) -> tuple[int, Measurements, str] | None:
        doc, window = self.window.document, self.window
        measured = doc.score.measurements if doc is not None else None
        if doc is None or measured is None:
            window.show_status("Outline the lesion first: its long and short axes are the diameters")
            return None
        store = window.reading.ensure_store()
        return None if store is None else (doc.ensure_in_store(store), measured, doc.origin.describe())

    def mark(self) -> None:
        self.first = self._lesion()
        if self.first is not None:
            self.window.show_status(f"View 1: {self.first[2]}. Open the orthogonal view, outline the lesion, "
                                    "then Measure → Link as orthogonal view")  # fmt: skip

    def link(self) -> Diameters | None:
        if self.first is None:
            self.window.show_status("Mark view 1 of the lesion first (Measure → Mark as view 1)")
            return None
        second = self._lesion()
        if second is None or second[0] == self.first[0]:
            if second is not None:
                self.window.show_status("This is view 1: open the orthogonal view of the lesion")
            return None
        try:
            self.last = diameters_from_views(self.first[1], second[1])
        except C5Error as exc:
            self.window.show_error("Three diameters", str(exc))
            return None
        self.window.reading.ensure_store().link_views(self.first[0], second[0])  # type: ignore[union-attr]
        text = f"{self.last}\n\nView 1: {self.first[2]}\nView 2: {second[2]}"
        self.window.show_status(f"Three diameters: {self.last}")
        QtWidgets.QMessageBox.information(self.window, "Three diameters", text)
        return self.last


# ---- the scale from the ruler ------------------------------------------------------------------------------
def set_scale_from(layer: CaliperLayer, start: Point, end: Point) -> bool:
    """Ask the distance between the two ruler points, save the user calibration, measure again in mm."""
    window, doc = layer.window, layer.window.document
    if doc is None:
        return False
    mm, ok = QtWidgets.QInputDialog.getDouble(
        window, "Set scale from ruler", "Distance between the two points (mm):", 10.0, 0.01, 10_000.0, 2
    )
    store = window.reading.ensure_store() if ok else None
    if store is None:
        return False
    try:
        frame, record = calibrate_from_ruler(doc.frame, store, (start, end), mm)
    except C5Error as exc:
        window.show_error("Set scale from ruler", str(exc))
        return False
    recalibrate_document(doc, frame)
    window.link.rescore(doc)
    window.refresh()
    layer.relabel()
    where = "this scanner" if record.scope.startswith("scanner:") else "this image"
    window.show_status(f"User calibration for {where}: {record.mm_per_px[0]:.4f} mm/px ({mm:g} mm marked)")
    layer.set_mode("off")
    window.actions["tool_navigate"].trigger()
    return True


def start_ruler(window: MainWindow) -> None:
    doc, layer = window.document, install_calipers(window)
    if doc is None:
        window.show_status("Open a frame first: the scale is set on its depth ruler")
        return
    if doc.frame.calibrated and not is_user_calibrated(doc.frame):
        window.show_status(f"This frame has the scanner's calibration ({doc.frame.mm_per_px[0]:.4f} mm/px)")
        return
    layer.set_mode("ruler")
    window.show_status(
        "Click two ticks of the depth ruler (far apart is more precise), then type their distance"
    )


# ---- the menu's commands ---------------------------------------------------------------------------------
def use_distance(window: MainWindow) -> None:
    install_calipers(window).set_mode("distance")


def use_area(window: MainWindow) -> None:
    install_calipers(window).set_mode("area")


def clear_calipers(window: MainWindow) -> None:
    install_calipers(window).clear()


def linked_views(window: MainWindow) -> LinkedViews:
    found = getattr(window, "linked_views", None)
    if not isinstance(found, LinkedViews):
        found = window.linked_views = LinkedViews(window)  # type: ignore[attr-defined]
    return found


def mark_view(window: MainWindow) -> None:
    linked_views(window).mark()


def link_view(window: MainWindow) -> Diameters | None:
    return linked_views(window).link()
