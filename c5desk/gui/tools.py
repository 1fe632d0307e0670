"""The tools panel: editing tools and mask operations (buttons for the window's actions), brush size,
island size, the probability threshold slider, overlay toggles and opacities, gain and contrast."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.reading.edit import MAX_BRUSH_RADIUS

TOOL_ACTIONS = ("tool_navigate", "tool_brush", "tool_eraser", "tool_lasso_add", "tool_lasso_subtract",
                "tool_box", "tool_click", "tool_pick")  # fmt: skip
MASK_ACTIONS = ("undo", "redo", "fill_holes", "keep_largest", "remove_small", "smooth", "clear_mask")
LAYER_ACTIONS = ("show_contour", "show_mask", "show_heat")


def _slider(low: int, high: int, value: int) -> QtWidgets.QSlider:
    slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    slider.setValue(value)
    return slider


def _grid_of_buttons(
    actions: dict[str, QtGui.QAction], keys: tuple[str, ...], columns: int, role: str = ""
) -> QtWidgets.QGridLayout:
    grid = QtWidgets.QGridLayout()
    for i, key in enumerate(keys):
        button = QtWidgets.QToolButton()
        button.setDefaultAction(actions[key])
        button.setProperty("c5role", role)  # "tool": the theme's strong checked style (app.py)
        button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        grid.addWidget(button, i // columns, i % columns)
    return grid


class ToolPanel(QtWidgets.QWidget):
    def __init__(self, actions: dict[str, QtGui.QAction], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self._edit_box(actions))
        layout.addWidget(self._view_box(actions))
        layout.addStretch(1)

    def _edit_box(self, actions: dict[str, QtGui.QAction]) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("")  # the tab it sits in says "Correct": a title line would cost 1280×720
        form = QtWidgets.QFormLayout(box)
        form.addRow(_grid_of_buttons(actions, TOOL_ACTIONS, 3, role="tool"))
        self.brush_size = QtWidgets.QSpinBox()
        self.brush_size.setRange(0, MAX_BRUSH_RADIUS)
        self.brush_size.setSuffix(" px radius")
        self.brush_size.setToolTip("Brush size: [ and ], or the mouse wheel with the brush or eraser")
        form.addRow("Brush", self.brush_size)
        form.addRow(_grid_of_buttons(actions, MASK_ACTIONS, 2))
        self.island_size = QtWidgets.QSpinBox()
        self.island_size.setRange(1, 1_000_000)
        self.island_size.setSuffix(" px")
        self.island_size.setToolTip("Remove small islands: regions smaller than this many pixels")
        form.addRow("Small island", self.island_size)
        form.addRow("Threshold", self._threshold_row())
        return box

    def _threshold_row(self) -> QtWidgets.QVBoxLayout:
        """The slider previews prob ≥ threshold over the frame; Apply makes it the mask (one undo step)."""
        self.threshold = _slider(0, 100, 50)
        self.threshold.setToolTip(
            "Preview the mask at another probability threshold (shown dashed, the mask is unchanged);\n"
            "Apply (Enter) makes it the mask as one undo step, Cancel (Esc) drops the preview"
        )
        self.threshold.setEnabled(False)
        self.threshold_value = QtWidgets.QLabel("0.50")
        self.threshold.valueChanged.connect(lambda v: self.threshold_value.setText(f"{v / 100:.2f}"))
        self.threshold_apply = QtWidgets.QPushButton("Apply")
        self.threshold_cancel = QtWidgets.QPushButton("Cancel")
        self.threshold_state = QtWidgets.QLabel("")  # "Preview — not applied" while one is shown
        self.threshold_state.setStyleSheet("color: #e040fb; font-weight: bold;")  # the preview's colour
        slider_row, buttons = QtWidgets.QHBoxLayout(), QtWidgets.QHBoxLayout()
        slider_row.addWidget(self.threshold)
        slider_row.addWidget(self.threshold_value)
        buttons.addWidget(self.threshold_state, 1)
        buttons.addWidget(self.threshold_apply)
        buttons.addWidget(self.threshold_cancel)
        column = QtWidgets.QVBoxLayout()
        column.addLayout(slider_row)
        column.addLayout(buttons)
        self.show_threshold_preview(None)
        return column

    def show_threshold_preview(self, level: float | None) -> None:
        """Mark a preview at `level` as pending (None: no preview, nothing to apply or cancel)."""
        self.threshold_state.setText("" if level is None else f"Preview {level:.2f} — not applied")
        self.threshold_apply.setEnabled(level is not None)
        self.threshold_cancel.setEnabled(level is not None)

    def set_threshold_quietly(self, value: int) -> None:
        """Move the slider without asking for a preview (a new frame starts at the model's threshold)."""
        blocked = self.threshold.blockSignals(True)
        self.threshold.setValue(value)
        self.threshold.blockSignals(blocked)
        self.threshold_value.setText(f"{self.threshold.value() / 100:.2f}")

    def _view_box(self, actions: dict[str, QtGui.QAction]) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("View")
        form = QtWidgets.QFormLayout(box)
        toggles = QtWidgets.QHBoxLayout()
        for key in LAYER_ACTIONS:
            check = QtWidgets.QCheckBox(actions[key].text().replace("&", ""))
            check.setChecked(actions[key].isChecked())
            check.toggled.connect(actions[key].setChecked)
            actions[key].toggled.connect(check.setChecked)
            toggles.addWidget(check)
        form.addRow(toggles)
        self.mask_opacity = _slider(0, 100, 35)
        self.heat_opacity = _slider(0, 100, 45)
        self.gain = _slider(-100, 100, 0)
        self.contrast = _slider(-100, 100, 0)
        form.addRow("Mask opacity", self.mask_opacity)
        form.addRow("Heat map opacity", self.heat_opacity)
        form.addRow("Gain", self.gain)
        form.addRow("Contrast", self.contrast)
        reset = QtWidgets.QPushButton("Reset gain/contrast")
        reset.clicked.connect(lambda: (self.gain.setValue(0), self.contrast.setValue(0)))
        form.addRow(reset)
        return box

    def contrast_factor(self) -> float:
        """The contrast slider (-100..100) as a factor 1/4..4, 1 in the middle."""
        return float(4.0 ** (self.contrast.value() / 100))
