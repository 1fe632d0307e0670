"""View → Received from DICOM: what the DICOM node received, newest first; double-click opens a frame.

Read from the dataset alone (c5desk.node.received_frames), so it shows the same whether the node runs in
this app's node process, in another, or not at all. Refreshed by its button, when shown, and on a timer
while the window's node runs (reading the store is cheap; the rows keep their selection).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.dialog_parts import StatusLine, button_row
from c5desk.gui.node_process import NodeProcess

if TYPE_CHECKING:
    from c5desk.gui.main_window import MainWindow
    from c5desk.node import ReceivedFrame
    from c5desk.store import Store

COLUMNS = ("Received", "From (AE)", "Case", "Frame", "AI score", "Status")
REFRESH_MS = 3000
FRAME_ID = QtCore.Qt.ItemDataRole.UserRole


def local_time(utc_text: str) -> str:
    """'2024-05-01T09:30:00+00:00' → local 'YYYY-MM-DD HH:MM:SS'; the text itself when it is not a time."""
    try:
        return datetime.fromisoformat(utc_text).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return utc_text


def row_cells(item: ReceivedFrame, annotated: str | None) -> list[str]:
    """The cells of one row; `annotated`: the frame's saved label, if a clinician saved one."""
    scored = item.model_version is not None
    score = "—" if item.p_malignant is None else f"{item.p_malignant:.2f}"
    if item.p_malignant is not None and item.label:
        score += f" ({item.label})"
    elif scored and item.label == "normal":
        score = "no lesion found"
    if annotated:
        status = f"annotated ({annotated})"
    elif scored:
        status = f"scored by {item.model_version}"
    else:
        status = "waiting for the model"
    frame = str(item.frame_index + 1)
    return [local_time(item.received_utc), item.calling_ae, item.case, frame, score, status]


class ReceivedList(QtWidgets.QWidget):
    open_requested = QtCore.Signal(int)  # a store frame id

    def __init__(self, store: Callable[[], Store | None], node: NodeProcess) -> None:
        super().__init__()
        self._store, self.node = store, node
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.doubleClicked.connect(self._open_index)
        self.status = StatusLine()
        refresh, open_button = QtWidgets.QPushButton("Refresh"), QtWidgets.QPushButton("Open")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.table, stretch=1)
        layout.addWidget(self.status)
        layout.addLayout(button_row([(refresh, self.refresh), (open_button, self.open_selected)]))
        self.timer = QtCore.QTimer(self, interval=REFRESH_MS)
        self.timer.timeout.connect(self._tick)
        node.changed.connect(self._node_changed)

    def frame_ids(self) -> list[int]:
        return [int(self.table.item(row, 0).data(FRAME_ID)) for row in range(self.table.rowCount())]

    def refresh(self) -> bool:
        """Read the list again from the dataset; False (with the reason below the list) when it cannot."""
        store = self._store()
        if store is None:
            self.status.show_message("The dataset is not available (see the status bar).", "error")
            return False
        from c5desk.node import received_frames  # not at start-up: it loads pydicom and pynetdicom

        try:
            found = received_frames(store)
            annotated = {item.frame_id: store.annotation(item.frame_id) for item in found}
        except C5Error as exc:
            self.status.show_message(f"Cannot read the dataset: {exc}", "error")
            return False
        self._show([(item, getattr(annotated[item.frame_id], "label", None)) for item in found])
        node = f" Node: {self.node.status_text()}." if self.node.is_running() else ""
        self.status.show_message(f"{len(found)} frame(s) received over DICOM.{node}")
        return True

    def _show(self, rows: list[tuple[ReceivedFrame, str | None]]) -> None:
        selected = self.selected_frame_id()
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(rows))
        for number, (item, label) in enumerate(rows):
            for column, text in enumerate(row_cells(item, label)):
                cell = QtWidgets.QTableWidgetItem(text)
                cell.setData(FRAME_ID, item.frame_id)
                self.table.setItem(number, column, cell)
            if item.frame_id == selected:
                self.table.selectRow(number)
        self.table.resizeColumnsToContents()
        self.table.setUpdatesEnabled(True)

    def selected_frame_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.frame_ids()[rows[0].row()] if rows else None

    def open_selected(self) -> None:
        frame_id = self.selected_frame_id()
        if frame_id is None:
            self.status.show_message("Select a received frame to open.", "warn")
            return
        self.open_requested.emit(frame_id)

    def _open_index(self, index: QtCore.QModelIndex) -> None:
        if 0 <= index.row() < self.table.rowCount():
            self.open_requested.emit(self.frame_ids()[index.row()])

    def _node_changed(self) -> None:
        if self.node.is_running():
            self.timer.start()
        else:
            self.timer.stop()
            if self.isVisible():
                self.refresh()  # what arrived before it stopped

    def _tick(self) -> None:
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()


def show_received(window: MainWindow) -> None:
    """View → Received from DICOM: the dock shown, raised and refreshed."""
    window.received_dock.show()
    window.received_dock.raise_()
    window.received_list.refresh()
