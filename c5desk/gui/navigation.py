"""The main window's moves between frames: open, step, cine, next most useful, and asking before leaving
unsaved edits. A mixin of MainWindow (it uses the window's session, canvas, panels and actions)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6 import QtWidgets

from c5desk.errors import C5Error

Q = QtWidgets.QMessageBox


class NavigationMixin:
    def open_path(self, path: str | Path) -> bool:
        """Open a file or folder; a bad one gives a message and leaves the current frame on screen."""
        opened = self._navigate(lambda: self.session.open(path))
        if opened:
            self.prefs.add_recent(path)
        return opened

    def show_frame(self, index: int) -> None:
        frame = self.session.frame
        if frame is not None and frame.index != index and self.session.path is not None:
            self._navigate(lambda: self.session.go_to(index), fit=False)

    def step(self, delta: int) -> None:
        self._navigate(lambda: self.session.step(delta), fit=False)

    def next_most_useful(self) -> None:
        if self.ensure_store() is None:
            return
        if not self._navigate(self.session.next_most_useful) and self.session.store is not None:
            self.statusBar().showMessage("Every frame in the dataset is annotated")

    def _file_chosen(self, row: int) -> None:
        if row >= 0 and row != self.session.file_pos:
            self._navigate(lambda: self.session.open_file_at(row))

    def _navigate(self, move, fit: bool = True) -> bool:
        """Run `move` (a Session call) once unsaved edits are dealt with; report failures as messages."""
        if not self.confirm_leave():
            self._sync_navigation()
            return False
        self.ensure_store(quiet=True)  # so that the frame opens with its saved annotation or autosave
        try:
            frame = move()
        except (C5Error, IndexError) as exc:
            self.report_error("Cannot open", str(exc))
            self._sync_navigation()
            return False
        if frame is None:
            self.statusBar().showMessage("No more frames that way")
            return False
        self._frame_shown(fit)
        return True

    def _frame_shown(self, fit: bool) -> None:
        doc = self.document
        self.canvas.set_document(doc, fit=fit or self.canvas.image_item.image is None)
        self.label_panel.set_document(doc)
        self.tool_panel.threshold.setEnabled(doc is not None and doc.prediction is not None)
        self._sync_navigation()
        self._refresh_panels()
        if doc is not None and doc.recovered_from:
            self.statusBar().showMessage(f"Recovered unsaved edits autosaved at {doc.recovered_from} (UTC)")
        if doc is not None and not self.cine.playing:
            self.link.rescore(doc)  # measurements of a saved or recovered mask
            self._predict_timer.start()

    def _sync_navigation(self) -> None:
        """Slider and frame list follow the session (also after a refused or failed move)."""
        count, frame = self.session.frame_count, self.session.frame
        self.cine.show_position(frame.index if frame else 0, count)
        self.frame_list.show_files(self.session.files, self.session.file_pos)

    def _refresh_panels(self) -> None:
        doc = self.document
        self.score_panel.show_score(doc.score if doc is not None else None)
        self._update_title()

    def _update_title(self) -> None:
        doc = self.document
        if doc is None:
            self.setWindowTitle("c5desk")
            return
        where = doc.origin.describe()
        count = self.session.frame_count
        scale = (f"{doc.frame.mm_per_px[0]:.4f} mm/px" if doc.frame.mm_per_px else
                 "uncalibrated (measurements in px)")  # fmt: skip
        self.setWindowTitle(f"{'* ' if doc.dirty else ''}{where} — c5desk")
        if not self.statusBar().currentMessage().startswith("Recovered"):
            self.statusBar().showMessage(f"{where} of {count} — {scale}")

    def confirm_leave(self) -> bool:
        """True when the current frame may be left: saved, or the user chose Save or Discard."""
        doc = self.document
        if doc is None or not doc.dirty:
            return True
        self.cine.stop()
        choices = Q.StandardButton.Save | Q.StandardButton.Discard | Q.StandardButton.Cancel
        answer = Q.question(self, "Unsaved edits", f"Save your edits of {doc.origin.describe()}?", choices)
        if answer == Q.StandardButton.Save:
            return self.save()
        if answer == Q.StandardButton.Discard:
            if self.session.store is not None:
                with contextlib.suppress(C5Error):
                    doc.discard_autosave(self.session.store)
            return True
        return False

    def choose_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open frame, DICOM or video")
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a folder of frames")
        if folder:
            self.open_path(folder)

    def toggle_play(self) -> None:
        if self.cine.playing:
            self.cine.stop()
            self._predict_timer.start()
        elif self.session.frame_count <= 1:
            self.statusBar().showMessage("Nothing to play: this file has a single frame")
        elif self.confirm_leave():
            self.cine.play(self.session.frame.meta.get("frame_time_ms") if self.session.frame else None)

    def _cine_tick(self) -> None:
        frame = self.session.frame
        if frame is None or self.session.path is None:
            self.cine.stop()
            return
        self.show_frame((frame.index + 1) % self.session.frame_count)
