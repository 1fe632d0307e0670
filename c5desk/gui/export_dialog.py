"""File → Export…: write the store's annotations in one of its formats, on a worker thread.

The export itself is c5desk.store.exports.run_export: the output folder appears complete or not at all,
so a cancel or an error never leaves half an export behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtWidgets

from c5desk.errors import C5Error
from c5desk.gui.dialog_parts import StatusLine, button_row, with_browse
from c5desk.gui.task_runner import TaskThread
from c5desk.store import Store
from c5desk.store.export_common import ExportSummary
from c5desk.store.exports import FORMATS, run_export

DESCRIPTIONS = {
    "masks": "PNG masks, one per annotated frame",
    "coco": "COCO JSON with images (for detection/segmentation tools)",
    "csv": "CSV table: labels, measurements and scores",
    "labelled-folder": "Labelled folder (labels.csv + images + masks), ready for training",
    "dicom-seg": "DICOM SEG (for PACS and DICOM viewers)",
    "report": "Per-case report with pictures",
}
SHOWN_SKIPS = 5


def describe_summary(summary: ExportSummary) -> str:
    text = (
        f"Exported {summary.exported} of {summary.total} frame(s), {summary.files} file(s), to {summary.out}."
    )
    if summary.skipped:
        shown = "; ".join(f"{stem}: {why}" for stem, why in summary.skipped[:SHOWN_SKIPS])
        more = len(summary.skipped) - SHOWN_SKIPS
        text += f"\nSkipped {len(summary.skipped)}: {shown}" + (f" (and {more} more)" if more > 0 else "")
    return "\n".join([text, *summary.notes])


class ExportDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None, store: Store) -> None:
        super().__init__(parent)
        self.store = store
        self._thread: TaskThread | None = None
        self._running = False
        self.summary: ExportSummary | None = None
        self.setWindowTitle("Export annotations")
        self.resize(640, 320)
        layout = QtWidgets.QVBoxLayout(self)
        form = QtWidgets.QFormLayout()
        self.format_combo = QtWidgets.QComboBox()
        for fmt in FORMATS:
            self.format_combo.addItem(f"{DESCRIPTIONS.get(fmt, fmt)}  [{fmt}]", fmt)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        form.addRow("Format:", self.format_combo)
        self.dest_edit = QtWidgets.QLineEdit()
        self.dest_edit.setPlaceholderText("A new (or empty) folder for the export")
        form.addRow("Destination:", with_browse(self.dest_edit, self._browse_destination))
        self.sources_edit = QtWidgets.QLineEdit()
        self.sources_edit.setPlaceholderText("Original DICOM files or folders, separated by ';'")
        form.addRow("DICOM sources:", with_browse(self.sources_edit, self._browse_sources))
        self.identity_check = QtWidgets.QCheckBox("Keep patient identity (for sending back to PACS)")
        form.addRow("", self.identity_check)
        layout.addLayout(form)
        self.progress = QtWidgets.QProgressBar()
        layout.addWidget(self.progress)
        self.status = StatusLine()
        layout.addWidget(self.status, stretch=1)
        layout.addLayout(self._build_buttons())
        self._show_count()
        self._format_changed()
        self._update_buttons()

    def _build_buttons(self) -> QtWidgets.QHBoxLayout:
        self.export_button = QtWidgets.QPushButton("Export")
        self.cancel_button = QtWidgets.QPushButton("Cancel export")
        self.close_button = QtWidgets.QPushButton("Close")
        buttons = [
            (self.export_button, self.start),
            (self.cancel_button, self.cancel),
            (self.close_button, self.reject),
        ]
        return button_row(buttons, leading_stretch=True)

    def _show_count(self) -> None:
        try:
            count = len(self.store.annotations())
        except C5Error as exc:
            self.status.show_message(f"Cannot read the store: {exc}", "error")
            return
        kind = "info" if count else "warn"
        self.status.show_message(
            f"{count} annotated frame(s) in {self.store.folder.name} will be exported.", kind
        )

    def selected_format(self) -> str:
        return str(self.format_combo.currentData())

    def set_format(self, fmt: str) -> None:
        self.format_combo.setCurrentIndex(self.format_combo.findData(fmt))

    def _format_changed(self) -> None:
        dicom = self.selected_format() == "dicom-seg"  # the only format that can use the original files
        self.sources_edit.setEnabled(dicom)
        self.identity_check.setEnabled(dicom)
        if not dicom:
            self.identity_check.setChecked(False)

    def _browse_destination(self) -> None:
        chosen = QtWidgets.QFileDialog.getExistingDirectory(self, "Export into", self.dest_edit.text())
        if chosen:
            folder = Path(chosen)
            empty = folder.is_dir() and not any(folder.iterdir())
            name = f"{self.store.folder.name}-{self.selected_format()}"
            self.dest_edit.setText(str(folder if empty else folder / name))

    def _browse_sources(self) -> None:
        chosen = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder of the original DICOM files")
        if chosen:
            current = [p for p in self.sources_edit.text().split(";") if p.strip()]
            self.sources_edit.setText(";".join([*current, chosen]))

    # ---- running ---------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._running

    def start(self) -> None:
        if self._running:
            return
        text = self.dest_edit.text().strip()
        if not text:
            self.status.show_message("Choose a destination folder for the export.", "error")
            return
        fmt, out = self.selected_format(), Path(text).expanduser().absolute()
        sources = [Path(p.strip()).expanduser() for p in self.sources_edit.text().split(";") if p.strip()]
        job = self._job(fmt, out, sources if fmt == "dicom-seg" else None, self.identity_check.isChecked())
        thread = TaskThread(job)
        thread.progress.connect(self._on_progress)
        thread.succeeded.connect(self._on_done)
        thread.failed.connect(self._on_failed)
        self._thread, self._running, self.summary = thread, True, None
        self.progress.setRange(0, 0)
        self.status.show_message(f"Exporting {fmt} to {out}…")
        self._update_buttons()
        thread.start()

    def _job(self, fmt: str, out: Path, sources: list[Path] | None, keep_identity: bool):
        store = self.store  # its connection is shared safely across threads (one lock per store)

        def job(cancel: threading.Event, report: Callable[[object], None]) -> ExportSummary:
            return run_export(
                store, fmt, out, dicom_sources=sources or None, keep_identity=keep_identity,
                progress=lambda done, total: report((done, total)), cancel=cancel.is_set,
            )  # fmt: skip

        return job

    def cancel(self) -> None:
        if self._thread is not None and self._running:
            self._thread.cancel()
            self.status.show_message("Cancelling the export…", "warn")
            self._update_buttons()

    def _on_progress(self, payload: object) -> None:
        done, total = payload  # type: ignore[misc]
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(done, total))

    def _on_done(self, summary: object) -> None:
        self._finish(complete=True)
        assert isinstance(summary, ExportSummary)
        self.summary = summary
        self.status.show_message(describe_summary(summary), "warn" if summary.skipped else "ok")

    def _on_failed(self, message: str) -> None:
        cancelled = self._thread is not None and self._thread.cancel_event.is_set()
        self._finish()
        if cancelled:
            self.status.show_message("Export cancelled; nothing was written.", "warn")
        else:
            self.status.show_message(f"Export failed: {message}", "error")

    def _finish(self, complete: bool = False) -> None:
        self._running = False
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if complete else 0)
        self._update_buttons()

    def _update_buttons(self) -> None:
        cancelling = self._thread is not None and self._thread.cancel_event.is_set()
        self.export_button.setEnabled(not self._running)
        self.cancel_button.setEnabled(self._running and not cancelling)
        self.format_combo.setEnabled(not self._running)

    def done(self, result: int) -> None:
        if self._thread is not None:  # the export is cancelled; its folder is then never published
            self._thread.stop()
            self._running = False
        super().done(result)
