"""Start the Qt application with the dark reading-room theme."""

from __future__ import annotations

import sys

import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

from c5desk.gui.main_window import MainWindow


def dark_palette() -> QtGui.QPalette:
    """A dim palette for reading rooms; Fusion honours it on every platform."""
    palette = QtGui.QPalette()
    colors = {
        QtGui.QPalette.ColorRole.Window: "#1e1f22",
        QtGui.QPalette.ColorRole.WindowText: "#d8d8d8",
        QtGui.QPalette.ColorRole.Base: "#151618",
        QtGui.QPalette.ColorRole.AlternateBase: "#222327",
        QtGui.QPalette.ColorRole.Text: "#d8d8d8",
        QtGui.QPalette.ColorRole.Button: "#2a2b2f",
        QtGui.QPalette.ColorRole.ButtonText: "#d8d8d8",
        QtGui.QPalette.ColorRole.Highlight: "#3d6fb6",
        QtGui.QPalette.ColorRole.HighlightedText: "#ffffff",
        QtGui.QPalette.ColorRole.ToolTipBase: "#2a2b2f",
        QtGui.QPalette.ColorRole.ToolTipText: "#d8d8d8",
    }
    for role, value in colors.items():
        palette.setColor(role, QtGui.QColor(value))
    return palette


def create_application() -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("c5desk")
    app.setOrganizationName("c5desk")
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    return app


def run_app(path: str | None = None) -> int:
    app = create_application()
    window = MainWindow()
    window.show()
    if path:
        window.open_path(path)
    return app.exec()
