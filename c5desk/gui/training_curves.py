"""Live training progress: loss per step (and per epoch), validation Dice/AUC per epoch, progress, ETA.

Fed with the training process's "start", "step" and "epoch" events; malformed values are skipped, so a
confused child can cost a point on a curve but never the window.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6 import QtWidgets

from c5desk.gui.dialog_parts import finite, format_eta


class TrainingCurves(QtWidgets.QWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        plots = QtWidgets.QHBoxLayout()
        self.loss_plot = pg.PlotWidget(title="Training loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.addLegend()
        self.val_plot = pg.PlotWidget(title="Validation")
        self.val_plot.setLabel("bottom", "epoch")
        self.val_plot.addLegend()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.val_plot)
        layout.addLayout(plots, stretch=1)
        self.curves = {
            "step_loss": self.loss_plot.plot(pen=pg.mkPen("#5da5ff"), name="step"),
            "epoch_loss": self.loss_plot.plot(pen=None, symbol="o", symbolBrush="#ffb454", name="epoch"),
            "val_dice": self.val_plot.plot(pen=pg.mkPen("#7fd18b"), symbol="o", name="Dice"),
            "val_auc": self.val_plot.plot(pen=pg.mkPen("#d88cff"), symbol="s", name="AUC"),
        }
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        row = QtWidgets.QHBoxLayout()
        self.progress = QtWidgets.QProgressBar()
        self.eta_label = QtWidgets.QLabel()
        row.addWidget(self.progress, stretch=1)
        row.addWidget(self.eta_label)
        layout.addLayout(row)
        self.reset()

    def reset(self) -> None:
        self._total_steps = 0
        for name, curve in self.curves.items():
            self.series[name] = ([], [])
            curve.setData([], [])
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.eta_label.setText("")

    def finish(self, complete: bool) -> None:
        self.eta_label.setText("")
        if complete:
            self.progress.setValue(self.progress.maximum())

    def on_start(self, event: dict[str, Any]) -> None:
        self._set_total(event.get("total_steps"))

    def on_step(self, event: dict[str, Any]) -> None:
        xs, _ = self.series["step_loss"]
        step = finite(event.get("step"))
        self._add_point("step_loss", step if step is not None else len(xs) + 1, event.get("loss"))
        self._set_total(event.get("total_steps"))
        if step is not None and self._total_steps:
            self.progress.setValue(int(min(step, self._total_steps)))
        self.eta_label.setText(format_eta(event.get("eta_s")))

    def on_epoch(self, event: dict[str, Any]) -> None:
        steps = self.series["step_loss"][0]
        epoch = finite(event.get("epoch"))
        self._add_point("epoch_loss", steps[-1] if steps else (epoch or 0), event.get("loss"))
        val = event.get("val") if isinstance(event.get("val"), dict) else {}
        if epoch is not None:
            self._add_point("val_dice", epoch, val.get("dice"))
            self._add_point("val_auc", epoch, val.get("auc"))  # AUC is null when one class is missing
        self.eta_label.setText(format_eta(event.get("eta_s")))

    def _set_total(self, value: object) -> None:
        total = finite(value)
        if total is not None and total > 0:
            self._total_steps = int(total)
            self.progress.setRange(0, self._total_steps)

    def _add_point(self, name: str, x: float, y: object) -> None:
        value = finite(y)
        if value is None:
            return
        xs, ys = self.series[name]
        xs.append(float(x))
        ys.append(value)
        self.curves[name].setData(xs, ys)
