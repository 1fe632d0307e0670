"""File → Score folder…: score every frame file in a folder into a CSV on a worker thread, then browse.

Scoring is c5desk.batch.score_paths (resumable: rerunning with the same CSV continues where a cancelled
run stopped). Results land in a sortable, filterable table; double-clicking a row opens that frame. The model
stays loaded between runs, and closing never drops a run or a table unasked (c5desk.gui.batch_parts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from c5desk.batch import Summary, score_paths
from c5desk.gui import batch_parts
from c5desk.gui.dialog_parts import StatusLine, button_row, with_browse
from c5desk.gui.results_table import ERROR_COLUMN, ResultsFilter, ResultsModel, read_results
from c5desk.gui.task_runner import TaskThread

FRAME_CHOICES = [("First frame of each file", "first"), ("Every frame", "all")]
LABEL_CHOICES = [("All rows", ""), ("Malignant", "malignant"), ("Benign", "benign"), ("Failed", "error")]
ERROR_WIDTH = 260  # px: the reason's start beside the status; the tooltip has all of it
NO_MODEL = (
    "No trained model is available, so nothing can be scored. Train one (Model → Retrain…) or install a "
    "bundle first: c5desk never scores with untrained weights."
)


class ScoreFolderDialog(QtWidgets.QDialog):
    open_requested = QtCore.Signal(str, int)  # path, frame index

    def __init__(
        self,
        parent: QtWidgets.QWidget | None,
        bundle: Path | None,
        *,
        device: str = "auto",
        backend: str = "auto",
    ) -> None:
        super().__init__(parent)
        self.bundle = Path(bundle) if bundle is not None else None
        self.device, self.backend = device, backend
        self._thread: TaskThread | None = None
        self._running = False
        self._cancel_requested = False  # by the user: score_paths sets the event itself when it ends
        self._folder: Path | None = None
        self._out_csv: Path | None = None  # the running or last run's CSV
        self._results_csv: Path | None = None  # the CSV the rows shown were read from
        self._predictors = batch_parts.cache_for(parent if parent is not None else self)
        self.setWindowTitle("Score a folder")
        self.resize(1000, 650)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(self._build_inputs())
        layout.addLayout(self._build_run_row())
        self.status = StatusLine()
        layout.addWidget(self.status)
        layout.addLayout(self._build_filters())
        self.model = ResultsModel(self)
        self.proxy = ResultsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.doubleClicked.connect(self._open_index)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(ERROR_COLUMN, ERROR_WIDTH)
        layout.addWidget(self.table, stretch=1)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        if self.bundle is None:
            self.status.show_message(NO_MODEL, "error")
        else:
            self.status.show_message(f"Model: {self.bundle.name}. Choose a folder and an output CSV.")
        self._update_buttons()

    # ---- layout ----------------------------------------------------------------------------------------
    def _build_inputs(self) -> QtWidgets.QFormLayout:
        form = QtWidgets.QFormLayout()
        self.folder_edit = QtWidgets.QLineEdit()
        self.folder_edit.setPlaceholderText("Folder of images, DICOM files or videos (searched recursively)")
        self.folder_edit.editingFinished.connect(self._default_output)
        self.output_edit = QtWidgets.QLineEdit()
        self.output_edit.setPlaceholderText("CSV file for the scores (an existing one is resumed)")
        form.addRow("Folder:", with_browse(self.folder_edit, self._browse_folder))
        form.addRow("Output CSV:", with_browse(self.output_edit, self._browse_output))
        self.frames_combo = QtWidgets.QComboBox()
        for text, value in FRAME_CHOICES:
            self.frames_combo.addItem(text, value)
        form.addRow("Frames:", self.frames_combo)
        return form

    def _build_run_row(self) -> QtWidgets.QHBoxLayout:
        self.progress = QtWidgets.QProgressBar()
        self.progress_label = QtWidgets.QLabel()
        self.start_button = QtWidgets.QPushButton("Score")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.close_button = QtWidgets.QPushButton("Close")
        row = button_row(
            [
                (self.start_button, self.start),
                (self.cancel_button, self.cancel),
                (self.close_button, self.reject),
            ]
        )
        row.insertWidget(0, self.progress, stretch=1)
        row.insertWidget(1, self.progress_label)
        return row

    def _build_filters(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        self.label_combo = QtWidgets.QComboBox()
        for text, value in LABEL_CHOICES:
            self.label_combo.addItem(text, value)
        self.label_combo.currentIndexChanged.connect(
            lambda: self.proxy.set_label(self.label_combo.currentData())
        )
        self.filter_edit = QtWidgets.QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by file name, label, error or model…")
        self.filter_edit.textChanged.connect(lambda text: self.proxy.set_text(text))
        self.count_label = QtWidgets.QLabel()
        row.addWidget(QtWidgets.QLabel("Show:"))
        row.addWidget(self.label_combo)
        row.addWidget(self.filter_edit, stretch=1)
        row.addWidget(self.count_label)
        return row

    def _browse_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder to score", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self._default_output()

    def _browse_output(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Scores CSV", self.output_edit.text(), "CSV files (*.csv)",
            options=QtWidgets.QFileDialog.Option.DontConfirmOverwrite,  # an existing CSV is resumed
        )  # fmt: skip
        if path:
            self.output_edit.setText(path)

    def _default_output(self) -> None:
        folder = self.folder_edit.text().strip()
        if folder and not self.output_edit.text().strip():
            path = Path(folder).expanduser().absolute()
            self.output_edit.setText(str(path.parent / f"{path.name}_scores.csv"))

    # ---- running ---------------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._running

    def start(self) -> None:
        if self._running:
            return
        if self.bundle is None:
            self.status.show_message(NO_MODEL, "error")
            return
        folder = Path(self.folder_edit.text().strip()).expanduser().absolute()
        if not self.folder_edit.text().strip() or not folder.is_dir():
            self.status.show_message("Choose an existing folder to score.", "error")
            return
        self._default_output()
        out_csv = Path(self.output_edit.text().strip()).expanduser().absolute()
        if out_csv.is_dir():
            self.status.show_message(f"{out_csv} is a folder; choose a CSV file name.", "error")
            return
        self._folder, self._out_csv = folder, out_csv
        self._frames = str(self.frames_combo.currentData())
        self._cancel_requested = False
        thread = TaskThread(self._job(self.bundle, folder, out_csv, self._frames))
        thread.progress.connect(self._on_progress)
        thread.succeeded.connect(self._on_done)
        thread.failed.connect(self._on_failed)
        self._thread, self._running = thread, True
        self.progress.setRange(0, 0)
        self.status.show_message(f"Scoring {folder} → {out_csv.name}…")
        self._update_buttons()
        thread.start()

    def _job(self, bundle: Path, folder: Path, out_csv: Path, frames: str):
        """The run, for the worker thread: the window's model, else the kept one, else one loaded there."""
        device, backend, cache = self.device, self.backend, self._predictors
        shared = None
        if device == "auto" and backend == "auto":  # the caller left the choice to the window
            shared = batch_parts.window_predictor(self.parent(), bundle)

        def job(cancel: threading.Event, report: Callable[[object], None]) -> tuple[Summary, list]:
            def load_now():
                report(None)
                return batch_parts.load(bundle, device, backend)

            def score(predictor) -> tuple[Summary, list]:
                summary = score_paths(
                    [folder], predictor, out_csv, frames=frames, cancel=cancel,
                    progress=lambda s, files: report((s.ok, s.errors, s.skipped, files)),
                )  # fmt: skip
                return summary, read_results(out_csv)

            if shared is not None:
                return score(shared)
            with cache.borrow((str(bundle.resolve()), device, backend), load_now) as predictor:
                return score(predictor)

        return job

    def cancel(self) -> None:
        if self._thread is not None and self._running:
            self._cancel_requested = True
            self._thread.cancel()
            self.status.show_message("Cancelling after the current batch…", "warn")
            self._update_buttons()

    def _on_progress(self, payload: object) -> None:
        if payload is None:
            self.progress_label.setText("Loading the model…")
            return
        ok, errors, skipped, files = payload  # type: ignore[misc]
        done = ok + errors + skipped
        if self._frames == "first" and files:
            self.progress.setRange(0, files)
            self.progress.setValue(min(done, files))
        self.progress_label.setText(f"{ok} scored, {errors} failed, {skipped} already in the CSV")

    def _on_done(self, result: object) -> None:
        summary, rows = result  # type: ignore[misc]
        self._finish()
        self.model.set_rows(rows, root=self._folder)
        self._results_csv = self._out_csv
        self.status.show_message(*self._outcome(summary))

    def _outcome(self, summary: Summary) -> tuple[str, str]:
        """(message, kind) for a finished run. Only the user's Cancel makes it "Cancelled"."""
        counts = (
            f"{summary.ok} scored, {summary.errors} failed, {summary.skipped} skipped (already in the CSV)"
        )
        where = f" Results: {self._out_csv}" if self._out_csv else ""
        if summary.aborted:
            why = f"Reading stopped early ({summary.aborted}); the files left are listed as failed."
            return f"{why} {counts}.{where}", "error"
        if self._cancel_requested and summary.cancelled:
            return f"Cancelled: {counts}. Score again with the same CSV to resume.{where}", "warn"
        if summary.errors:
            return f"Done with errors: {counts}. Filter on “Failed” to see them.{where}", "warn"
        return f"Done: {counts}.{where}", "ok"

    def _on_failed(self, message: str) -> None:
        self._finish()
        self.status.show_message(f"Scoring failed: {message}", "error")

    def _finish(self) -> None:
        self._running = False
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress_label.setText("")
        self._update_buttons()

    def _update_buttons(self) -> None:
        cancelling = self._thread is not None and self._thread.cancel_event.is_set()
        self.start_button.setEnabled(self.bundle is not None and not self._running)
        self.cancel_button.setEnabled(self._running and not cancelling)

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()} rows")

    def _open_index(self, index: QtCore.QModelIndex) -> None:
        source = self.proxy.mapToSource(index)
        if not source.isValid():
            return
        row = self.model.rows[source.row()]
        try:
            frame = int(row.get("frame") or 0)
        except ValueError:
            frame = 0
        self.open_requested.emit(row.get("source") or "", frame)

    def reject(self) -> None:
        """Esc, Close and the title bar's close: asked first when a run or a results table would go."""
        csv = self._out_csv if self._running else self._results_csv
        if batch_parts.may_close(self, self._running, self.model.rows, csv):
            super().reject()

    def done(self, result: int) -> None:
        if self._thread is not None:  # a job nobody watches is cancelled; Qt must not destroy it running
            self._thread.stop()
            self._running = False
        super().done(result)
