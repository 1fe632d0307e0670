"""Issue 13, in the window with real key and mouse events: `A` keeps the clinician's label, the threshold
slider previews until applied and starts every frame at the model's threshold, and the active tool stands
out in both themes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_helpers import drag, send_mouse, wait_for_score
from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.app import apply_theme
from c5desk.settings import RESOURCES
from c5desk.store import Store

pytestmark = pytest.mark.timeout(180)
SAMPLE = RESOURCES / "samples" / "bus_sample.png"  # BUS-BRA bus_0005-r
Key = QtCore.Qt.Key


def focus(qtbot, window, widget: QtWidgets.QWidget) -> None:
    """Shortcuts reach the active window only: activate it and give `widget` the keyboard."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=10_000)


def model_found(window, p_malignant: float) -> np.ndarray:
    """Random weights rarely outline anything: a model output with a lesion and the given verdict."""
    doc = window.document
    lesion = np.zeros(doc.frame.shape, bool)
    lesion[60:120, 80:160] = True
    doc.prediction = replace(doc.prediction, mask=lesion, p_malignant=p_malignant)
    return lesion


def test_accept_keeps_the_label_the_clinician_pressed(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    assert window.open_path(str(SAMPLE))
    wait_for_score(qtbot, window)
    lesion = model_found(window, p_malignant=0.2)  # the model says benign
    focus(qtbot, window, window.canvas)
    qtbot.keyClick(window.canvas, Key.Key_2)
    doc = window.document
    assert doc.label == "malignant"
    qtbot.keyClick(window.canvas, Key.Key_A)
    assert doc.label == "malignant" and not doc.dirty and np.array_equal(doc.mask, lesion)
    assert window.label_panel.buttons.checkedId() == 1  # malignant still shown
    QtWidgets.QApplication.processEvents()
    assert "Kept your label malignant; the model says benign" in window.statusBar().currentMessage()
    with Store.open(tmp_path / "dataset") as store:
        assert store.annotation(doc.frame_id).label == "malignant"


def two_frames(folder: Path) -> Path:
    """A folder of two different frames (the sample and its mirror), for stepping to the next frame."""
    folder.mkdir()
    image = cv2.imread(str(SAMPLE), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(folder / "a.png"), image)
    cv2.imwrite(str(folder / "b.png"), image[:, ::-1])
    return folder


def test_threshold_previews_until_applied_and_resets_per_frame(
    qtbot, make_window, messages, tmp_path: Path
) -> None:
    window = make_window()
    assert window.open_path(str(two_frames(tmp_path / "frames")))
    wait_for_score(qtbot, window)
    doc, slider, panel = window.document, window.tool_panel.threshold, window.tool_panel
    model_mask, steps = doc.mask.copy(), list(doc.editor.undo_names)
    assert slider.isEnabled() and slider.value() == 50
    focus(qtbot, window, slider)
    for _ in range(5):
        qtbot.keyClick(slider, Key.Key_Left)  # the slider's own keys: a preview, not an edit
    assert slider.value() == 45 and window.canvas.preview_item.isVisible()
    assert np.array_equal(doc.mask, model_mask) and doc.editor.undo_names == steps and not doc.dirty
    assert "Preview" in panel.threshold_state.text() and panel.threshold_apply.isEnabled()
    qtbot.keyClick(slider, Key.Key_Escape)  # cancel: the preview goes, the slider returns
    assert slider.value() == 50 and not window.canvas.preview_item.isVisible()
    assert not panel.threshold_apply.isEnabled() and np.array_equal(doc.mask, model_mask)

    drag_handle_to_left_end(slider)  # threshold 0: everything; releasing the handle applies nothing
    assert slider.value() == 0 and window.canvas.preview_item.isVisible()
    assert np.array_equal(doc.mask, model_mask) and doc.editor.undo_names == steps
    qtbot.keyClick(slider, Key.Key_Return)  # apply: one undo step (the model's own mask: no question)
    assert doc.mask.all() and doc.editor.undo_names == [*steps, "threshold"] and not messages.of("question")
    assert not window.canvas.preview_item.isVisible()

    window.actions["tool_eraser"].trigger()
    drag(window.canvas, [(40, 40), (90, 60)])  # a hand edit
    edited = doc.mask.copy()
    focus(qtbot, window, slider)
    qtbot.keyClick(slider, Key.Key_End)
    qtbot.mouseClick(panel.threshold_apply, QtCore.Qt.MouseButton.LeftButton)
    assert "hand edits" in messages.of("question")[-1]  # asked; Cancel keeps the edits
    assert np.array_equal(doc.mask, edited) and window.canvas.preview_item.isVisible()

    messages.answer = QtWidgets.QMessageBox.StandardButton.Discard  # leaving the unsaved frame
    focus(qtbot, window, window.canvas)
    qtbot.keyClick(window.canvas, Key.Key_PageDown)  # next frame
    wait_for_score(qtbot, window)
    assert window.document is not doc and window.session.file_pos == 1
    assert slider.value() == 50 and panel.threshold_value.text() == "0.50"  # the model's threshold
    assert not window.canvas.preview_item.isVisible() and not panel.threshold_apply.isEnabled()


def drag_handle_to_left_end(slider: QtWidgets.QSlider) -> None:
    """Press on the slider's handle, drag it past the left end and release: real mouse events."""
    option = QtWidgets.QStyleOptionSlider()
    slider.initStyleOption(option)
    style = QtWidgets.QStyle
    handle = slider.style().subControlRect(
        style.ComplexControl.CC_Slider, option, style.SubControl.SC_SliderHandle, slider
    )
    start = handle.center()
    send_mouse(slider, "press", start)
    for x in (start.x() // 2, 0, -20):
        send_mouse(slider, "move", QtCore.QPoint(x, start.y()))
    send_mouse(slider, "release", QtCore.QPoint(-20, start.y()))


def tool_button(window, key: str) -> QtWidgets.QToolButton:
    action = window.actions[key]
    found = [b for b in window.tool_panel.findChildren(QtWidgets.QToolButton) if b.defaultAction() is action]
    assert len(found) == 1
    return found[0]


def mean_colour(widget: QtWidgets.QWidget) -> np.ndarray:
    """The widget as drawn on screen, averaged to one RGB colour."""
    image = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    width, height, line = image.width(), image.height(), image.bytesPerLine()
    pixels = np.frombuffer(image.constBits(), np.uint8, count=height * line).reshape(height, line)
    return pixels[:, : 3 * width].reshape(height, width, 3).reshape(-1, 3).mean(axis=0)


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_the_active_tool_stands_out_in_both_themes(qtbot, make_window, theme) -> None:
    window = make_window(load_model=False)
    assert window.open_path(str(SAMPLE))
    apply_theme(theme)
    try:
        focus(qtbot, window, window.canvas)
        brush, eraser = tool_button(window, "tool_brush"), tool_button(window, "tool_eraser")
        qtbot.keyClick(window.canvas, Key.Key_B)
        assert brush.isChecked() and not eraser.isChecked() and window.canvas.tool == "brush"
        assert np.abs(mean_colour(brush) - mean_colour(eraser)).sum() > 90  # clearly, not a faint shade
        qtbot.keyClick(window.canvas, Key.Key_E)
        assert eraser.isChecked() and not brush.isChecked() and window.canvas.tool == "eraser"
        assert np.abs(mean_colour(eraser) - mean_colour(brush)).sum() > 90
        assert window.canvas.tool_badge.text() == "Eraser"  # always in sight over the frame
        assert window.statusBar().currentMessage() == "Tool: Eraser"
    finally:
        apply_theme("dark")
