"""The Model menu and the dialogs: which model the window loads (the catalogue's active one unless the
command line named a bundle), choosing another bundle, the GPU switch, and opening Retrain, Versions,
Score folder and Export with what each needs."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtWidgets

from c5desk.errors import C5Error
from c5desk.model.catalog import Catalog

if TYPE_CHECKING:
    from c5desk.gui.main_window import MainWindow

DIALOGS = {  # imported when first opened: the window starts without them
    "retrain": ("c5desk.gui.retrain_dialog", "RetrainDialog"),
    "versions": ("c5desk.gui.versions_dialog", "VersionsDialog"),
    "batch": ("c5desk.gui.batch_dialog", "ScoreFolderDialog"),
    "export": ("c5desk.gui.export_dialog", "ExportDialog"),
}
Q = QtWidgets.QMessageBox


class ModelControls:
    def __init__(self, window: MainWindow, catalog: Catalog, device: str) -> None:
        self.window, self.catalog = window, catalog
        self.link, self.reading, self.prefs = window.link, window.reading, window.prefs
        self.device = device
        self.backend = "auto"
        self.dialogs: dict[str, QtWidgets.QDialog] = {}

    # ---- the model -------------------------------------------------------------------------------------
    def load(self, bundle: Path | None) -> None:
        """Load `bundle` (None: the catalogue's active model) and run it on the frame shown."""
        self.link.load(bundle, self.device, self.backend)
        if self.reading.document is not None:
            self.link.predict(self.reading.document)

    def use_gpu(self, wanted: bool) -> None:
        self.device = self.prefs["device"] = "auto" if wanted else "cpu"
        self.load(self.link.bundle)

    def choose_bundle(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self.window, "Model bundle folder (model.json + weights)"
        )
        if folder:
            self.activate_folder(Path(folder))

    def activate_folder(self, folder: Path) -> bool:
        """Add a bundle folder to the catalogue, make it the active model and load it."""
        try:
            entry = self.catalog.register(folder)
            self.catalog.activate(entry.version, self.reading.session.store)
        except C5Error as exc:
            Q.warning(self.window, "Cannot use this model", str(exc))
            return False
        self.activated(entry.version, str(entry.folder))
        return True

    def activated(self, version: str, folder: str) -> None:
        """A dialog (or the user) made `version` the active model: load it."""
        self.load(Path(folder))
        self.window.show_status(f"Model {version} activated")

    # ---- dialogs ---------------------------------------------------------------------------------------
    def open_dialog(self, name: str) -> None:
        arguments = self._arguments(name)
        if arguments is None:
            return
        module_name, class_name = DIALOGS[name]
        dialog = getattr(importlib.import_module(module_name), class_name)(self.window, *arguments)
        for signal, slot in (("activated", self.activated), ("open_requested", self._open_requested)):
            if hasattr(dialog, signal):
                getattr(dialog, signal).connect(slot)
        self.dialogs[name] = dialog
        dialog.show()

    def _arguments(self, name: str) -> tuple | None:
        """What the dialog is opened with; None (after a message) when it cannot open now."""
        if name == "retrain":
            if self.link.bundle is None:
                why = "Retraining starts from a trained model; none is loaded."
                Q.information(self.window, "Retrain", why)
                return None
            return (self.reading.store_folder, self.link.bundle, self.catalog)
        if name == "batch":
            return (self.link.bundle,)
        store = self.reading.ensure_store()
        if store is None:
            return None
        return (self.catalog, store) if name == "versions" else (store,)

    def _open_requested(self, path: str, frame_index: int) -> None:
        if self.window.open_path(path) and frame_index:
            self.reading.go_to(frame_index)
