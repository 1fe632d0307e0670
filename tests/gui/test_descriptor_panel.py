"""The BI-RADS descriptor panel: suggestions for the outlined lesion, changed with the keyboard and confirmed
with a click, saved with their provenance."""

from __future__ import annotations

from pathlib import Path

from gui_helpers import drag, wait_for_model, wait_for_score
from PySide6 import QtCore

from c5desk.settings import RESOURCES
from c5desk.store import Store

SAMPLE = RESOURCES / "samples" / "bus_sample.png"


def test_terms_are_suggested_changed_confirmed_and_saved(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    wait_for_model(qtbot, window)
    assert window.open_path(str(SAMPLE))
    wait_for_score(qtbot, window)
    window.actions["tool_brush"].trigger()
    window.canvas.set_brush_radius(20)
    drag(window.canvas, [(200, 150), (260, 155), (320, 160)])  # a lesion for sure, whatever the model said
    wait_for_score(qtbot, window)
    panel, doc = window.descriptor_panel, window.document
    assert panel.isEnabled() and set(doc.score.suggested) == set(panel.combos)
    assert all(panel.sources[name].text() == "suggested" for name in panel.combos)
    terms = window.score_panel.terms.text()  # shown beside the score too, italic while suggested
    assert f"<i>{doc.score.suggested['shape']}</i>" in terms and "BI-RADS" in terms
    shape = panel.combos["shape"]
    before = shape.currentText()
    qtbot.keyClick(
        shape, QtCore.Qt.Key.Key_Down if shape.currentIndex() < shape.count() - 1 else QtCore.Qt.Key.Key_Up
    )
    assert shape.currentText() != before
    assert doc.descriptors["shape"] == {"value": shape.currentText(), "source": "clinician"}
    assert panel.sources["shape"].text() == "✓ clinician" and window.windowTitle().startswith("*")
    assert f"<b>{shape.currentText()}</b>" in window.score_panel.terms.text()
    qtbot.mouseClick(panel.confirm, QtCore.Qt.MouseButton.LeftButton)
    assert all(panel.sources[name].text() == "✓ clinician" for name in panel.combos)
    assert not panel.confirm.isEnabled() and panel.reset.isEnabled()
    window.actions["label_malignant"].trigger()
    assert window.save()
    with Store.open(tmp_path / "dataset") as store:
        saved = store.annotation(doc.frame_id).descriptors
    assert saved["shape"]["value"] == shape.currentText()
    assert {entry["source"] for entry in saved.values()} == {"clinician"}
    qtbot.mouseClick(panel.reset, QtCore.Qt.MouseButton.LeftButton)
    assert all(panel.sources[name].text() == "suggested" for name in panel.combos)
