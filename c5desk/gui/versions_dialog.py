"""Model → Versions…: every model version — installed (the catalogue) or only named by the dataset's
predictions — activate one, or roll back in one click to the active version's parent (else the version
active before it). The catalogue decides; this dialog shows it and asks it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.dialog_parts import StatusLine, button_row
from c5desk.model.catalog import Catalog
from c5desk.model.metrics_view import gate_overridden, gate_text, listing_with_active, metrics_text
from c5desk.store import Store

COLUMNS = ["Active", "Version", "Created", "Parent", "Trained on", "Metrics", "Bundle", "In dataset"]
VERSION_ROLE = QtCore.Qt.ItemDataRole.UserRole
OVERRIDE_WARNING = (
    "GATE OVERRIDDEN: this version was published although the retrain gate found it worse than its base "
    "(or could not show it was not). Its outlines and scores may be less reliable."
)
OVERRIDDEN_TINT = QtGui.QColor(230, 140, 0, 90)  # translucent amber: readable in the dark and light themes


@dataclass
class VersionRow:
    version: str
    created: str
    parent: str | None
    domain: str = "—"
    metrics: str = "—"
    details: dict[str, Any] = field(default_factory=dict)
    active: bool = False
    in_store: bool = False
    bundle: Path | None = None
    origin: str = ""
    overridden: bool = False  # published although the retrain gate failed


def collect_versions(catalog: Catalog, store: Store | None) -> tuple[list[VersionRow], list[str]]:
    """Installed versions (and the active one, wherever it is) and the dataset's recorded ones, merged by
    version, oldest first; problems. Metrics are described as `c5desk models` describes them."""
    listing, active = listing_with_active(catalog)
    rows: dict[str, VersionRow] = {}
    for version, entry in listing.entries.items():
        described = "; ".join(filter(None, [metrics_text(entry), gate_text(entry)]))
        rows[version] = VersionRow(
            version, entry.created, entry.parent, entry.domain, described, dict(entry.spec.metrics),
            version == active, bundle=entry.folder, origin=entry.origin, overridden=gate_overridden(entry),
        )  # fmt: skip
    for recorded in store.model_versions() if store is not None else []:
        only_named = VersionRow(recorded.id, recorded.created_utc, recorded.parent, details=recorded.metrics)
        rows.setdefault(recorded.id, only_named).in_store = True
    return sorted(rows.values(), key=lambda r: (r.created, r.version)), listing.problems


class VersionsDialog(QtWidgets.QDialog):
    activated = QtCore.Signal(str, str)  # version, bundle folder

    def __init__(self, parent: QtWidgets.QWidget | None, catalog: Catalog, store: Store | None) -> None:
        super().__init__(parent)
        self.catalog, self.store = catalog, store
        self.rows: list[VersionRow] = []
        self.setWindowTitle("Model versions")
        self.resize(1150, 420)
        layout = QtWidgets.QVBoxLayout(self)
        self.active_label = QtWidgets.QLabel()  # the model in use, above the table: seen without scrolling
        self.active_label.setWordWrap(True)
        self.active_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        layout.addWidget(self.active_label)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, stretch=1)
        self.status = StatusLine()
        layout.addWidget(self.status)
        self.activate_button = QtWidgets.QPushButton("Activate selected")
        self.rollback_button = QtWidgets.QPushButton("Roll back")
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.close_button = QtWidgets.QPushButton("Close")
        layout.addLayout(
            button_row(
                [
                    (self.activate_button, self.activate_selected),
                    (self.rollback_button, self.roll_back),
                    (self.refresh_button, self.refresh),
                    (self.close_button, self.reject),
                ]
            )
        )
        self.refresh()

    # ---- table -----------------------------------------------------------------------------------------
    def refresh(self) -> None:
        try:
            self.rows, problems = collect_versions(self.catalog, self.store)
        except C5Error as exc:
            self.rows, problems = [], [str(exc)]
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.rows))
        for index, row in enumerate(self.rows):
            for column, item in enumerate(self._items(row)):
                item.setData(VERSION_ROLE, row.version)
                self.table.setItem(index, column, item)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()
        self._show_active()
        if problems:
            self.status.show_message("Unreadable bundles skipped: " + "; ".join(problems), "warn")
        elif not self.rows:
            self.status.show_message(f"No model versions yet (no bundle in {self.catalog.user_dir}).")
        self._update_buttons()

    def _items(self, row: VersionRow) -> list[QtWidgets.QTableWidgetItem]:
        texts = [
            "● active" if row.active else "",
            row.version,
            row.created.replace("T", " ")[:19],
            row.parent or "—",
            row.domain,
            row.metrics,
            f"{row.bundle.name} ({row.origin})" if row.bundle else "— missing",
            "yes" if row.in_store else "",
        ]
        items = [QtWidgets.QTableWidgetItem(text) for text in texts]
        items[5].setToolTip(json.dumps(row.details, indent=1, sort_keys=True, default=str))
        if row.bundle:
            items[6].setToolTip(str(row.bundle))
        if row.overridden:
            self._mark_overridden(items)
        if row.active:
            tint = self.palette().color(QtGui.QPalette.ColorRole.Highlight)
            tint.setAlpha(70)  # a translucent tint keeps the text readable in the dark and light themes
            highlight = QtGui.QBrush(tint)
            for item in items:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
                item.setBackground(highlight)
        return items

    def _mark_overridden(self, items: list[QtWidgets.QTableWidgetItem]) -> None:
        icon = self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MessageBoxWarning)
        items[1].setIcon(icon)
        for item in items:
            item.setBackground(QtGui.QBrush(OVERRIDDEN_TINT))
            item.setToolTip(OVERRIDE_WARNING)

    def _show_active(self) -> None:
        row = next((r for r in self.rows if r.active), None)
        text = f"Active model: {row.version} — {row.metrics}" if row else "No active model."
        self.active_label.setText(text)
        font = self.active_label.font()
        font.setBold(row is not None)
        self.active_label.setFont(font)

    def selected_version(self) -> str | None:
        items = self.table.selectedItems()
        return str(items[0].data(VERSION_ROLE)) if items else None

    def select_version(self, version: str) -> None:
        for index in range(self.table.rowCount()):
            if self.table.item(index, 1).data(VERSION_ROLE) == version:
                self.table.selectRow(index)
                return

    def _row(self, version: str | None) -> VersionRow | None:
        return next((r for r in self.rows if r.version == version), None)

    def _update_buttons(self) -> None:
        row = self._row(self.selected_version())
        self.activate_button.setEnabled(row is not None and not row.active)
        try:
            target = self.catalog.rollback_target()
        except C5Error:
            target = None
        self.rollback_button.setEnabled(target is not None)
        self.rollback_button.setToolTip(f"Activate {target}" if target else "Nothing to roll back to")

    # ---- actions ---------------------------------------------------------------------------------------
    def activate_selected(self) -> None:
        version = self.selected_version()
        if version is not None:
            self.activate_version(version)

    def roll_back(self) -> None:
        try:
            target = self.catalog.rollback_target()
        except C5Error as exc:
            self.status.show_message(f"Cannot roll back: {exc}", "error")
            return
        if target is None:
            self.status.show_message("Nothing to roll back to: no parent or earlier active version.", "warn")
            return
        self.activate_version(target, rolled_back=True)

    def activate_version(self, version: str, rolled_back: bool = False) -> bool:
        """Make an installed version the active model (recorded in the dataset too) and tell the app."""
        row = self._row(version)
        if row is None or row.bundle is None:
            self.status.show_message(
                f"Cannot activate {version}: its bundle is not installed (not in {self.catalog.user_dir} nor "
                "registered), so the app could not load it. Put the bundle folder back first.",
                "error",
            )
            return False
        if row.overridden and not self._confirm_overridden(version):
            self.status.show_message(f"{version} was not activated.", "warn")
            return False
        try:
            entry = self.catalog.activate(version, self.store)
        except C5Error as exc:
            self.status.show_message(f"Cannot activate {version}: {exc}", "error")
            return False
        self.refresh()
        self.select_version(version)
        verb = "Rolled back to" if rolled_back else "Activated"
        self.status.show_message(f"{verb} {version}; new predictions use it.", "ok")
        self.activated.emit(version, str(entry.folder))
        return True

    def _confirm_overridden(self, version: str) -> bool:
        """A bundle published with a failed gate is never activated without the user saying so."""
        buttons = QtWidgets.QMessageBox.StandardButton
        answer = QtWidgets.QMessageBox.question(
            self, "Gate overridden", f"{version}: {OVERRIDE_WARNING}\n\nActivate it anyway?",
            buttons.Yes | buttons.No, buttons.No,
        )  # fmt: skip
        return answer == buttons.Yes
