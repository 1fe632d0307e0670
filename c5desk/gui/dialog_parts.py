"""Pieces the dialogs share: an inline message line, number and time formatting, a path field with its
Browse… button and a row of buttons. (Which models exist and which is active is the model catalogue's
business: c5desk.model.catalog.)"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

# (on a dark window, on a light one); "info" keeps the palette's own text colour
COLOURS = {"ok": ("#7fd18b", "#1a7f37"), "warn": ("#e8c46a", "#9a6700"), "error": ("#ff7b72", "#cf222e")}


class StatusLine(QtWidgets.QLabel):
    """A message inside the dialog (errors too): the user reads it, copies it, and carries on."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind = "info"

    def show_message(self, text: str, kind: str = "info") -> None:
        self.kind = kind
        dark = self.palette().color(QtGui.QPalette.ColorRole.Window).lightness() < 128
        colours = COLOURS.get(kind)
        self.setStyleSheet(f"color: {colours[0 if dark else 1]};" if colours else "")
        self.setText(text)


def finite(value: object) -> float | None:
    """A finite float, or None for anything else (null, NaN, a string from a confused child)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def format_eta(seconds: object) -> str:
    value = finite(seconds)
    if value is None or value < 0:
        return "ETA —"
    total = round(value)
    if total < 60:
        return f"ETA {total} s"
    if total < 3600:
        return f"ETA {total // 60} min {total % 60:02d} s"
    return f"ETA {total // 3600} h {total % 3600 // 60:02d} min"


def flatten_metrics(metrics: object, prefix: str = "") -> dict[str, Any]:
    """{"replay": {"dice": 0.8}} → {"replay.dice": 0.8}; lists and scalars are leaves."""
    if not isinstance(metrics, dict):
        return {prefix: metrics} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        flat.update(flatten_metrics(value, name) if isinstance(value, dict) else {name: value})
    return flat


def format_value(value: object) -> str:
    number = finite(value)
    if number is not None:
        return f"{number:.4f}".rstrip("0").rstrip(".") if not float(number).is_integer() else f"{number:.0f}"
    return "—" if value is None else str(value)


def with_browse(edit: QtWidgets.QLineEdit, browse: Callable[[], None]) -> QtWidgets.QHBoxLayout:
    """A path field with its Browse… button."""
    row = QtWidgets.QHBoxLayout()
    button = QtWidgets.QPushButton("Browse…")
    button.setAutoDefault(False)
    button.clicked.connect(browse)
    row.addWidget(edit, stretch=1)
    row.addWidget(button)
    return row


def button_row(
    buttons: Sequence[tuple[QtWidgets.QPushButton, Callable[[], object]]], leading_stretch: bool = False
) -> QtWidgets.QHBoxLayout:
    """Buttons in a row, each wired to its slot; none becomes the default (Enter never starts a job)."""
    row = QtWidgets.QHBoxLayout()
    if leading_stretch:
        row.addStretch(1)
    for button, slot in buttons:
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        row.addWidget(button)
    return row
