"""Main window: wires the canvas, panels and model link to a headless Session (actions live in actions.py).

Every action is a small method here; the work itself is in Session / Document (headless, tested without a
display) and ModelLink (background model work). Anything that can fail reports a message and leaves the
window usable; nothing typed or painted is dropped without asking (and it is autosaved meanwhile).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.actions import build_actions
from c5desk.gui.app import apply_theme
from c5desk.gui.canvas import Canvas
from c5desk.gui.editing import EditingMixin
from c5desk.gui.label_panel import LabelPanel
from c5desk.gui.model_link import ModelLink
from c5desk.gui.navigation import NavigationMixin
from c5desk.gui.prefs import Prefs, user_models_dir
from c5desk.gui.score_panel import ScorePanel
from c5desk.gui.tools import ToolPanel
from c5desk.gui.window_parts import CineBar, FrameList, add_recent_menu, restore_window, save_window
from c5desk.session import Session

DIALOGS = {  # lazily imported: each opens only when its module is installed
    "retrain": ("c5desk.gui.retrain_dialog", "RetrainDialog"),
    "versions": ("c5desk.gui.versions_dialog", "VersionsDialog"),
    "batch": ("c5desk.gui.batch_dialog", "ScoreFolderDialog"),
    "export": ("c5desk.gui.export_dialog", "ExportDialog"),
}
Q = QtWidgets.QMessageBox


class MainWindow(NavigationMixin, EditingMixin, QtWidgets.QMainWindow):
    def __init__(
        self,
        session: Session | None = None,
        *,
        prefs: Prefs | None = None,
        bundle: Path | None = None,
        load_model: bool = True,
        device: str | None = None,
        backend: str | None = None,  # None: see gui.worker.load_predictor
        store_folder: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.session = session or Session()
        self.prefs = prefs or Prefs()
        self.store_folder = Path(store_folder) if store_folder else self.prefs.store_folder()
        self._backend, self._dialogs = backend, {}
        self.setWindowTitle("c5desk")
        self.setAcceptDrops(True)
        self.link = ModelLink(self)
        self.canvas = Canvas()
        self.actions = build_actions(self)
        add_recent_menu(self, self.menus["File"], self.actions["open_store"])
        self._build_layout()
        self._connect()
        self._apply_prefs(device)
        restore_window(self, self.prefs)
        self.statusBar().showMessage("Open a frame, folder, DICOM or video (Ctrl+O, or drop it here)")
        self._first_bundle: list[Path | None] = []
        self._started = False
        if load_model:  # started once the window is on screen: importing torch competes for the CPU
            self._first_bundle.append(
                bundle or (Path(self.prefs["bundle"]) if self.prefs["bundle"] else None)
            )
            self.score_panel.set_model("Loading model…", "loading", "—")
        else:
            self.score_panel.set_model("No model loaded", "none", "—")

    # ---- construction ----------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.cine = CineBar(self.actions["play"])
        self.slider = self.cine.slider
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, stretch=1)
        layout.addWidget(self.cine)
        self.setCentralWidget(central)
        self.score_panel, self.label_panel = ScorePanel(), LabelPanel()
        self.tool_panel = ToolPanel(self.actions)
        side = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(side)
        for widget in (self.score_panel, self.label_panel, self.tool_panel):
            column.addWidget(widget)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        self._dock("Reading", scroll, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.frame_list = FrameList()
        self._dock("Frames", self.frame_list, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea).hide()
        self.resize(1400, 900)

    def _dock(
        self, title: str, widget: QtWidgets.QWidget, area: QtCore.Qt.DockWidgetArea
    ) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        self.link.status.connect(self._model_status)
        self.link.predicted.connect(self._predicted)
        self.link.rescored.connect(self._rescored)
        self.link.failed.connect(self.report_error)
        self.canvas.edited.connect(self._after_edit)
        self.canvas.brush_radius_changed.connect(self.tool_panel.brush_size.setValue)
        self.label_panel.changed.connect(self._update_title)
        tp = self.tool_panel
        tp.brush_size.valueChanged.connect(self.canvas.set_brush_radius)
        tp.threshold.valueChanged.connect(self._threshold)
        tp.mask_opacity.valueChanged.connect(lambda v: self.canvas.set_mask_opacity(v / 100))
        tp.heat_opacity.valueChanged.connect(lambda v: self.canvas.set_heat_opacity(v / 100))
        tp.gain.valueChanged.connect(self._window_levels)
        tp.contrast.valueChanged.connect(self._window_levels)
        self.slider.valueChanged.connect(self.show_frame)
        self.cine.timer.timeout.connect(self._cine_tick)
        self.frame_list.currentRowChanged.connect(self._file_chosen)
        self._predict_timer = QtCore.QTimer(self, singleShot=True, interval=120)
        self._predict_timer.timeout.connect(self.predict_current)
        self._autosave_timer = QtCore.QTimer(self, interval=1000 * max(1, int(self.prefs["autosave_s"])))
        self._autosave_timer.timeout.connect(self.autosave)
        self._autosave_timer.start()

    def _apply_prefs(self, device: str | None) -> None:
        p, tp = self.prefs, self.tool_panel
        self.device = device or p["device"]
        self.actions["use_gpu"].setChecked(self.device != "cpu")
        self.actions["theme"].setChecked(p["theme"] == "light")
        self.actions["tool_navigate"].setChecked(True)
        for layer in ("contour", "mask", "heat"):
            self.actions[f"show_{layer}"].setChecked(bool(p[f"show_{layer}"]))
            self.canvas.set_layer_visible(layer, bool(p[f"show_{layer}"]))
        tp.brush_size.setValue(int(p["brush_radius"]))
        tp.island_size.setValue(int(p["small_island_px"]))
        tp.mask_opacity.setValue(round(100 * p["mask_opacity"]))
        tp.heat_opacity.setValue(round(100 * p["heat_opacity"]))

    # ---- the model -------------------------------------------------------------------------------------
    def load_model(self, bundle: Path | None) -> None:
        self.link.load(bundle, self.device, self._backend)
        if self.document is not None:
            self.link.predict(self.document)

    def reload_model(self) -> None:
        self.device = self.prefs["device"] = "auto" if self.actions["use_gpu"].isChecked() else "cpu"
        self.load_model(self.link.bundle)

    def choose_model(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Model bundle folder (model.json + weights)"
        )
        if folder:
            self.prefs["bundle"] = folder
            self.load_model(Path(folder))

    def _model_status(self, text: str, kind: str, device: str) -> None:
        self.score_panel.set_model(text, kind, device)
        self.statusBar().showMessage(text.splitlines()[0])

    def predict_current(self) -> None:
        if self.document is not None:
            self.link.predict(self.document)

    def _predicted(self, document) -> None:
        if document is self.document:
            self.canvas.show_prediction()
            self.canvas.refresh_mask()
            self.tool_panel.threshold.setEnabled(True)
            self._refresh_panels()

    def _rescored(self, document) -> None:
        if document is self.document:
            self._refresh_panels()

    # ---- showing a frame -------------------------------------------------------------------------------
    @property
    def document(self):
        return self.session.document

    @property
    def image_item(self):
        return self.canvas.image_item

    # ---- files, dialogs, misc --------------------------------------------------------------------------
    def open_dialog(self, name: str) -> None:
        module_name, class_name = DIALOGS[name]
        try:
            dialog_class = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            Q.information(self, "Not available yet", f"{class_name} is not available yet in this build.")
            return
        store = self.ensure_store() if name in ("versions", "export") else None
        if name in ("versions", "export") and store is None:
            return
        args = {
            "retrain": lambda: (self.store_folder, self.link.bundle, user_models_dir()),
            "versions": lambda: (store, user_models_dir()),
            "batch": lambda: (self.link.bundle,),
            "export": lambda: (store,),
        }[name]()
        if name == "retrain" and self.link.bundle is None:
            Q.information(self, "Retrain", "Retraining starts from a trained model: none is loaded.")
            return
        dialog = dialog_class(self, *args)
        for signal, slot in (("activated", self._activated), ("open_requested", self._open_requested)):
            if hasattr(dialog, signal):
                getattr(dialog, signal).connect(slot)
        self._dialogs[name] = dialog
        dialog.show()

    def _activated(self, version: str, bundle_path: str) -> None:
        self.prefs["bundle"] = bundle_path
        self.load_model(Path(bundle_path))
        self.statusBar().showMessage(f"Model {version} activated")

    def _open_requested(self, path: str, frame_index: int) -> None:
        if self.open_path(path) and frame_index:
            self.show_frame(frame_index)

    def set_theme(self) -> None:
        self.prefs["theme"] = "light" if self.actions["theme"].isChecked() else "dark"
        apply_theme(self.prefs["theme"])

    def show_help(self) -> None:
        from c5desk.gui.help_dialog import HelpDialog

        HelpDialog(self).exec()

    def report_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message)
        Q.warning(self, title, message)

    # ---- Qt events -------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls:
            self.open_path(urls[0].toLocalFile())

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        if not self._started:
            self._started = True
            QtCore.QTimer.singleShot(30, self._after_shown)

    def _after_shown(self) -> None:
        """Once the window is on screen: start loading the model, open the dataset (autosaves to recover)."""
        if self._first_bundle:
            self.load_model(self._first_bundle.pop())
        self.ensure_store(quiet=True)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if not self.confirm_leave():
            event.ignore()
            return
        self.cine.stop()
        save_window(self, self.prefs, self.canvas, self.tool_panel)
        self.link.shutdown()
        self.session.shutdown()
        event.accept()
