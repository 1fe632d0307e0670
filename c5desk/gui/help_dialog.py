"""Help → Keyboard shortcuts: a table built from the action table (so it can never drift from the keys);
Help → Model card and intended use: the loaded model's MODEL_CARD.md, its intended use at the top."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.actions import shortcut_rows
from c5desk.model.bundle import read_spec
from c5desk.model.catalog import Listing
from c5desk.model.catalog_entry import Entry
from c5desk.model.metrics_view import model_card

if TYPE_CHECKING:
    from c5desk.gui.main_window import MainWindow


class HelpDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("c5desk — keyboard shortcuts")
        rows = shortcut_rows()
        self.table = QtWidgets.QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Menu", "Command", "Keys"])
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.resizeColumnsToContents()
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 640)


class ModelCardDialog(QtWidgets.QDialog):
    """Help → Model card and intended use: the card of the model in use, intended use first."""

    def __init__(
        self, parent: QtWidgets.QWidget | None, entry: Entry | None, listing: Listing | None
    ) -> None:
        super().__init__(parent)
        self.card = model_card(entry, listing) if entry is not None else None
        self.setWindowTitle(f"Model card — {entry.version}" if entry is not None else "Model card")
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenLinks(False)  # a card is read here, never a door to files or the network
        self.browser.setMarkdown(self.card.markdown if self.card else NO_MODEL_CARD)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(820, 720)


NO_MODEL_CARD = "# No model loaded\n\nThere is no trained model, so there is no model card to show."


def model_in_use(window: MainWindow) -> tuple[Entry | None, Listing | None]:
    """The window's loaded bundle (else the catalogue's active one) as a catalogue entry."""
    catalog = window.models.catalog
    try:
        listing = catalog.scan()
        folder = window.link.bundle or catalog.active().folder
        spec = read_spec(folder)
    except C5Error:
        return None, None
    known = listing.entries.get(spec.version)
    return known or Entry(spec.version, Path(folder), spec, "loaded"), listing


def show_model_card(window: MainWindow) -> None:
    dialog = ModelCardDialog(window, *model_in_use(window))
    dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)  # opened often; never piles up
    dialog.exec()
