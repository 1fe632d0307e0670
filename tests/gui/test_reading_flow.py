"""The issue's proof, offscreen: open a BUS-BRA frame → overlay and score appear → a brush stroke made of
synthetic mouse events changes the mask and the score → undo restores them → save → the dataset holds it.
Then trouble: a bad file, an inference failure, unsaved edits, no trained model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import drag, wait_for_model, wait_for_score
from PySide6 import QtCore, QtWidgets

from c5desk.errors import ModelError
from c5desk.settings import RESOURCES
from c5desk.store import Store

pytestmark = pytest.mark.timeout(180)
SAMPLE = RESOURCES / "samples" / "bus_sample.png"  # BUS-BRA bus_0005-r


def test_open_score_brush_undo_save(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    wait_for_model(qtbot, window)
    assert "TEST MODEL" in window.score_panel.model_badge.text()  # random weights are never passed off
    assert window.score_panel.device_label.text().startswith("Device: CPU")
    assert window.open_path(str(SAMPLE))
    wait_for_score(qtbot, window)
    doc = window.document
    # overlay and score appear
    assert (
        window.canvas.heat_item.image is not None and window.canvas.heat_item.image.shape == doc.frame.shape
    )
    assert window.canvas.mask_item.boundingRect().width() == doc.frame.shape[1]
    assert f"{doc.prediction.p_malignant:.2f}" in window.score_panel.verdict.text()
    assert window.score_panel.calibration_badge.isVisible()  # a PNG carries no calibration
    model_mask, model_p = doc.mask.copy(), doc.score.p_malignant

    window.actions["tool_brush"].trigger()
    window.canvas.set_brush_radius(12)
    drag(window.canvas, [(60, 60), (90, 70), (140, 90), (180, 120)])
    assert doc.editor.undo_names == ["brush"]  # one stroke, one undo step
    assert not np.array_equal(doc.mask, model_mask) and doc.mask[90, 140] != model_mask[90, 140]
    wait_for_score(qtbot, window)
    edited = doc.score
    assert edited.edited and edited.measurements is not None and edited.p_malignant != model_p
    assert (
        "edited mask" in window.score_panel.verdict.text()
        and "long axis" in window.score_panel.measurements.text()
    )
    assert window.windowTitle().startswith("*")

    window.actions["undo"].trigger()
    assert np.array_equal(doc.mask, model_mask)
    assert doc.score.p_malignant == model_p and not doc.score.edited and not doc.dirty
    window.actions["redo"].trigger()
    wait_for_score(qtbot, window)

    window.actions["label_malignant"].trigger()
    assert doc.label == "malignant" and window.label_panel.buttons.checkedId() == 1
    window.label_panel.note.setPlainText("spiculated")
    assert window.save() and not doc.dirty
    with Store.open(tmp_path / "dataset") as store:
        saved = store.annotation(doc.frame_id)
        assert saved.label == "malignant" and saved.note == "spiculated"
        assert np.array_equal(store.mask(doc.frame_id), doc.mask)
        assert saved.model_version == doc.prediction.model_version
        assert store.prediction(doc.frame_id) is not None


def test_busbra_frame_from_the_dataset_folder(qtbot, make_window, busbra_root: Path) -> None:
    window = make_window()
    assert window.open_path(str(busbra_root / "Images" / "bus_0002-l.png"))
    wait_for_score(qtbot, window)
    assert window.document.prediction.mask.shape == window.document.frame.shape


def test_bad_file_gives_a_message_and_the_window_keeps_working(
    qtbot, make_window, messages, tmp_path
) -> None:
    window = make_window()
    assert window.open_path(str(SAMPLE))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    assert not window.open_path(str(bad))
    assert messages.of("warning") and "broken.png" in messages.of("warning")[0]
    assert window.session.path == SAMPLE and window.document is not None
    assert all(action.isEnabled() for action in window.actions.values())  # nothing left greyed
    wait_for_score(qtbot, window)
    window.actions["tool_lasso_add"].trigger()
    drag(window.canvas, [(20, 20), (120, 20), (120, 100), (20, 100)])
    assert window.document.mask[60, 70]


def test_inference_failure_gives_a_message_and_edits_still_work(qtbot, make_window, messages) -> None:
    window = make_window()
    wait_for_model(qtbot, window)

    def out_of_memory(frame):
        raise ModelError("inference failed on a batch of 1: CUDA out of memory")

    window.link.predictor.predict = out_of_memory  # this instance only
    assert window.open_path(str(SAMPLE))
    qtbot.waitUntil(lambda: bool(messages.of("warning")), timeout=30_000)
    assert "out of memory" in messages.of("warning")[0]
    del window.link.predictor.predict  # the model works again
    window.actions["tool_brush"].trigger()
    drag(window.canvas, [(50, 50), (80, 80)])
    assert window.document.mask.any() and window.document.dirty
    window.actions["rerun"].trigger()  # the model runs again on demand
    wait_for_score(qtbot, window)
    assert window.document.prediction is not None and window.document.score.edited


def test_unsaved_edits_prompt_before_leaving(qtbot, make_window, messages, tmp_path) -> None:
    window = make_window()
    assert window.open_path(str(SAMPLE))
    wait_for_score(qtbot, window)
    window.actions["tool_brush"].trigger()
    drag(window.canvas, [(30, 30), (60, 60)])
    painted = window.document.mask.copy()
    other = tmp_path / "other.png"
    other.write_bytes(SAMPLE.read_bytes()[:-1] + b"\x82")  # a different file of the same picture
    messages.answer = QtWidgets.QMessageBox.StandardButton.Cancel
    assert not window.open_path(str(other))
    assert messages.of("question") and np.array_equal(window.document.mask, painted)
    messages.answer = QtWidgets.QMessageBox.StandardButton.Save  # no label chosen: saving must refuse
    assert not window.open_path(str(other))
    assert "choose a label" in messages.of("warning")[-1]
    window.autosave()
    with Store.open(tmp_path / "dataset") as store:
        assert [e.frame_id for e in store.journal_entries()] == [window.document.frame_id]
    messages.answer = QtWidgets.QMessageBox.StandardButton.Discard
    assert window.open_path(str(SAMPLE.parent))  # a folder this time
    assert window.session.files and window.frame_list.count() == len(window.session.files)
    with Store.open(tmp_path / "dataset") as store:
        assert store.journal_entries() == []  # discarding also drops the autosave


def test_accept_ai_saves_in_one_key(qtbot, make_window, tmp_path) -> None:
    window = make_window()
    assert window.open_path(str(SAMPLE))
    wait_for_score(qtbot, window)
    lesion = np.zeros(window.document.frame.shape, bool)
    lesion[60:120, 80:160] = True  # random weights rarely outline anything: a model that found this
    window.document.prediction = replace(window.document.prediction, mask=lesion)
    window.actions["accept_ai"].trigger()
    doc = window.document
    assert not doc.dirty and doc.label in ("benign", "malignant")
    assert np.array_equal(window.canvas.mask_item._buffer != 0, lesion)  # what was accepted is on screen
    with Store.open(tmp_path / "dataset") as store:
        assert store.annotation(doc.frame_id).label == doc.label


def test_no_trained_model_is_said_plainly(qtbot, make_window, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("C5DESK_MODEL", raising=False)
    monkeypatch.setattr("c5desk.model.catalog.SHIPPED_MODELS", tmp_path / "no-models")
    window = make_window(bundle=None)
    badge = window.score_panel.model_badge
    qtbot.waitUntil(lambda: "No trained model" in badge.text(), timeout=30_000)
    assert window.link.predictor is None and not window.link.loading
    assert window.open_path(str(SAMPLE))
    window.actions["tool_lasso_add"].trigger()
    drag(window.canvas, [(20, 20), (120, 20), (120, 100)])
    qtbot.waitUntil(lambda: not window.document.score.pending, timeout=10_000)
    score = window.document.score
    assert score.p_malignant is None and score.measurements is not None  # measuring still works
    assert "no model" in window.score_panel.verdict.text()


@pytest.mark.parametrize("key", ["fill_holes", "keep_largest", "remove_small", "smooth", "clear_mask"])
def test_mask_operations_are_undoable(qtbot, make_window, key) -> None:
    window = make_window(load_model=False)
    assert window.open_path(str(SAMPLE))
    doc = window.document
    ring = np.zeros(doc.frame.shape, bool)
    ring[40:120, 40:160] = True
    ring[60:100, 70:130] = False  # a hole
    ring[5:7, 5:7] = True  # a small island
    doc.editor.apply(ring, "setup")
    window.canvas.refresh_mask()
    window.actions[key].trigger()
    assert not np.array_equal(doc.mask, ring) and doc.editor.undo_names[-1] != "setup"
    window.actions["undo"].trigger()
    assert np.array_equal(doc.mask, ring)


def test_brush_size_keys_and_wheel(qtbot, make_window) -> None:
    window = make_window(load_model=False)
    window.open_path(str(SAMPLE))
    window.actions["tool_brush"].trigger()
    window.canvas.set_brush_radius(12)
    window.actions["brush_larger"].trigger()
    assert window.canvas.brush_radius == 14 and window.tool_panel.brush_size.value() == 14
    window.actions["brush_smaller"].trigger()
    assert window.canvas.brush_radius == 12
    event = QtWidgets.QGraphicsSceneWheelEvent(QtCore.QEvent.Type.GraphicsSceneWheel)
    event.setDelta(120)
    window.canvas.surface.wheelEvent(event)
    assert window.canvas.brush_radius == 14


def test_threshold_slider_previews_and_apply_is_one_undo_step(qtbot, make_window) -> None:
    window = make_window()
    window.open_path(str(SAMPLE))
    wait_for_score(qtbot, window)
    doc = window.document
    assert window.tool_panel.threshold.isEnabled()
    for value in (0, 10, 20):
        window.tool_panel.threshold.setValue(value)
    assert doc.editor.undo_names == [] and window.canvas.preview_item.isVisible()  # a preview only
    window.tool_panel.threshold.setValue(0)
    window.tool_panel.threshold_apply.click()
    assert doc.mask.all() and doc.editor.undo_names == ["threshold"]
    window.tool_panel.threshold.setValue(100)
    window.tool_panel.threshold_apply.click()
    assert not doc.mask.any()
