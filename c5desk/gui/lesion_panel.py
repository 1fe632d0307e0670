"""Several lesions on a frame in the window: the lesion list beside the image, the other lesions drawn on the
frame, and the Lesion menu's commands (new, next, remove, split, make main).

The list shows each lesion's number, label, category, size and score; the selected row is the lesion every
tool edits (c5desk.reading.lesion_list). The active lesion keeps the usual fill and contour; each other one
is a dashed outline in its own colour with its number, the same colour as its row's swatch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.overlays import lesion_colour

if TYPE_CHECKING:
    from c5desk.gui.main_window import MainWindow
    from c5desk.reading.document import Document
    from c5desk.reading.lesion_list import LesionSummary

LIST_ROWS = 3  # rows in view before the list scrolls
SHORT_NAMES = {  # action -> its button's text
    "add_lesion": "New", "split_lesions": "Split", "remove_lesion": "Remove", "main_lesion": "Main",
}  # fmt: skip


def describe(summary: LesionSummary, count: int) -> str:
    """One row: "2  benign · BI-RADS 3 · 12.1 × 7.9 mm · P 0.18" ("main" on lesion 1 of several)."""
    parts = [summary.label or "no label"]
    if summary.category:
        parts.append(summary.category)
    m = summary.measurements
    if not summary.outlined:
        parts.append("not outlined")
    elif m is not None:
        parts.append(f"{m.long_axis:.1f} × {m.short_axis:.1f} {m.units}")
    if summary.p_malignant is not None:
        parts.append(f"P {summary.p_malignant:.2f}")
    main = " (main)" if summary.number == 1 and count > 1 else ""
    return f"{summary.number}{main}  " + " · ".join(parts)


class LesionPanel(QtWidgets.QWidget):
    """The lesion list, shown from a second lesion on; its buttons (`controls`: New and Split, then Remove
    and Main) sit beside the label panel's category, so that a frame with one lesion costs no height and
    1280×720 keeps the tools in view. The label panel's title says which lesion it labels."""

    selected = QtCore.Signal(int)  # the user chose lesion `index` (0 = main) in the list

    def __init__(self, actions: dict[str, QtGui.QAction], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QtWidgets.QListWidget()
        self.list.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setToolTip("The lesion the tools edit; the others show dashed with their number")
        layout.addWidget(self.list)
        self.controls = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(self.controls)
        row.setContentsMargins(0, 0, 0, 0)
        self.label_box: QtWidgets.QGroupBox | None = None  # retitled "Label of lesion 2 of 3"
        self.buttons: dict[str, QtWidgets.QToolButton] = {}
        for key, short in SHORT_NAMES.items():
            actions[key].setIconText(short)  # the button's text; the menu keeps the full name
            button = QtWidgets.QToolButton()
            button.setDefaultAction(actions[key])
            button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
            row.addWidget(button)
            self.buttons[key] = button
        self.list.currentRowChanged.connect(self._row_changed)
        self._showing = False
        self.setEnabled(False)

    def show_document(self, doc: Document | None) -> None:
        """Rows for the document's lesions, the active one selected (without reporting a selection)."""
        self._showing = True
        try:
            summaries = doc.lesion_summaries() if doc is not None else []
            while self.list.count() > len(summaries):
                self.list.takeItem(self.list.count() - 1)
            for index, summary in enumerate(summaries):
                if index >= self.list.count():
                    self.list.addItem(QtWidgets.QListWidgetItem())
                item = self.list.item(index)
                item.setText(describe(summary, len(summaries)))
                item.setIcon(_swatch(lesion_colour(summary.number, summary.active)))
            if doc is not None:
                self.list.setCurrentRow(doc.active_lesion)
            several = len(summaries) > 1
            self.setVisible(several)
            self.buttons["remove_lesion"].setVisible(several)
            self.buttons["main_lesion"].setVisible(several)
            if several:
                rows = min(LIST_ROWS, len(summaries))
                self.list.setFixedHeight(rows * self.list.sizeHintForRow(0) + 2 * self.list.frameWidth() + 2)
            self._show_model_regions(doc)
            if self.label_box is not None:
                which = f" of lesion {doc.active_lesion + 1} of {len(summaries)}" if several else ""
                self.label_box.setTitle(f"Label{which}")
            self.setEnabled(doc is not None)
            self.controls.setEnabled(doc is not None)
        finally:
            self._showing = False

    def _show_model_regions(self, doc: Document | None) -> None:
        """ "Split (3)" while the outline is the model's and holds 3 regions it scored as separate lesions."""
        found = len(doc.model_lesions()) if doc is not None and doc.lesion_count == 1 else 0
        split = self.buttons["split_lesions"].defaultAction()
        split.setIconText(f"Split ({found})" if found else SHORT_NAMES["split_lesions"])
        regions = f"The model outlined {found} separate regions: " if found else ""
        split.setToolTip(regions + "each separate region becomes its own lesion, with its own score")

    def _row_changed(self, row: int) -> None:
        if not self._showing and row >= 0:
            self.selected.emit(row)


def _swatch(rgb: tuple[int, int, int]) -> QtGui.QIcon:
    pixmap = QtGui.QPixmap(12, 12)
    pixmap.fill(QtGui.QColor(*rgb))
    return QtGui.QIcon(pixmap)


# ---- the Lesion menu's commands (actions.py) --------------------------------------------------------------
def _change(window: MainWindow, change: str, *args: int) -> bool:
    """Run one lesion-list change on the open frame; the view follows (or the reason is shown)."""
    doc = window.document
    if doc is None:
        window.show_status("Open a frame first")
        return False
    try:
        result = getattr(doc, change)(*args)
    except C5Error as exc:
        window.show_status(str(exc), 5000)
        return False
    window.canvas.show_threshold_preview(None)  # a preview belongs to the lesion it was made for
    window.reading.edited(redraw=True)  # rescore the lesion now active; redraw with the others
    window.label_panel.set_document(doc)
    return result is not False


def select_lesion(window: MainWindow, index: int) -> bool:
    return _change(window, "select_lesion", index)


def add_lesion(window: MainWindow) -> bool:
    added = _change(window, "add_lesion")
    if added:
        window.show_status("New lesion: outline it with a prompt, the brush or the lasso", 5000)
    return added


def next_lesion(window: MainWindow) -> bool:
    doc = window.document
    return doc is not None and select_lesion(window, (doc.active_lesion + 1) % doc.lesion_count)


def remove_lesion(window: MainWindow) -> bool:
    doc = window.document
    if doc is None or doc.lesion_count < 2:
        return _change(window, "remove_lesion")  # says why it cannot
    answer = QtWidgets.QMessageBox.question(
        window, "Remove lesion", f"Remove lesion {doc.active_lesion + 1} and its outline from this frame?"
    )
    return answer == QtWidgets.QMessageBox.StandardButton.Yes and _change(window, "remove_lesion")


def split_lesions(window: MainWindow) -> bool:
    doc = window.document
    if doc is None:
        return _change(window, "split_lesions")
    before = doc.lesion_count
    if _change(window, "split_lesions") and doc.lesion_count > before:
        window.show_status(f"Split into {doc.lesion_count - before + 1} lesions, the largest the main one")
        return True
    window.show_status("The outline is one region: nothing to split", 5000)
    return False


def make_main(window: MainWindow) -> bool:
    doc = window.document
    return doc is not None and _change(window, "make_main", doc.active_lesion)
