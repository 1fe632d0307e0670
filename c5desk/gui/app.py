"""Start the Qt application with the dark reading-room theme (light optional)."""

from __future__ import annotations

import sys
from pathlib import Path

import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets


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
        QtGui.QPalette.ColorRole.PlaceholderText: "#808080",
    }
    for role, value in colors.items():
        palette.setColor(role, QtGui.QColor(value))
    disabled = QtGui.QPalette.ColorGroup.Disabled
    for role in (QtGui.QPalette.ColorRole.WindowText, QtGui.QPalette.ColorRole.Text,
                 QtGui.QPalette.ColorRole.ButtonText):  # fmt: skip
        palette.setColor(disabled, role, QtGui.QColor("#6a6a6a"))
    return palette


# The editing tools (c5role="tool", set in tools.py): the active one must stand out at a glance in either
# theme, or a clinician erases believing the brush is active. Fusion's own checked state is a faint shade.
TOOL_BUTTON_STYLE = """
QToolButton[c5role="tool"] {{ background: {off}; color: {text}; border: 1px solid {edge};
    border-radius: 3px; padding: 3px 6px; }}
QToolButton[c5role="tool"]:hover {{ border-color: {on_edge}; }}
QToolButton[c5role="tool"]:checked {{ background: {on}; color: #ffffff; border: 2px solid {on_edge};
    font-weight: bold; }}
"""
TOOL_COLOURS = {
    "dark": {"off": "#2a2b2f", "text": "#d8d8d8", "edge": "#4a4c52", "on": "#1e7be0", "on_edge": "#9fd0ff"},
    "light": {"off": "#f0f0f0", "text": "#202020", "edge": "#a8a8a8", "on": "#0a55c2", "on_edge": "#04306e"},
}


def apply_theme(theme: str) -> None:
    """ "dark" (default) or "light"; the frame view stays black in both (ultrasound is read on black)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        return
    light = theme == "light"
    app.setPalette(app.style().standardPalette() if light else dark_palette())
    app.setStyleSheet(TOOL_BUTTON_STYLE.format(**TOOL_COLOURS["light" if light else "dark"]))


def create_application(theme: str = "dark") -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("c5desk")
    app.setOrganizationName("c5desk")
    app.setStyle("Fusion")
    apply_theme(theme)
    # pyqtgraph drops mouse moves above 100/s by default: a fast brush stroke would lose its samples
    # (the stroke joins samples with segments, but the final shape should not depend on the mouse rate).
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, mouseRateLimit=0)
    return app


def run_app(path: str | None = None, store: str | None = None, model: str | None = None) -> int:
    from c5desk.gui.main_window import MainWindow
    from c5desk.gui.prefs import Prefs
    from c5desk.gui.worker import wait_for_jobs

    prefs = Prefs()
    app = create_application(prefs["theme"])
    window = MainWindow(prefs=prefs, bundle=Path(model) if model else None, store_folder=store)
    window.show()
    if path:
        window.open_path(path)
    code = app.exec()
    wait_for_jobs()  # a job still running posts to the application: it must outlive the job (bounded)
    return code
