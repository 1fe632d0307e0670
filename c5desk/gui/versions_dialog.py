"""Model → Versions…: every model version (registered in the store or found as a bundle), activate one,
or roll back in one click to the active version's parent (else the version active before it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.dialog_parts import StatusLine, register_bundle_version, scan_bundles, summarise_metrics
from c5desk.model.bundle import BundleSpec
from c5desk.store import Store

COLUMNS = ["Active", "Version", "Created", "Parent", "Metrics", "Bundle", "In store"]
VERSION_ROLE = QtCore.Qt.ItemDataRole.UserRole


@dataclass
class VersionRow:
    version: str
    created: str
    parent: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    active: bool = False
    registered: bool = False
    bundle: Path | None = None


def collect_versions(
    store: Store, models_dir: Path
) -> tuple[list[VersionRow], dict[str, tuple[Path, BundleSpec]], list[str]]:
    """Registered versions and bundles in models_dir, merged by version, oldest first; unreadable bundles."""
    known, problems = scan_bundles(models_dir)
    rows: dict[str, VersionRow] = {}
    for v in store.model_versions():
        folder = known.get(v.id, (None, None))[0]
        rows[v.id] = VersionRow(v.id, v.created_utc, v.parent, dict(v.metrics), v.active, True, folder)
    for version, (folder, spec) in known.items():
        if version not in rows:
            rows[version] = VersionRow(version, spec.created, spec.parent, dict(spec.metrics), bundle=folder)
    return sorted(rows.values(), key=lambda r: (r.created, r.version)), known, problems


def rollback_target(store: Store) -> str | None:
    """The active version's registered parent, else the version that was active before it."""
    active = store.active_model_version()
    if active is None:
        return None
    registered = {v.id for v in store.model_versions()}
    if active.parent and active.parent in registered:
        return active.parent
    for entry in reversed(store.audit_log(action="activate_model")):
        before = (entry.before or {}).get("active")
        if entry.model_version == active.id and before and before != active.id and before in registered:
            return str(before)
    return None


class VersionsDialog(QtWidgets.QDialog):
    activated = QtCore.Signal(str, str)  # version, bundle folder

    def __init__(self, parent: QtWidgets.QWidget | None, store: Store, models_dir: Path) -> None:
        super().__init__(parent)
        self.store, self.models_dir = store, Path(models_dir)
        self.rows: list[VersionRow] = []
        self._known: dict[str, tuple[Path, BundleSpec]] = {}
        self.setWindowTitle("Model versions")
        self.resize(950, 420)
        layout = QtWidgets.QVBoxLayout(self)
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
        row = QtWidgets.QHBoxLayout()
        self.activate_button = QtWidgets.QPushButton("Activate selected")
        self.rollback_button = QtWidgets.QPushButton("Roll back")
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.close_button = QtWidgets.QPushButton("Close")
        for button, slot in (
            (self.activate_button, self.activate_selected),
            (self.rollback_button, self.roll_back),
            (self.refresh_button, self.refresh),
            (self.close_button, self.reject),
        ):
            button.setAutoDefault(False)
            button.clicked.connect(slot)
            row.addWidget(button)
        layout.addLayout(row)
        self.refresh()

    # ---- table -----------------------------------------------------------------------------------------
    def refresh(self) -> None:
        try:
            self.rows, self._known, problems = collect_versions(self.store, self.models_dir)
        except C5Error as exc:
            self.rows, self._known, problems = [], {}, [str(exc)]
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.rows))
        for index, row in enumerate(self.rows):
            for column, item in enumerate(self._items(row)):
                item.setData(VERSION_ROLE, row.version)
                self.table.setItem(index, column, item)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()
        if problems:
            self.status.show_message("Unreadable bundles skipped: " + "; ".join(problems), "warn")
        elif not self.rows:
            self.status.show_message(
                f"No model versions yet (none registered, no bundle in {self.models_dir})."
            )
        self._update_buttons()

    def _items(self, row: VersionRow) -> list[QtWidgets.QTableWidgetItem]:
        texts = [
            "● active" if row.active else "",
            row.version,
            row.created.replace("T", " ")[:19],
            row.parent or "—",
            summarise_metrics(row.metrics) or "—",
            row.bundle.name if row.bundle else "— missing",
            "registered" if row.registered else "bundle only",
        ]
        items = [QtWidgets.QTableWidgetItem(text) for text in texts]
        items[4].setToolTip(json.dumps(row.metrics, indent=1, sort_keys=True, default=str))
        if row.bundle:
            items[5].setToolTip(str(row.bundle))
        if row.active:
            for item in items:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
        return items

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
            target = rollback_target(self.store)
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
            target = rollback_target(self.store)
        except C5Error as exc:
            self.status.show_message(f"Cannot roll back: {exc}", "error")
            return
        if target is None:
            self.status.show_message("Nothing to roll back to: no parent or earlier active version.", "warn")
            return
        self.activate_version(target, rolled_back=True)

    def activate_version(self, version: str, rolled_back: bool = False) -> bool:
        """Register the version from its bundle if needed, make it active, and tell the app."""
        row = self._row(version)
        if row is None or row.bundle is None:
            self.status.show_message(
                f"Cannot activate {version}: its bundle is not in {self.models_dir}, so the app could "
                "not load it. Put the bundle folder back there first.",
                "error",
            )
            return False
        try:
            if not row.registered:
                register_bundle_version(self.store, self._known[version][1], self._known)
            self.store.activate_model_version(version)
        except C5Error as exc:
            self.status.show_message(f"Cannot activate {version}: {exc}", "error")
            return False
        self.refresh()
        self.select_version(version)
        verb = "Rolled back to" if rolled_back else "Activated"
        self.status.show_message(f"{verb} {version}; new predictions use it.", "ok")
        self.activated.emit(version, str(row.bundle))
        return True
