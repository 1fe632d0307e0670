"""The validation gate's verdict after retraining: accepted or not, why, and current vs new metrics."""

from __future__ import annotations

from typing import Any

from PySide6 import QtWidgets

from c5desk.gui.dialog_parts import StatusLine, finite, flatten_metrics, format_value

SECTIONS = ("corrections", "replay")  # the clinicians' corrections, and the original data replayed


class VerdictPanel(QtWidgets.QGroupBox):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Validation gate", parent)
        layout = QtWidgets.QVBoxLayout(self)
        self.verdict_line = StatusLine()
        self.reasons = QtWidgets.QLabel(wordWrap=True)
        self.table = QtWidgets.QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Metric", "Current model", "New model", "Change"])
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        layout.addWidget(self.verdict_line)
        layout.addWidget(self.reasons)
        layout.addWidget(self.table)
        self.clear()

    def clear(self) -> None:
        self.verdict_line.show_message("")
        self.reasons.setText("")
        self.table.setRowCount(0)
        self.setVisible(False)

    def show_verdict(self, verdict: dict[str, Any]) -> None:
        accepted = verdict.get("accepted") is True
        if accepted:
            self.verdict_line.show_message("Accepted: the new model passed the validation gate.", "ok")
        elif verdict.get("overridden") is True:
            self.verdict_line.show_message(
                "GATE OVERRIDDEN: the new model did not pass the validation gate but was published anyway;"
                " it is marked so everywhere.",
                "warn",
            )
        else:
            self.verdict_line.show_message(
                "Rejected: the new model did not pass the validation gate; the current one stays.", "error"
            )
        reasons = verdict.get("reasons")
        reasons = reasons if isinstance(reasons, list) else [reasons] if reasons else []
        self.reasons.setText("\n".join(f"• {reason}" for reason in reasons))
        self._fill_table(metric_rows(verdict.get("base"), verdict.get("candidate")))
        self.setVisible(True)

    def _fill_table(self, rows: list[tuple[str, object, object]]) -> None:
        self.table.setRowCount(len(rows))
        for index, (name, old, new) in enumerate(rows):
            before, after = finite(old), finite(new)
            change = "" if before is None or after is None else f"{after - before:+.4f}"
            for column, text in enumerate((name, format_value(old), format_value(new), change)):
                self.table.setItem(index, column, QtWidgets.QTableWidgetItem(text))

    def cell_texts(self) -> list[list[str]]:
        """The table as text (what the user reads; used by tests)."""
        return [
            [self.table.item(r, c).text() for c in range(self.table.columnCount())]
            for r in range(self.table.rowCount())
        ]


def metric_rows(base: object, candidate: object) -> list[tuple[str, object, object]]:
    """(name, current, new) for every metric either side reports, corrections first, then replay."""
    old, new = (
        flatten_metrics(base if isinstance(base, dict) else {}),
        flatten_metrics(candidate if isinstance(candidate, dict) else {}),
    )
    names = list(dict.fromkeys([*old, *new]))
    names.sort(key=lambda n: next((i for i, s in enumerate(SECTIONS) if n.startswith(s)), len(SECTIONS)))
    return [(name, old.get(name), new.get(name)) for name in names]
