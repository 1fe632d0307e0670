"""Small pieces of the main window: the cine bar, the folder's frame list, remembering the window, the log
folder."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.prefs import Prefs
from c5desk.settings import log_dir


class CineBar(QtWidgets.QWidget):
    """Play/pause and a slider over the frames of a multi-frame file."""

    def __init__(self, play_action: QtGui.QAction, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_button = QtWidgets.QToolButton()
        self.play_button.setDefaultAction(play_action)
        self.play_button.setText("▶")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.position = QtWidgets.QLabel("")
        self.timer = QtCore.QTimer(self)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        for widget, stretch in ((self.play_button, 0), (self.slider, 1), (self.position, 0)):
            layout.addWidget(widget, stretch)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def play(self, frame_time_ms: object = None) -> None:
        try:
            interval = int(float(frame_time_ms))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            interval = 40
        self.timer.start(max(15, min(interval, 500)))
        self.play_button.setText("⏸")

    def stop(self) -> None:
        self.timer.stop()
        self.play_button.setText("▶")

    def show_position(self, index: int, count: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, count - 1))
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.slider.setEnabled(count > 1)
        self.play_button.setEnabled(True)  # never left greyed: with one frame it just says so
        self.position.setText(f"{index + 1} / {count}" if count else "")


class FrameList(QtWidgets.QListWidget):
    """The files of the folder being browsed; shown only while browsing a folder."""

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
            if dock is not None:
                dock.setVisible(bool(files))
        self.setCurrentRow(position if files else -1)
        self.blockSignals(False)


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
