"""The prompt tools with real mouse events: a box drag outlines the lesion inside it, left clicks grow the
outline and a right click removes a region, a pick makes a candidate the lesion; each is one undo step.

The tiny test bundle's probability map is noise, so each test gives the document a synthetic two-blob map
(the model's own result, as far as the window and the predictor's refinement are concerned)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from gui_helpers import drag, to_viewport, wait_for_model, wait_for_score
from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.model_link import wire_prompts
from c5desk.settings import RESOURCES

pytestmark = pytest.mark.timeout(180)
SAMPLE = RESOURCES / "samples" / "bus_sample.png"
BIG, SMALL = ((90, 110), 30), ((220, 90), 18)  # (centre x, y), radius of the two candidate regions


def blob(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.circle(out, centre, radius, 1, -1)
    return out > 0


def with_two_blobs(qtbot, make_window):
    """A window showing the sample with a two-blob probability map; the model's mask is both blobs."""
    window = make_window()
    wire_prompts(window)  # idempotent: MainWindow._connect may call it already
    wait_for_model(qtbot, window)
    assert window.open_path(str(SAMPLE))
    wait_for_score(qtbot, window)
    doc = window.document
    big, small = blob(doc.frame.shape, *BIG), blob(doc.frame.shape, *SMALL)
    prob = cv2.GaussianBlur((0.9 * big + 0.8 * small).astype(np.float32), (9, 9), 3)
    doc.prediction = replace(doc.prediction, prob=prob, mask=prob >= 0.5)
    doc.editor.reset(doc.prediction.mask)
    window.canvas.set_document(doc)
    return window, doc, big, small


def click(canvas, x: float, y: float, button=QtCore.Qt.MouseButton.LeftButton) -> None:
    """A real press + release of `button` at frame pixel (x, y)."""
    viewport, point = canvas.viewport(), QtCore.QPointF(to_viewport(canvas, x, y))
    steps = ((QtCore.QEvent.Type.MouseButtonPress, button),
             (QtCore.QEvent.Type.MouseButtonRelease, QtCore.Qt.MouseButton.NoButton))  # fmt: skip
    for kind, buttons in steps:
        event = QtGui.QMouseEvent(
            kind, point, viewport.mapToGlobal(point), button, buttons, QtCore.Qt.KeyboardModifier.NoModifier
        )
        QtWidgets.QApplication.sendEvent(viewport, event)
    QtWidgets.QApplication.processEvents()


def wait_for_steps(qtbot, window, doc, count: int) -> None:
    qtbot.waitUntil(
        lambda: len(doc.editor.undo_names) == count and window.link.worker.pending == 0, timeout=60_000
    )


def test_box_drag_outlines_the_lesion_inside_then_undo(qtbot, make_window) -> None:
    window, doc, big, small = with_two_blobs(qtbot, make_window)
    window.actions["tool_box"].trigger()
    assert window.canvas.tool_badge.text() == "Box"
    drag(window.canvas, [(195, 65), (220, 90), (245, 115)])  # around the small blob only
    wait_for_steps(qtbot, window, doc, 1)
    assert doc.editor.undo_names == ["box"]
    assert (doc.mask & small).sum() > 0.9 * small.sum() and not (doc.mask & big).any()
    assert doc.provenance["method"] == "prompted" and doc.provenance["prompts"][0]["tool"] == "box"
    wait_for_score(qtbot, window)
    assert doc.score.measurements is not None and not doc.score.pending
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(doc.mask, doc.prediction.mask) and doc.provenance == {"method": "automatic"}


def test_left_clicks_grow_the_outline_and_a_right_click_removes_a_region(qtbot, make_window) -> None:
    window, doc, big, small = with_two_blobs(qtbot, make_window)
    doc.editor.apply(big, "keep largest")  # start from the big blob alone
    window.canvas.refresh_mask()
    window.actions["tool_click"].trigger()
    click(window.canvas, 125, 110)  # 5 px outside the big blob's edge: the outline moves out
    assert window.canvas.marks[True].path().elementCount() > 0  # the + shows before the model answers
    wait_for_steps(qtbot, window, doc, 2)
    grown = doc.mask.copy()
    assert grown[110, 125] and grown.sum() > big.sum()
    click(window.canvas, *SMALL[0])  # on the small candidate: added
    wait_for_steps(qtbot, window, doc, 3)
    assert (doc.mask & small).sum() > 0.9 * small.sum() and doc.mask.sum() > grown.sum()
    assert doc.provenance["prompts"][-1]["positive"] == [[125, 110], list(SMALL[0])]
    click(window.canvas, *SMALL[0], button=QtCore.Qt.MouseButton.RightButton)
    wait_for_steps(qtbot, window, doc, 4)
    assert not (doc.mask & small).any() and doc.mask[110, 90]  # the small one went, the lesion stayed
    assert window.canvas.marks[False].path().elementCount() > 0
    assert doc.editor.undo_names[-3:] == ["click", "click", "click"]
    window.actions["undo"].trigger()
    assert (doc.mask & small).sum() > 0.9 * small.sum()


def test_pick_makes_a_candidate_the_lesion(qtbot, make_window) -> None:
    window, doc, big, small = with_two_blobs(qtbot, make_window)
    assert (doc.mask & big).any() and (doc.mask & small).any()
    window.actions["tool_pick"].trigger()
    click(window.canvas, *SMALL[0])
    wait_for_steps(qtbot, window, doc, 1)
    assert doc.editor.undo_names == ["pick"]
    assert (doc.mask & small).sum() > 0.9 * small.sum() and not (doc.mask & big).any()
    assert doc.provenance["prompts"] == [{"tool": "pick", "positive": [list(SMALL[0])]}]
    window.actions["tool_brush"].trigger()
    drag(window.canvas, [(20, 20), (30, 25)])
    assert doc.provenance == {"method": "hand-drawn"}
