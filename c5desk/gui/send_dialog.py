"""File → Send to PACS…: the chosen cases' results (DICOM SEG + SR) to a DICOM peer, off the GUI thread.

The sending is c5desk.node.send_results, as `c5desk send` does it: de-identified by default (each frame's
results come with a de-identified capture of the stored frame); with "keep identity" they reference the
original DICOM files named here and carry their patient. It runs on a background Worker over a Store of
its own (the window may switch datasets meanwhile); the report lists what was sent and each failure.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.dialog_parts import StatusLine, button_row, with_browse
from c5desk.gui.worker import Worker
from c5desk.node import Destination, NodeError, SendReport, parse_destination, send_results, sendable_frames
from c5desk.node.config import check_ae_title
from c5desk.store import Store

if TYPE_CHECKING:
    from c5desk.gui.main_window import MainWindow

SHOWN_FAILURES = 8
CASE = QtCore.Qt.ItemDataRole.UserRole
CHECKED, UNCHECKED = QtCore.Qt.CheckState.Checked, QtCore.Qt.CheckState.Unchecked
IDENTITY_NOTE = (
    "The results will reference the original DICOM files below and carry their patient's identity. "
    "Frames without a matching original are not sent."
)
DOWN_HINT = "check that the destination runs and that its AE title, host and port are right"


def describe_report(report: SendReport, destination: Destination) -> str:
    text = f"To {destination}: {report.summary()}."
    shown = [f"{failure.what}: {failure.why}" for failure in report.failures[:SHOWN_FAILURES]]
    more = len(report.failures) - len(shown)
    return "\n".join([text, *shown, *([f"… and {more} more"] if more > 0 else [])])


def send_job(
    folder: Path, cases: list[str], destination: Destination, calling_ae: str, sources: list[Path] | None
) -> SendReport:
    """On the worker thread: send the cases' sendable frames; recorded in the dataset's audit log."""
    with Store.open(folder) as store:
        frames = sendable_frames(store, cases)
        if not frames:
            raise NodeError("nothing to send: no chosen frame has an annotation or a model result")
        report = send_results(store, frames, destination, calling_ae=calling_ae, dicom_sources=sources)
        counts = {"frames": len(frames), "sent": len(report.sent), "failed": len(report.failures)}
        store.log_action("send_results", after={"to": destination.ae_title, **counts})
    return report


class SendDialog(QtWidgets.QDialog):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.worker = Worker(self)
        self.sending = False
        self.report: SendReport | None = None
        self.setWindowTitle("Send to PACS")
        self.resize(600, 560)
        layout = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel("Results (DICOM SEG + SR) of the checked cases, in one association:")
        layout.addWidget(intro)
        self.case_list = QtWidgets.QListWidget()
        layout.addWidget(self.case_list, stretch=1)
        layout.addLayout(self._build_form())
        self.status = StatusLine()
        layout.addWidget(self.status)
        self.send_button, close = QtWidgets.QPushButton("Send"), QtWidgets.QPushButton("Close")
        select_all, select_none = QtWidgets.QPushButton("Check all"), QtWidgets.QPushButton("Check none")
        buttons = [(select_all, lambda: self._check_all(True)), (select_none, lambda: self._check_all(False)),
                   (self.send_button, self.send), (close, self.hide)]  # fmt: skip
        layout.addLayout(button_row(buttons))

    def _build_form(self) -> QtWidgets.QFormLayout:
        form = QtWidgets.QFormLayout()
        self.destination_edit = QtWidgets.QLineEdit(placeholderText="AE@HOST:PORT, e.g. PACS@10.0.0.5:104")
        form.addRow("Destination:", self.destination_edit)
        self.identity_check = QtWidgets.QCheckBox("Keep patient identity (reference the original files)")
        self.identity_check.toggled.connect(self._identity_toggled)
        form.addRow("", self.identity_check)
        self.sources_edit = QtWidgets.QLineEdit(placeholderText="Original files or folders, ';' between")
        form.addRow("DICOM sources:", with_browse(self.sources_edit, self._browse_sources))
        self.identity_note = StatusLine()
        form.addRow("", self.identity_note)
        self._identity_toggled(False)
        return form

    # ---- what can be sent ------------------------------------------------------------------------------
    def load(self) -> bool:
        """List the dataset's cases with something to send; the destination defaults to the node's."""
        if not self.destination_edit.text().strip():
            self.destination_edit.setText(str(self.window_.prefs["node_forward"]))
        store = self.window_.ensure_store()
        if store is None:
            self.status.show_message("No dataset is open: File → Open dataset…", "error")
            return False
        try:
            counts = Counter(store.frame_record(frame_id).case for frame_id in sendable_frames(store))
        except C5Error as exc:
            self.status.show_message(f"Cannot read the dataset: {exc}", "error")
            return False
        checked = set(self.checked_cases())
        self.case_list.clear()
        for case, count in sorted(counts.items()):
            item = QtWidgets.QListWidgetItem(f"{case}  ({count} frame(s) with results)")
            item.setData(CASE, case)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(CHECKED if case in checked else UNCHECKED)
            self.case_list.addItem(item)
        if not self.sending:
            none = "No case has results yet: save an annotation or let the model score a frame first."
            self.status.show_message(none if not counts else f"{len(counts)} case(s) with results.",
                                     "warn" if not counts else "info")  # fmt: skip
        return True

    def checked_cases(self) -> list[str]:
        items = (self.case_list.item(row) for row in range(self.case_list.count()))
        return [str(item.data(CASE)) for item in items if item.checkState() == CHECKED]

    def check_case(self, case: str, checked: bool = True) -> bool:
        for row in range(self.case_list.count()):
            item = self.case_list.item(row)
            if item.data(CASE) == case:
                item.setCheckState(CHECKED if checked else UNCHECKED)
                return True
        return False

    def _check_all(self, checked: bool) -> None:
        for row in range(self.case_list.count()):
            self.case_list.item(row).setCheckState(CHECKED if checked else UNCHECKED)

    def _identity_toggled(self, keep: bool) -> None:
        self.sources_edit.setEnabled(keep)
        self.identity_note.show_message(IDENTITY_NOTE if keep else "Results are sent de-identified.",
                                        "warn" if keep else "info")  # fmt: skip

    def _browse_sources(self) -> None:
        chosen = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder of the original DICOM files")
        if chosen:
            current = [p for p in self.sources_edit.text().split(";") if p.strip()]
            self.sources_edit.setText(";".join([*current, chosen]))

    # ---- sending ---------------------------------------------------------------------------------------
    def request(self) -> tuple[list[str], Destination, str, list[Path] | None] | None:
        """What to send, or None after saying what is wrong."""
        cases = self.checked_cases()
        if not self.destination_edit.text().strip():
            self.status.show_message("Not sent: enter the destination as AE@HOST:PORT.", "error")
            return None
        try:
            destination = parse_destination(self.destination_edit.text())
            calling = check_ae_title(str(self.window_.prefs["node_ae_title"]), "this node's AE title")
            # (set in File → DICOM node…: the peer sees it as the calling AE title)
        except NodeError as exc:
            self.status.show_message(f"Not sent: {exc}.", "error")
            return None
        sources = [Path(p.strip()).expanduser() for p in self.sources_edit.text().split(";") if p.strip()]
        keep = self.identity_check.isChecked()
        if not cases:
            self.status.show_message("Not sent: check at least one case.", "error")
        elif keep and not sources:
            self.status.show_message("Not sent: keeping identity needs the original DICOM files.", "error")
        else:
            return cases, destination, calling, sources if keep else None
        return None

    def send(self) -> bool:
        request = None if self.sending else self.request()
        if request is None:
            return False
        cases, destination, calling, sources = request
        folder = self.window_.store_folder

        def job() -> SendReport:
            return send_job(folder, cases, destination, calling, sources)

        if not self.worker.submit(job, lambda report: self._sent(report, destination), self._failed):
            return False
        self.sending, self.report = True, None
        self.send_button.setEnabled(False)
        self.status.show_message(f"Sending {len(cases)} case(s) to {destination}…")
        return True

    def _sent(self, report: SendReport, destination: Destination) -> None:
        self._done()
        self.report = report
        self.status.show_message(describe_report(report, destination), "ok" if report.ok else "warn")

    def _failed(self, message: str) -> None:
        self._done()
        down = "did not answer" in message or "refused the association" in message
        self.status.show_message(f"Not sent: {message}" + (f" ({DOWN_HINT})." if down else "."), "error")

    def _done(self) -> None:
        self.sending = False
        self.send_button.setEnabled(True)


def open_send_dialog(window: MainWindow) -> SendDialog:
    """The window's one Send dialog, its case list read again, shown and raised."""
    dialog = window.findChild(SendDialog) or SendDialog(window)
    dialog.load()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
