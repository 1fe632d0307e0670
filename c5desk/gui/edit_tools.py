"""The window's mask tools: the active tool, brush size, mask operations, undo/redo, the threshold slider,
label keys and the image window. Each acts on the current Document's MaskEditor and then tells the
ReadingController that the mask changed (which re-scores and re-measures it)."""

from __future__ import annotations

from collections.abc import Callable

from c5desk.gui.canvas import Canvas
from c5desk.gui.label_panel import LabelPanel
from c5desk.gui.prefs import Prefs
from c5desk.gui.tools import ToolPanel
from c5desk.reading.controller import ReadingController


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

    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)

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

    def threshold(self, value: int) -> None:
        doc = self.reading.document
        if doc is not None and doc.prediction is not None and doc.threshold(value / 100):
            self._mask_changed()

    def set_label(self, label: str) -> None:
        if self.reading.document is not None:
            self.label_panel.set_label(label)

    def window_levels(self) -> None:
        self.canvas.set_window(self.tool_panel.gain.value() / 100, self.tool_panel.contrast_factor())

    def _mask_changed(self) -> None:
        self.reading.edited(redraw=True)
