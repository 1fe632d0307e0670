"""Several lesions on a frame in the window, with real mouse events and keys: pick two candidates as two
lesions, label each, select from the lesion list, save, export to COCO and import the export again."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from gui_helpers import BIG, SMALL, click, wait_for_score, with_two_blobs
from PySide6 import QtCore, QtWidgets

from c5desk.cli import main
from c5desk.inference.regions import predicted_lesions
from c5desk.store import Store
from c5desk.store.exports import run_export

pytestmark = pytest.mark.timeout(240)
Key = QtCore.Qt.Key


def pick(qtbot, window, centre: tuple[int, int]) -> None:
    doc = window.document
    steps = len(doc.editor.undo_names)
    click(window.canvas, *centre)
    qtbot.waitUntil(lambda: len(doc.editor.undo_names) == steps + 1, timeout=60_000)
    wait_for_score(qtbot, window)


def select_row(qtbot, window, row: int) -> None:
    """A real click on the lesion list's row."""
    rows = window.lesion_panel.list
    qtbot.mouseClick(
        rows.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=rows.visualItemRect(rows.item(row)).center()
    )


def test_two_picked_lesions_are_saved_exported_to_coco_and_imported_again(qtbot, make_window, tmp_path):
    window, doc, big, small = with_two_blobs(qtbot, make_window)
    window.actions["tool_pick"].trigger()
    pick(qtbot, window, BIG[0])
    qtbot.keyClick(window.canvas, Key.Key_2)  # malignant
    qtbot.keyClick(window.canvas, Key.Key_L, QtCore.Qt.KeyboardModifier.ControlModifier)  # new lesion
    assert doc.lesion_count == 2 and doc.active_lesion == 1 and not doc.mask.any()
    pick(qtbot, window, SMALL[0])
    qtbot.keyClick(window.canvas, Key.Key_1)  # benign
    assert (doc.mask & small).sum() > 0.8 * small.sum() and not (doc.mask & big).any()
    rows = window.lesion_panel.list
    assert rows.count() == 2 and rows.currentRow() == 1
    assert "benign" in rows.item(1).text() and "malignant" in rows.item(0).text()
    assert window.canvas.other_lesions.childItems()  # lesion 1, dashed with its number
    select_row(qtbot, window, 0)
    assert doc.active_lesion == 0 and window.label_panel.buttons.checkedButton().text() == "malignant"
    assert (doc.mask & big).sum() > 0.9 * big.sum()
    qtbot.keyClick(window.canvas, Key.Key_S, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert not doc.dirty
    store = window.reading.ensure_store()
    saved = store.annotation(doc.frame_id)
    lesions = store.lesions(saved)
    assert [(lesion.label, lesion.provenance["method"]) for lesion in lesions] == [
        ("malignant", "prompted"), ("benign", "prompted"),
    ]  # fmt: skip
    out = tmp_path / "coco"
    run_export(store, "coco", out)
    coco = json.loads((out / "annotations.json").read_text())
    assert [a["category_id"] for a in coco["annotations"]] == [2, 1]  # malignant, benign
    assert main(["import", str(tmp_path / "again"), str(out)]) == 0
    with Store.open(tmp_path / "again") as again:
        [annotation] = again.annotations()
        imported = again.lesions(annotation)
        assert [lesion.label for lesion in imported] == ["malignant", "benign"]
        for before, after in zip(lesions, imported, strict=True):
            assert np.array_equal(store.lesion_mask(before), again.lesion_mask(after))


def test_removing_and_splitting_lesions_from_the_menu(qtbot, make_window, messages):
    window, doc, big, small = with_two_blobs(qtbot, make_window)  # the model's outline: both candidates
    regions = predicted_lesions(doc.prediction.prob, doc.prediction.mask, None, lambda region: 0.5)
    doc.prediction = replace(doc.prediction, lesions=regions)  # as Predictor.predict scores them
    window.refresh()
    split = window.lesion_panel.buttons["split_lesions"]
    assert split.text() == "Split (2)" and "2 separate regions" in split.toolTip()
    window.actions["split_lesions"].trigger()
    assert split.text() == "Split"
    assert doc.lesion_count == 2 and window.lesion_panel.list.count() == 2
    assert (doc.mask & big).sum() > 0.9 * big.sum() and not (doc.mask & small).any()  # the larger stays main
    window.actions["next_lesion"].trigger()
    assert (
        doc.active_lesion == 1 and (doc.mask & small).sum() > 0.8 * small.sum() and not (doc.mask & big).any()
    )
    messages.answer = QtWidgets.QMessageBox.StandardButton.No
    window.actions["remove_lesion"].trigger()
    assert doc.lesion_count == 2  # the clinician said no
    messages.answer = QtWidgets.QMessageBox.StandardButton.Yes
    window.actions["remove_lesion"].trigger()
    assert doc.lesion_count == 1 and window.lesion_panel.list.count() == 1
    assert not window.canvas.other_lesions.childItems()
    window.actions["remove_lesion"].trigger()  # the only lesion stays; the status says why
    assert doc.lesion_count == 1 and "cannot be removed" in window.statusBar().currentMessage()
