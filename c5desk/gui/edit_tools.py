"""The window's mask tools: the active tool, brush size, mask operations, undo/redo, the threshold slider,
label keys and the image window. Each acts on the current Document's MaskEditor and then tells the
ReadingController that the mask changed (which re-scores and re-measures it).

The threshold slider only previews (a dashed outline; the mask and its undo history stay) until Apply
(or Enter on the slider) makes it the mask as one undo step, asking first when that would replace hand
edits; Cancel or Esc drops the preview. An explicit Apply rather than "releasing the slider applies": the
keyboard and the wheel move a slider without any release, and looking at the probability map at another
threshold must never cost the clinician a correction. Each new frame or model output starts the slider at
the model's threshold again.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.canvas import TOOL_NAMES, Canvas
from c5desk.gui.label_panel import LabelPanel
from c5desk.gui.prefs import Prefs
from c5desk.gui.tools import ToolPanel
from c5desk.reading.controller import ReadingController
from c5desk.reading.document import DEFAULT_THRESHOLD

Q = QtWidgets.QMessageBox


class EditTools:
    def __init__(
        self,
        canvas: Canvas,
        tool_panel: ToolPanel,
        label_panel: LabelPanel,
        reading: ReadingController,
        prefs: Prefs,
        status: Callable[[str], None],
    ) -> None:
        self.canvas, self.tool_panel, self.label_panel = canvas, tool_panel, label_panel
        self.reading, self.prefs, self.status = reading, prefs, status
        self._committed = DEFAULT_THRESHOLD  # the level the mask was made at: where Cancel returns
        self._previewing = False
        tool_panel.threshold_apply.clicked.connect(self.apply_threshold)
        tool_panel.threshold_cancel.clicked.connect(self.cancel_threshold)
        canvas.prediction_shown.connect(self.reset_threshold)
        self._escape = self._shortcut("Esc", canvas, QtCore.Qt.ShortcutContext.WindowShortcut)
        self._escape.activated.connect(self.cancel_threshold)
        self._escape.setEnabled(False)  # Esc is taken only while a preview is shown
        for key in ("Return", "Enter"):
            enter = self._shortcut(key, tool_panel.threshold, QtCore.Qt.ShortcutContext.WidgetShortcut)
            enter.activated.connect(self.apply_threshold)

    @staticmethod
    def _shortcut(key: str, parent: QtWidgets.QWidget, context: QtCore.Qt.ShortcutContext) -> QtGui.QShortcut:
        shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), parent)
        shortcut.setContext(context)
        return shortcut

    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        self.status(f"Tool: {TOOL_NAMES[tool]}")

    def resize_brush(self, direction: int) -> None:
        radius = self.canvas.brush_radius
        self.canvas.set_brush_radius(radius + direction * max(1, radius // 6))

    def mask_operation(self, name: str) -> None:
        doc = self.reading.document
        if doc is None:
            return
        ops = {
            "fill_holes": doc.editor.fill_holes,
            "keep_largest": doc.editor.keep_largest,
            "remove_small": lambda: doc.editor.remove_small(self.tool_panel.island_size.value()),
            "smooth": lambda: doc.editor.smooth(int(self.prefs["smooth_radius"])),
            "clear": doc.editor.clear,
        }
        if ops[name]():
            self._mask_changed()
        else:
            self.status(f"{name.replace('_', ' ')}: nothing to change")

    def undo(self) -> None:
        doc = self.reading.document
        if doc is not None and doc.editor.undo() is not None:
            self._mask_changed()
        else:
            self.status("Nothing to undo")

    def redo(self) -> None:
        doc = self.reading.document
        if doc is not None and doc.editor.redo() is not None:
            self._mask_changed()
        else:
            self.status("Nothing to redo")

    # ---- the threshold: preview, apply, cancel ---------------------------------------------------------
    def threshold(self, value: int) -> None:
        """The slider moved: preview prob >= value/100 over the frame; the mask is not touched."""
        doc = self.reading.document
        if doc is None or doc.prediction is None:
            return
        level = value / 100
        self.canvas.show_threshold_preview(doc.threshold_preview(level))
        self._set_previewing(level)

    def apply_threshold(self) -> None:
        """Make the previewed threshold the mask (one undo step), asking before replacing hand edits."""
        doc = self.reading.document
        if not self._previewing or doc is None or doc.prediction is None:
            return
        level = self.tool_panel.threshold.value() / 100
        if doc.threshold_replaces_edits() and not self._confirm_replace(level):
            return  # the preview stays: the clinician may still cancel it
        changed = doc.apply_threshold(level)
        self._committed = level
        self.canvas.show_threshold_preview(None)
        self._set_previewing(None)
        if changed:
            self._mask_changed()
            self.status(f"Threshold {level:.2f} applied (Ctrl+Z undoes it)")
        else:
            self.status(f"Threshold {level:.2f}: the mask is already that")

    def cancel_threshold(self) -> None:
        """Drop the preview; the slider returns to the threshold the mask was made at."""
        self.canvas.show_threshold_preview(None)
        self.tool_panel.set_threshold_quietly(round(self._committed * 100))
        self._set_previewing(None)

    def reset_threshold(self) -> None:
        """A new frame or model output: no preview, the slider at the model's threshold."""
        doc = self.canvas.document
        self._committed = doc.model_threshold if doc is not None else DEFAULT_THRESHOLD
        self.cancel_threshold()

    def _set_previewing(self, level: float | None) -> None:
        self._previewing = level is not None
        self.tool_panel.show_threshold_preview(level)
        self._escape.setEnabled(self._previewing)

    def _confirm_replace(self, level: float) -> bool:
        answer = Q.question(
            self.canvas.window(),
            "Replace your edits?",
            f"The mask has hand edits. Replace it with the model's probability ≥ {level:.2f}?\n"
            "Undo (Ctrl+Z) brings your edits back.",
            Q.StandardButton.Yes | Q.StandardButton.Cancel,
        )
        return answer == Q.StandardButton.Yes

    def set_label(self, label: str) -> None:
        if self.reading.document is not None:
            self.label_panel.set_label(label)

    def window_levels(self) -> None:
        self.canvas.set_window(self.tool_panel.gain.value() / 100, self.tool_panel.contrast_factor())

    def _mask_changed(self) -> None:
        self.reading.edited(redraw=True)
