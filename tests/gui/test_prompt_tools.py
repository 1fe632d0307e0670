"""The prompt tools with real mouse events: a box drag outlines the lesion inside it, left clicks grow the
outline and a right click removes a region, a pick makes a candidate the lesion; each is one undo step.

The tiny test bundle's probability map is noise, so each test gives the document a synthetic two-blob map
(the model's own result, as far as the window and the predictor's refinement are concerned)."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import SMALL, click, drag, wait_for_score, with_two_blobs
from PySide6 import QtCore

pytestmark = pytest.mark.timeout(180)


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
