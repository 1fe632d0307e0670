"""Small pieces of the main window: the cine bar, the folder's frame list, remembering the window, the log
folder."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.cine_strip import CineStrip, SeekSlider
from c5desk.gui.prefs import Prefs
from c5desk.settings import log_dir

Style = QtWidgets.QStyle


class CineBar(QtWidgets.QWidget):
    """Play/pause, a slider over the frames of a multi-frame file (a click seeks there), and under it the
    per-frame P(malignant) strip with "Score all frames" and "Go to the most suspicious frame"."""

    def __init__(
        self,
        play_action: QtGui.QAction,
        score_all_action: QtGui.QAction,
        suspicious_action: QtGui.QAction,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.play_action = play_action
        self.play_button = _tool_button(play_action)
        self.play_button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.slider = SeekSlider()
        self.slider.setEnabled(False)
        self.position = QtWidgets.QLabel("")
        self.strip = CineStrip()
        self.score_all_button = _tool_button(score_all_action)
        self.suspicious_button = _tool_button(suspicious_action)
        self.timer = QtCore.QTimer(self)
        grid = QtWidgets.QGridLayout(self)  # the strip sits exactly under the slider: same column
        grid.setContentsMargins(6, 2, 6, 2)
        grid.setVerticalSpacing(1)
        grid.addWidget(self.play_button, 0, 0)
        grid.addWidget(self.slider, 0, 1)
        grid.addWidget(self.position, 0, 2)
        grid.addWidget(self.strip, 1, 1)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.score_all_button)
        buttons.addWidget(self.suspicious_button)
        grid.addLayout(buttons, 1, 2)
        grid.setColumnStretch(1, 1)
        self._show_icon("play")
        self.set_clip_tools(False)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def play(self, frame_time_ms: object = None) -> None:
        try:
            interval = int(float(frame_time_ms))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            interval = 40
        self.timer.start(max(15, min(interval, 500)))
        self._show_icon("pause")

    def stop(self) -> None:
        self.timer.stop()
        self._show_icon("play")

    def _show_icon(self, kind: str) -> None:
        """The style's own media icons: a text glyph (⏸) is missing from many fonts and shows as a box."""
        pixmap = Style.StandardPixmap.SP_MediaPause if kind == "pause" else Style.StandardPixmap.SP_MediaPlay
        self.icon_kind = kind
        self.play_action.setIcon(self.style().standardIcon(pixmap))
        self.play_action.setIconText("Pause" if kind == "pause" else "Play")

    def show_position(self, index: int, count: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, count - 1))
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.slider.setEnabled(count > 1)
        self.play_button.setEnabled(True)  # never left greyed: with one frame it just says so
        self.position.setText(f"{index + 1} / {count}" if count else "")
        self.set_clip_tools(count > 1)

    def set_clip_tools(self, clip: bool) -> None:
        """The strip and its buttons only take room for a clip (more than one frame)."""
        for widget in (self.strip, self.score_all_button, self.suspicious_button):
            widget.setVisible(clip)


def _tool_button(action: QtGui.QAction) -> QtWidgets.QToolButton:
    button = QtWidgets.QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button


class FrameList(QtWidgets.QListWidget):
    """The files of the folder being browsed; shown only while browsing a folder of several files."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._files: list[Path] = []

    def show_files(self, files: list[Path], position: int) -> None:
        self.blockSignals(True)
        if files != self._files:
            self._files = list(files)
            self.clear()
            self.addItems([f.name for f in files])
            dock = self.parentWidget()
            if dock is not None:  # never an empty panel, nor a list of one (the window hides it at start)
                dock.setVisible(len(files) > 1)
        self.setCurrentRow(position if files else -1)
        self.blockSignals(False)


def clip_actions(window) -> dict[str, QtGui.QAction]:
    """Navigate → Score all frames / Go to the most suspicious frame (G), for the cine bar's buttons."""
    rows = (
        ("score_all", "Score all frames", (), "P(malignant) of every frame of the clip, in the background",
         window.score_all_frames),
        ("most_suspicious", "Go to the most suspicious frame", ("G",),
         "The scored frame of the clip with the highest P(malignant)", window.go_to_most_suspicious),
    )  # fmt: skip
    actions = {}
    for key, text, keys, tip, run in rows:
        action = QtGui.QAction(text, window)
        action.setShortcuts([QtGui.QKeySequence(k) for k in keys])
        action.setToolTip(f"{tip} ({keys[0]})" if keys else tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False, run=run: run())
        window.menus["Navigate"].addAction(action)
        actions[key] = action
    return actions


def side_column(score, lesions, label, tools, descriptors) -> tuple[QtWidgets.QWidget, QtWidgets.QTabWidget]:
    """The reading column, compact enough for 1280×720: the score, the lesion list and the label always in
    view, then the mask tools, the view settings and the BI-RADS descriptors as tabs (one shows at a time)."""
    tabs = QtWidgets.QTabWidget()
    tabs.setDocumentMode(True)
    tabs.addTab(tools, "Correct")
    view_box = next((b for b in tools.findChildren(QtWidgets.QGroupBox) if b.title() == "View"), None)
    if view_box is not None:  # its own tab: overlays and opacities are set once, corrected every frame
        tabs.addTab(view_box, "View")
    tabs.addTab(descriptors, "Descriptors")
    label.note.setMaximumHeight(40)  # two lines show; a longer note scrolls
    _beside_category(label, lesions)
    side = QtWidgets.QWidget()
    column = QtWidgets.QVBoxLayout(side)
    for widget in (score, lesions, label, tabs):
        column.addWidget(widget)
    column.addStretch(1)
    for layout in side.findChildren(QtWidgets.QLayout):  # tighter than the style's roomy defaults
        layout.setContentsMargins(*[min(m, 4) for m in layout.getContentsMargins()])
        layout.setSpacing(3)
    return side, tabs


def _beside_category(label, lesions) -> None:
    """The lesion buttons on the label panel's category row: the label is the active lesion's."""
    layout = label.layout()
    index = layout.indexOf(label.category)
    layout.removeWidget(label.category)
    row = QtWidgets.QHBoxLayout()
    row.addWidget(label.category, stretch=1)
    row.addWidget(lesions.controls)
    layout.insertLayout(index, row)
    lesions.label_box = label


class WideEnough(QtCore.QObject):
    """Keeps a scroll area (horizontal bar off) at least as wide as its content's minimum: the reading
    column then takes the width it needs from the canvas instead of clipping buttons on its right edge
    (its content grows when a model's score or a lesion's terms arrive, so this follows every relayout)."""

    def __init__(self, scroll: QtWidgets.QScrollArea) -> None:
        super().__init__(scroll)
        self._scroll = scroll
        scroll.widget().installEventFilter(self)
        self.update()

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.LayoutRequest:
            self.update()
        return False

    def update(self) -> None:
        scroll = self._scroll
        needed = scroll.widget().minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
        frame = 2 * scroll.frameWidth()
        if scroll.minimumWidth() != needed + frame:
            scroll.setMinimumWidth(needed + frame)


def add_recent_menu(window, file_menu: QtWidgets.QMenu, before: QtGui.QAction) -> QtWidgets.QMenu:
    """File → Open recent, rebuilt from the settings each time it opens."""
    menu = QtWidgets.QMenu("Open &recent", window)
    file_menu.insertMenu(before, menu)

    def rebuild() -> None:
        menu.clear()
        for path in window.prefs["recent"]:
            action = menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: window.open_path(p))
        if menu.isEmpty():
            menu.addAction("(none yet)").setEnabled(False)

    menu.aboutToShow.connect(rebuild)
    return menu


def restore_window(window: QtWidgets.QMainWindow, prefs: Prefs) -> None:
    for key, restore in (("geometry", window.restoreGeometry), ("window_state", window.restoreState)):
        if prefs[key]:
            with contextlib.suppress(ValueError):
                restore(QtCore.QByteArray(base64.b64decode(prefs[key])))


def save_window(window: QtWidgets.QMainWindow, prefs: Prefs, canvas, tools) -> None:
    """Geometry, dock layout and the view/tool settings, written once when the window closes."""
    prefs["geometry"] = base64.b64encode(bytes(window.saveGeometry())).decode("ascii")
    prefs["window_state"] = base64.b64encode(bytes(window.saveState())).decode("ascii")
    prefs["brush_radius"] = int(canvas.brush_radius)
    prefs["small_island_px"] = int(tools.island_size.value())
    prefs["mask_opacity"] = tools.mask_opacity.value() / 100
    prefs["heat_opacity"] = tools.heat_opacity.value() / 100
    for layer in ("contour", "mask", "heat"):
        prefs[f"show_{layer}"] = canvas.layer_visible(layer)
    prefs.save()


def open_log_folder(window) -> bool:
    """Show the folder of c5desk.log in the system's file manager (what a support engineer asks for)."""
    folder = log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        window.show_error("No log folder", f"{folder} cannot be created: {exc.strerror or exc}")
        return False
    opened = QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(folder)))
    window.show_status(f"Log folder: {folder}" if opened else f"Open this folder yourself: {folder}")
    return opened
