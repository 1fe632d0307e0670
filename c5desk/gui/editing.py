"""The main window's mask tools, label, saving, autosave and recovery. A mixin of MainWindow (it uses the
window's session, canvas, panels, actions and model link)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6 import QtWidgets

from c5desk.errors import C5Error


class EditingMixin:
    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        self.actions[f"tool_{tool}"].setChecked(True)

    def resize_brush(self, direction: int) -> None:
        radius = self.canvas.brush_radius
        self.canvas.set_brush_radius(radius + direction * max(1, radius // 6))

    def mask_operation(self, name: str) -> None:
        doc = self.document
        if doc is None:
            return
        ops = {
            "fill_holes": doc.editor.fill_holes,
            "keep_largest": doc.editor.keep_largest,
            "remove_small": lambda: doc.editor.remove_small(self.tool_panel.island_size.value()),
            "smooth": lambda: doc.editor.smooth(int(self.prefs["smooth_radius"])),
            "clear": doc.editor.clear,
        }
        if ops[name]():
            self.canvas.refresh_mask()
            self._after_edit()
        else:
            self.statusBar().showMessage(f"{name.replace('_', ' ')}: nothing to change")

    def undo(self) -> None:
        self._history(lambda doc: doc.editor.undo(), "Nothing to undo")

    def redo(self) -> None:
        self._history(lambda doc: doc.editor.redo(), "Nothing to redo")

    def _history(self, move, empty_message: str) -> None:
        doc = self.document
        if doc is not None and move(doc) is not None:
            self.canvas.refresh_mask()
            self._after_edit()
        else:
            self.statusBar().showMessage(empty_message)

    def _threshold(self, value: int) -> None:
        doc = self.document
        if doc is not None and doc.prediction is not None and doc.threshold(value / 100):
            self.canvas.refresh_mask()
            self._after_edit()

    def _after_edit(self) -> None:
        doc = self.document
        if doc is not None:
            self.link.rescore(doc)
            self._refresh_panels()

    def set_label(self, label: str) -> None:
        if self.document is not None:
            self.label_panel.set_label(label)

    def _window_levels(self) -> None:
        self.canvas.set_window(self.tool_panel.gain.value() / 100, self.tool_panel.contrast_factor())

    def ensure_store(self, folder: Path | None = None, quiet: bool = False):
        """The dataset store (opened on first use, or `folder` when given); None after a message (only in
        the status bar when quiet: saving will say it again, with a dialog)."""
        if self.session.store is None or folder is not None:
            shown = self.document
            try:
                store = self.session.open_store(folder or self.store_folder)
            except C5Error as exc:
                if quiet:
                    self.statusBar().showMessage(f"Dataset not available: {exc}")
                else:
                    self.report_error("Cannot open the dataset", str(exc))
                return None
            if self.document is not shown:  # reloaded from this store (its annotation, its autosave)
                self._frame_shown(fit=False)
            self._count_autosaves(store)
        return self.session.store

    def _count_autosaves(self, store) -> None:
        """Say (status bar, File menu) how many frames have autosaved edits from an earlier session."""
        waiting = len(store.journal_entries())
        self.actions["recover"].setText(f"&Recover autosaved edits ({waiting})")
        if waiting:
            self.statusBar().showMessage(f"{waiting} frame(s) have unsaved edits autosaved: File → Recover")

    def save(self) -> bool:
        store = self.ensure_store()
        doc = self.document
        if doc is None or store is None:
            return False
        try:
            saved = doc.save(store)
        except C5Error as exc:
            self.report_error("Not saved", str(exc))
            return False
        self.label_panel.set_document(doc)
        self._update_title()
        self.statusBar().showMessage(
            f"Saved {doc.origin.describe()} as revision {saved.revision} ({saved.label})"
        )
        return True

    def accept_ai(self) -> None:
        doc = self.document
        if doc is None or doc.prediction is None:
            self.statusBar().showMessage("No model result to accept yet")
            return
        doc.accept_ai()
        self.canvas.refresh_mask()
        self.label_panel.set_document(doc)
        self._after_edit()
        self.save()

    def autosave(self) -> None:
        if self.document is None or not self.document.dirty:
            return
        store, doc = self.ensure_store(), self.document
        with contextlib.suppress(C5Error):  # autosave is best effort; saving reports errors itself
            if store is not None and doc.autosave(store):
                self.statusBar().showMessage("Autosaved", 1500)

    def recover_autosave(self) -> None:
        store = self.ensure_store()
        entries = store.journal_entries() if store is not None else []
        if not entries:
            self.statusBar().showMessage("No autosaved edits to recover")
            return
        self._navigate(lambda: self.session.open_store_frame(entries[0].frame_id))
        self._count_autosaves(store)

    def choose_store(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Dataset folder (new or existing)")
        if folder and self.ensure_store(Path(folder)) is not None:
            self.store_folder = Path(folder)
            self.prefs["store_folder"] = folder
