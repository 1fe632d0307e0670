"""Main window: renders the reading state and forwards the user's actions; the decisions are made elsewhere.

    ReadingController (c5desk.reading)   open, step, save, accept, autosave, recover — this window is its
                                         ReadingView (renders, asks "save?", shows messages)
    ModelLink                            the model on a worker thread — the controller's ModelPort
    EditTools                            mask tools, undo/redo, threshold, labels
    ModelControls                        which model loads (the catalogue), Model menu, dialogs
    NodeProcess, ReceivedList            the DICOM node in its own process; what it received (a dock)
    CineBar, ClipScorer, ClipScores      the cine: seek, play, the per-frame P(malignant) strip and its scorer

The actions table (actions.py) maps every menu entry and key to one small call on these. Anything that can
fail reports a message and leaves the window usable; nothing typed or painted is dropped without asking
(and it is autosaved meanwhile).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.actions import build_actions
from c5desk.gui.app import apply_theme
from c5desk.gui.calipers import install_calipers
from c5desk.gui.canvas import Canvas
from c5desk.gui.case_browser import install_case_browser
from c5desk.gui.cine_control import CineMixin
from c5desk.gui.cine_strip import ClipScorer
from c5desk.gui.descriptor_panel import DescriptorPanel
from c5desk.gui.edit_tools import EditTools
from c5desk.gui.label_panel import LabelPanel
from c5desk.gui.lesion_panel import LesionPanel, select_lesion
from c5desk.gui.model_controls import ModelControls
from c5desk.gui.model_link import ModelLink
from c5desk.gui.node_process import NodeProcess
from c5desk.gui.prefs import Prefs
from c5desk.gui.received_list import ReceivedList
from c5desk.gui.score_panel import ScorePanel
from c5desk.gui.tools import ToolPanel
from c5desk.gui.window_parts import (
    CineBar,
    FrameList,
    WideEnough,
    add_recent_menu,
    clip_actions,
    restore_window,
    save_window,
    side_column,
)
from c5desk.model.catalog import Catalog
from c5desk.reading.clip_scores import ClipScores
from c5desk.reading.controller import CANCEL, DISCARD, SAVE, ReadingController
from c5desk.reading.document import Document
from c5desk.reading.session import Session

Q = QtWidgets.QMessageBox
ANSWERS = {Q.StandardButton.Save: SAVE, Q.StandardButton.Discard: DISCARD}


class MainWindow(CineMixin, QtWidgets.QMainWindow):
    def __init__(
        self,
        session: Session | None = None,
        *,
        prefs: Prefs | None = None,
        bundle: Path | None = None,  # a bundle for this window only; None: the catalogue's active model
        load_model: bool = True,
        device: str | None = None,
        backend: str = "auto",
        store_folder: str | Path | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        super().__init__()
        self.session = session or Session()
        self.prefs = prefs or Prefs()
        self.setWindowTitle("c5desk")
        self.setAcceptDrops(True)
        self.link = ModelLink(self)
        self.canvas = Canvas()
        store = Path(store_folder) if store_folder else self.prefs.store_folder()
        self.reading = ReadingController(self.session, self, self.link, store)
        self.models = ModelControls(self, catalog or Catalog(), device or str(self.prefs["device"]))
        self.models.backend = backend
        self.node = NodeProcess(self)
        self.actions = build_actions(self)
        self.actions.update(clip_actions(self))
        self.scores = ClipScores()
        self.scorer = ClipScorer(self.link, self.scores, self)
        add_recent_menu(self, self.menus["File"], self.actions["open_store"])
        self._build_layout()
        self.edits = EditTools(
            self.canvas, self.tool_panel, self.label_panel, self.reading, self.prefs, self.show_status
        )
        self._connect()
        self._apply_prefs()
        install_calipers(self)
        restore_window(self, self.prefs)
        self.frames_dock.hide()  # a restored layout may show it: it appears with a folder of several files
        self.statusBar().showMessage("Open a frame, folder, DICOM or video (Ctrl+O, or drop it here)")
        self._first_load: list[Path | None] = [bundle] if load_model else []
        self._started = False
        if load_model:  # started once the window is on screen: importing torch competes for the CPU
            self.score_panel.set_model("Loading model…", "loading", "—")
        else:
            self.score_panel.set_model("No model loaded", "none", "—")

    # ---- construction ----------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.cine = CineBar(self.actions["play"], self.actions["score_all"], self.actions["most_suspicious"])
        self.slider = self.cine.slider
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, stretch=1)
        layout.addWidget(self.cine)
        self.setCentralWidget(central)
        self.score_panel, self.label_panel = ScorePanel(), LabelPanel()
        self.descriptor_panel = DescriptorPanel()
        self.tool_panel = ToolPanel(self.actions)
        self.lesion_panel = LesionPanel(self.actions)
        self.side, self.side_tabs = side_column(
            self.score_panel, self.lesion_panel, self.label_panel, self.tool_panel, self.descriptor_panel
        )
        self.side_scroll = QtWidgets.QScrollArea()
        self.side_scroll.setWidget(self.side)
        self.side_scroll.setWidgetResizable(True)
        self.side_scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        WideEnough(self.side_scroll)  # never narrower than its content: no clipped buttons
        self._dock("Reading", self.side_scroll, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.frame_list = FrameList()
        left = QtCore.Qt.DockWidgetArea.LeftDockWidgetArea
        self.frames_dock = self._dock("Frames", self.frame_list, left)
        self.frames_dock.hide()
        self.received_list = ReceivedList(lambda: self.reading.ensure_store(quiet=True), self.node)
        self.received_dock = self._dock("Received", self.received_list, left)
        self.received_dock.hide()
        install_case_browser(self)  # before restore_window: a saved layout with the Cases dock comes back
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
        self.link.connect_prompts(self)  # box / click / pick requests go to the model's worker
        self.link.status.connect(self._model_status)
        self.link.predicted.connect(self._predicted)
        self.link.rescored.connect(self._rescored)
        self.link.failed.connect(self.show_error)
        self.canvas.edited.connect(self.reading.edited)
        self.canvas.brush_radius_changed.connect(self.tool_panel.brush_size.setValue)
        self.descriptor_panel.changed.connect(self._refresh_panels)  # the terms beside the score, the title
        self.label_panel.changed.connect(self._refresh_panels)  # the lesion list shows each one's label
        self.lesion_panel.selected.connect(partial(select_lesion, self))
        tp = self.tool_panel
        tp.brush_size.valueChanged.connect(self.canvas.set_brush_radius)
        tp.threshold.valueChanged.connect(self.edits.threshold)
        tp.mask_opacity.valueChanged.connect(lambda v: self.canvas.set_mask_opacity(v / 100))
        tp.heat_opacity.valueChanged.connect(lambda v: self.canvas.set_heat_opacity(v / 100))
        tp.gain.valueChanged.connect(self.edits.window_levels)
        tp.contrast.valueChanged.connect(self.edits.window_levels)
        self.slider.valueChanged.connect(self.reading.go_to)
        self.cine.strip.seek.connect(self.reading.go_to)
        self.cine.timer.timeout.connect(self._cine_tick)
        self.scorer.scored.connect(self._cine_scored)
        self.scorer.progress.connect(self._clip_progress)
        self.scorer.finished.connect(self._clip_scoring_ended)
        self.frame_list.currentRowChanged.connect(self.reading.open_file_at)
        self.received_list.open_requested.connect(self.open_store_frame)
        self._autosave_timer = QtCore.QTimer(self, interval=1000 * max(1, int(self.prefs["autosave_s"])))
        self._autosave_timer.timeout.connect(self.autosave)
        self._autosave_timer.start()

    def _apply_prefs(self) -> None:
        p, tp = self.prefs, self.tool_panel
        self.actions["use_gpu"].setChecked(self.models.device != "cpu")
        self.actions["theme"].setChecked(p["theme"] == "light")
        self.actions["tool_navigate"].setChecked(True)
        for layer in ("contour", "mask", "heat"):
            self.actions[f"show_{layer}"].setChecked(bool(p[f"show_{layer}"]))
            self.canvas.set_layer_visible(layer, bool(p[f"show_{layer}"]))
        tp.brush_size.setValue(int(p["brush_radius"]))
        tp.island_size.setValue(int(p["small_island_px"]))
        tp.mask_opacity.setValue(round(100 * p["mask_opacity"]))
        tp.heat_opacity.setValue(round(100 * p["heat_opacity"]))

    # ---- what the reading controller asks of its view --------------------------------------------------
    def ask_unsaved(self, description: str) -> str:
        self._stop_cine()
        choices = Q.StandardButton.Save | Q.StandardButton.Discard | Q.StandardButton.Cancel
        answer = Q.question(self, "Unsaved edits", f"Save your edits of {description}?", choices)
        return ANSWERS.get(answer, CANCEL)

    def show_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message)
        Q.warning(self, title, message)

    def show_status(self, message: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    def show_document(self, fit: bool) -> None:
        doc = self.document
        self.canvas.set_document(doc, fit=fit or self.canvas.image_item.image is None)
        self.label_panel.set_document(doc)
        self.tool_panel.threshold.setEnabled(doc is not None and doc.prediction is not None)
        self.sync_navigation()
        self._refresh_panels()

    def sync_navigation(self) -> None:
        count, frame = self.session.frame_count, self.session.frame
        self.cine.show_position(frame.index if frame else 0, count)
        self.frame_list.show_files(self.session.files, self.session.file_pos)
        if self.scorer.running and self.scorer.clip != self.clip:
            self.scorer.cancel()  # "Score all frames" is for the clip on screen
        self._show_strip()

    def refresh(self, mask_changed: bool = False) -> None:
        doc = self.document
        if mask_changed:
            self.canvas.refresh_mask()
        if doc is not None and not self.label_panel.shows(doc):
            self.label_panel.set_document(doc)  # e.g. the label set by accept, or normalised by saving
        self._refresh_panels()

    def autosaves_waiting(self, count: int) -> None:
        self.actions["recover"].setText(f"&Recover autosaved edits ({count})")

    # ---- file and dataset actions ----------------------------------------------------------------------
    @property
    def document(self) -> Document | None:
        return self.session.document

    @property
    def store_folder(self) -> Path:
        return self.reading.store_folder

    @store_folder.setter
    def store_folder(self, folder: Path) -> None:
        self.reading.store_folder = Path(folder)

    def open_path(self, path: str | Path) -> bool:
        opened = self.reading.open_path(path)
        if opened:
            self.prefs.add_recent(path)
        return opened

    def open_store_frame(self, frame_id: int) -> bool:
        """A dataset frame by id (the Received list)."""
        return self.reading.open_store_frame(frame_id)

    def choose_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open frame, DICOM or video")
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a folder of frames")
        if folder:
            self.open_path(folder)

    def choose_store(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Dataset folder (new or existing)")
        if folder and self.reading.use_store(Path(folder)):
            self.prefs["store_folder"] = folder

    def ensure_store(self):
        return self.reading.ensure_store()

    def save(self) -> bool:
        return self.reading.save()

    def autosave(self) -> bool:
        return self.reading.autosave()

    # ---- the model's results ---------------------------------------------------------------------------
    def _model_status(self, text: str, kind: str, device: str) -> None:
        self.score_panel.set_model(text, kind, device)
        self.statusBar().showMessage(text.splitlines()[0])

    def _predicted(self, document: Document) -> None:
        prediction, path = document.prediction, document.origin.path
        if prediction is not None and path is not None:  # the strip collects every frame's own score
            self.scores.record(
                str(path), document.frame.index, prediction.p_malignant, prediction.model_version
            )
            self._show_strip()
        if document is self.document:
            self.canvas.show_prediction()
            self.canvas.refresh_mask()
            self.tool_panel.threshold.setEnabled(True)
            self._refresh_panels()

    def _rescored(self, document: Document) -> None:
        if document is self.document:
            self._refresh_panels()

    def _refresh_panels(self) -> None:
        doc = self.document
        self.score_panel.show_score(doc.score if doc is not None else None)
        if doc is not None:
            self._explain_missing_score(doc)
        self.descriptor_panel.show_document(doc)
        self.lesion_panel.show_document(doc)
        self.score_panel.show_terms(doc.descriptors if doc is not None else {})
        self._update_title()

    def _update_title(self) -> None:
        doc = self.document
        if doc is None:
            self.setWindowTitle("c5desk")
            return
        where = doc.origin.describe()
        scale = (f"{doc.frame.mm_per_px[0]:.4f} mm/px" if doc.frame.mm_per_px else
                 "uncalibrated (measurements in px)")  # fmt: skip
        self.setWindowTitle(f"{'* ' if doc.dirty else ''}{where} — c5desk")
        count = self.session.frame_count
        where += f" of {count}" if self.session.path is not None and count > 1 else ""
        if not self.statusBar().currentMessage().startswith("Recovered"):
            self.statusBar().showMessage(f"{where} — {scale}")

    # ---- view, help ------------------------------------------------------------------------------------
    def set_theme(self) -> None:
        self.prefs["theme"] = "light" if self.actions["theme"].isChecked() else "dark"
        apply_theme(self.prefs["theme"])

    def show_help(self) -> None:
        from c5desk.gui.help_dialog import HelpDialog

        HelpDialog(self).exec()

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
        if self.link.closed:  # closed before this ran: nothing may start (or reopen the store) any more
            return
        if self._first_load:
            self.models.load(self._first_load.pop())
        self.reading.ensure_store(quiet=True)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if not self.reading.leave_current():
            event.ignore()
            return
        self.cine.stop()
        self.scorer.cancel()
        self.node.stop_and_wait()  # no node process outlives the window
        save_window(self, self.prefs, self.canvas, self.tool_panel)
        self.link.shutdown()
        self.session.shutdown()
        event.accept()
