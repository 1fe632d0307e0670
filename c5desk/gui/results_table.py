"""The batch-scoring results as a Qt table: numbers sort as numbers, rows filter by label and text."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore

from c5desk.batch import read_rows
from c5desk.batch.results import rewrite_csv
from c5desk.csvcells import safe_row

SORT_ROLE = QtCore.Qt.ItemDataRole.UserRole
MISSING = -math.inf  # rows without a value sort together at one end, never among the numbers

Cell = tuple[str, object]  # (text shown, sort key)


def _number(row: dict[str, str], key: str) -> float | None:
    try:
        value = float(row.get(key) or "")
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _plain(key: str) -> Callable[[dict[str, str]], Cell]:
    return lambda row: (row.get(key) or "", (row.get(key) or "").lower())


def _numeric(key: str, digits: int = 3) -> Callable[[dict[str, str]], Cell]:
    def cell(row: dict[str, str]) -> Cell:
        value = _number(row, key)
        return ("", MISSING) if value is None else (f"{value:.{digits}f}", value)

    return cell


def _measure(mm_key: str, px_key: str, power: str = "") -> Callable[[dict[str, str]], Cell]:
    """Calibrated value in mm (mm² for an area) when the frame had a calibration, else pixels, said so."""
    units = ((mm_key, f"mm{power}"), (px_key, f"px{power}"))

    def cell(row: dict[str, str]) -> Cell:
        for key, unit in units:
            value = _number(row, key)
            if value is not None:
                return f"{value:.1f} {unit}", value
        return "", MISSING

    return cell


def _frame(row: dict[str, str]) -> Cell:
    value = _number(row, "frame")
    return row.get("frame") or "", MISSING if value is None else value


# The error sits beside the status: a failed row's reason is read without scrolling right.
COLUMNS: list[tuple[str, Callable[[dict[str, str]], Cell]]] = [
    ("File", _plain("source")),
    ("Frame", _frame),
    ("Status", _plain("status")),
    ("Error", _plain("error")),
    ("Label", _plain("label")),
    ("P(malignant)", _numeric("p_malignant")),
    ("Uncertainty", _numeric("uncertainty")),
    ("Long axis", _measure("long_axis_mm", "long_axis_px")),
    ("Short axis", _measure("short_axis_mm", "short_axis_px")),
    ("Area", _measure("area_mm2", "area_px", "²")),
    ("Model", _plain("model_version")),
]
NAMES = [name for name, _cell in COLUMNS]
ERROR_COLUMN = NAMES.index("Error")
MEASURE_COLUMNS = [NAMES.index(name) for name in ("Long axis", "Short axis", "Area")]
TOOLTIP_COLUMNS = (0, ERROR_COLUMN)  # long texts: the full one on hover


def headers(rows: list[dict[str, str]]) -> list[str]:
    """Column titles; a measurement's names the units its cells use: "Area (px²)", "Long axis (mm / px)"."""
    titles = list(NAMES)
    for column in MEASURE_COLUMNS:
        cell = COLUMNS[column][1]
        used = {text.rpartition(" ")[2] for text, _key in map(cell, rows) if text}
        if used:
            titles[column] += f" ({' / '.join(sorted(used, key=lambda unit: not unit.startswith('mm')))})"
    return titles


def save_results(path: Path, rows: list[dict[str, str]]) -> None:
    """The rows as a results CSV with the batch CSV's columns, spreadsheet-safe, written atomically."""
    rewrite_csv(Path(path), [safe_row(row) for row in rows])


def read_results(out_csv: Path) -> list[dict[str, str]]:
    if not Path(out_csv).is_file():
        return []
    return read_rows(out_csv)  # cells as they were before the CSV's spreadsheet quoting


class ResultsModel(QtCore.QAbstractTableModel):
    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[dict[str, str]] = []
        self.root: Path | None = None
        self.titles = list(NAMES)

    def set_rows(self, rows: list[dict[str, str]], root: Path | None = None) -> None:
        self.beginResetModel()
        self.rows, self.root = list(rows), root
        self.titles = headers(self.rows)
        self.endResetModel()

    def rowCount(self, parent: QtCore.QModelIndex = QtCore.QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QtCore.QModelIndex = QtCore.QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: QtCore.Qt.Orientation, role: int = 0) -> object:
        if role == QtCore.Qt.ItemDataRole.DisplayRole and orientation == QtCore.Qt.Orientation.Horizontal:
            return self.titles[section]
        return None

    def data(self, index: QtCore.QModelIndex, role: int = 0) -> object:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        text, key = COLUMNS[index.column()][1](row)
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self._short_source(text) if index.column() == 0 else text
        if role == SORT_ROLE:
            return key
        if role == QtCore.Qt.ItemDataRole.ToolTipRole and index.column() in TOOLTIP_COLUMNS:
            return text or None
        return None

    def _short_source(self, source: str) -> str:
        """Paths shown relative to the scored folder; the tooltip has the full one."""
        if self.root is None:
            return source
        try:
            return str(Path(source).relative_to(self.root))
        except ValueError:
            return source


class ResultsFilter(QtCore.QSortFilterProxyModel):
    """Label filter ("malignant", "benign", "error" for failed rows, "" for all) and a text filter."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.label = ""
        self.text = ""
        self.setSortRole(SORT_ROLE)

    def set_label(self, label: str) -> None:
        self.beginFilterChange()
        self.label = label
        self.endFilterChange()

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self.text = text.strip().lower()
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: QtCore.QModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, ResultsModel) or source_row >= len(model.rows):
            return True
        row = model.rows[source_row]
        if self.label == "error" and row.get("status") != "error":
            return False
        if self.label not in ("", "error") and row.get("label") != self.label:
            return False
        if self.text:
            haystack = " ".join(row.get(k) or "" for k in ("source", "label", "error", "model_version"))
            return self.text in haystack.lower()
        return True
