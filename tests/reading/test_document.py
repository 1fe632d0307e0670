"""Document and Session headless: model output → edits → live rescore → undo → save / autosave → recovery."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.errors import ReadError
from c5desk.inference import Predictor, make_predictor
from c5desk.inference.presence import with_presence
from c5desk.lesion.measure import lesion_contours, measure_mask
from c5desk.model.bundle import make_random_bundle
from c5desk.reading.document import Document, DocumentError, Origin
from c5desk.reading.session import Session
from c5desk.settings import RESOURCES

SAMPLE = RESOURCES / "samples" / "bus_sample.png"


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    bundle = make_random_bundle(tmp_path_factory.mktemp("bundles") / "tiny", arch="c5net_tiny", input_size=64)
    return make_predictor(bundle, device="cpu", backend="torch")


def lesion(shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    cv2.ellipse(mask.view(np.uint8), (shape[1] // 2, shape[0] // 2), (50, 30), 0, 0, 360, 1, -1)
    return mask


def predicted(doc: Document, predictor: Predictor) -> Document:
    """The random model's output with a lesion-like mask (random weights rarely outline anything)."""
    mask = lesion(doc.frame.shape)
    prediction = replace(
        predictor.predict(doc.frame),
        mask=mask,
        contours=lesion_contours(mask),
        measurements=measure_mask(mask, doc.frame.mm_per_px),
    )
    doc.set_prediction(prediction)
    return doc


def test_model_output_becomes_the_starting_mask_and_is_not_an_edit(frame, predictor) -> None:
    doc = predicted(Document(frame), predictor)
    assert np.array_equal(doc.mask, doc.prediction.mask)
    assert not doc.dirty and not doc.editor.can_undo
    score = doc.score
    assert score.p_malignant == doc.prediction.p_malignant and score.spread == doc.prediction.score_spread
    assert not score.pending and not score.edited
    assert score.measurements is not None and score.measurements.units == "px" and not score.calibrated
    assert score.model_version.startswith("random-") and score.device.startswith("CPU")


def test_brush_edit_rescores_and_undo_restores_the_model_score(frame, predictor) -> None:
    doc = predicted(Document(frame), predictor)
    before = doc.score
    doc.editor.begin_stroke(40, 40, radius=15)
    doc.editor.extend_stroke(200, 60)
    doc.editor.end_stroke()
    assert doc.dirty and doc.score.pending and doc.score.edited
    after = doc.rescore(predictor)
    assert not after.pending and after.spread is None
    assert after.measurements.area > before.measurements.area
    assert after.p_malignant != before.p_malignant  # the score follows the edited mask
    doc.editor.undo()
    restored = doc.score
    assert not restored.pending and not doc.dirty
    assert (
        restored.p_malignant == before.p_malignant and restored.measurements.area == before.measurements.area
    )


def test_stale_rescore_is_ignored(frame, predictor) -> None:
    doc = predicted(Document(frame), predictor)
    doc.editor.clear()
    version, *_ = doc.rescore_request()
    doc.editor.begin_stroke(100, 100, 5)
    doc.editor.end_stroke()
    assert not doc.apply_rescore(version, 0.99, 0.1, None)
    assert doc.score.pending


def test_save_needs_a_label_then_stores_annotation_and_prediction(frame, predictor, store) -> None:
    doc = predicted(Document(frame, Origin(path=SAMPLE)), predictor)
    doc.editor.begin_stroke(30, 30, 8)
    doc.editor.end_stroke()
    with pytest.raises(DocumentError, match="choose a label"):
        doc.save(store)
    doc.label, doc.category, doc.note = "malignant", "BI-RADS 4c", "irregular margin"
    saved = doc.save(store)
    assert not doc.dirty
    assert saved.label == "malignant" and saved.category == "BI-RADS 4c" and saved.note == "irregular margin"
    assert saved.model_version == doc.prediction.model_version
    assert np.array_equal(store.mask(doc.frame_id), doc.mask)
    stored = store.prediction(doc.frame_id)
    assert stored is not None and np.array_equal(store.prediction_mask(stored), doc.prediction.mask)
    assert saved.seg_change is not None and saved.seg_change > 0  # measured against the model's output


def test_a_no_lesion_found_answer_is_stored_as_such(frame, predictor, store) -> None:
    doc = Document(frame, Origin(path=SAMPLE))
    doc.set_prediction(with_presence(predictor.predict(frame), present=0.0))
    doc.label = "normal"
    doc.save(store)
    stored = store.prediction(doc.frame_id)
    assert stored.label == "normal" and stored.malignancy is None  # exports and SR give it no score


def test_autosave_is_recovered_by_the_next_document_and_cleared_by_save(frame, predictor, store) -> None:
    doc = predicted(Document(frame), predictor)
    assert not doc.autosave(store)  # nothing to autosave yet
    doc.editor.lasso([(10, 10), (90, 10), (90, 70)])
    doc.note = "typed, not saved"
    assert doc.autosave(store) and not doc.autosave(store)  # written once per change
    again = Document.for_frame(frame, Origin(path=SAMPLE), store)
    assert again.dirty and again.recovered_from
    assert (
        np.array_equal(again.mask, doc.mask) and again.note == "typed, not saved" and again.label == "unsure"
    )
    again.label = "benign"
    again.save(store)
    assert store.journal_entries() == []
    reopened = Document.for_frame(frame, Origin(path=SAMPLE), store)
    assert not reopened.dirty and reopened.label == "benign" and np.array_equal(reopened.mask, doc.mask)
    reopened.set_prediction(predictor.predict(frame))
    assert np.array_equal(reopened.mask, doc.mask)  # the model never overwrites a saved annotation


def test_accept_ai_and_threshold(frame, predictor) -> None:
    doc = predicted(Document(frame), predictor)
    doc.editor.clear()
    assert doc.accept_ai() is None  # no label yet: the model's verdict fills it
    assert np.array_equal(doc.mask, doc.prediction.mask) and doc.label in ("benign", "malignant")
    assert not doc.score.pending
    doc.apply_threshold(0.0)
    assert doc.mask.all()
    doc.apply_threshold(1.01)
    assert not doc.mask.any() and doc.editor.undo_names[-2:] == ["threshold", "threshold"]
    with pytest.raises(DocumentError):
        Document(frame).accept_ai()


@pytest.mark.parametrize("p_malignant", [0.2, 0.8])
def test_accept_ai_never_overwrites_the_clinicians_label(frame, predictor, p_malignant) -> None:
    doc = predicted(Document(frame), predictor)
    doc.prediction = replace(doc.prediction, p_malignant=p_malignant)
    doc.label = "malignant"
    doc.editor.clear()
    note = doc.accept_ai()
    assert doc.label == "malignant"  # kept, whatever the model says
    assert np.array_equal(doc.mask, doc.prediction.mask) and doc.editor.undo_names[-1] == "accept AI result"
    if p_malignant < 0.5:
        assert note == "Kept your label malignant; the model says benign"
    else:
        assert note is None  # they agree: nothing to point out


def test_threshold_preview_changes_nothing_until_applied(frame, predictor) -> None:
    doc = predicted(Document(frame), predictor)
    model_mask, version, steps = doc.mask.copy(), doc.editor.version, list(doc.editor.undo_names)
    assert doc.model_threshold == 0.5
    preview = doc.threshold_preview(0.0)
    assert preview.all() and np.array_equal(doc.mask, model_mask)
    assert doc.editor.version == version and doc.editor.undo_names == steps and not doc.dirty
    assert not doc.threshold_replaces_edits()  # the model's own mask: nothing of the clinician's to lose
    assert doc.apply_threshold(0.0) and doc.mask.all()
    assert doc.editor.undo_names == [*steps, "threshold"]  # one undo step
    assert not doc.threshold_replaces_edits()  # the last applied threshold's result is no hand edit either
    doc.editor.undo()
    assert np.array_equal(doc.mask, model_mask)
    with pytest.raises(DocumentError):
        Document(frame).threshold_preview(0.5)


def test_hand_edits_are_reported_before_a_threshold_replaces_them(frame, predictor) -> None:
    doc = predicted(Document(frame), predictor)
    ramp = np.broadcast_to(np.linspace(0, 1, frame.shape[1], dtype=np.float32), frame.shape)
    doc.prediction = replace(doc.prediction, prob=ramp)  # left columns far below any threshold
    doc.apply_threshold(0.3)
    doc.editor.begin_stroke(10, 10, 4)  # a brush fix where the threshold left nothing
    doc.editor.end_stroke()
    assert doc.threshold_replaces_edits()
    doc.editor.undo()
    assert not doc.threshold_replaces_edits()
    doc.set_prediction(doc.prediction)  # a new model output: the applied threshold is forgotten
    assert doc.threshold_replaces_edits()  # the mask is the 0.3 result, not the model's own
    fresh = predicted(Document(frame), predictor)
    assert fresh.model_threshold == 0.5 and not fresh.threshold_replaces_edits()


def test_without_a_model_measurements_still_follow_edits(frame) -> None:
    doc = Document(frame)
    assert doc.score.p_malignant is None and doc.score.measurements is None and not doc.score.pending
    doc.editor.lasso([(10, 10), (60, 10), (60, 40), (10, 40)])
    score = doc.rescore(None)
    assert score.p_malignant is None and score.measurements.area_px == 51 * 31


def write_frames(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(count):
        image = np.full((40, 50), 20 * i + 10, np.uint8)
        image[5 + i, 5] = 255  # distinct content: distinct source ids
        paths.append(folder / f"img{i + 1}.png")
        cv2.imwrite(str(paths[-1]), image)
    return paths


def test_session_steps_through_a_folder_and_a_cine(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    session = Session()
    paths = write_frames(tmp_path / "frames", 3)
    session.open(tmp_path / "frames")
    assert session.files == paths and session.path == paths[0]
    assert session.step(1) is not None and session.path == paths[1]
    session.step(1)
    assert session.step(1) is None and session.path == paths[2]  # the end
    session.step(-1)
    assert session.path == paths[1] and session.document.origin.path == paths[1]
    session.open(get_testdata_file("OBXXXX1A_2frame.dcm"))
    assert session.files == [] and session.frame_count == 2
    assert session.step(1).index == 1 and session.step(1) is None
    with pytest.raises(ReadError):
        session.open(tmp_path / "missing.png")
    assert session.frame.index == 1  # a failed open keeps the current frame


def test_session_store_navigation_and_next_most_useful(tmp_path: Path, predictor) -> None:
    paths = write_frames(tmp_path / "frames", 3)
    session = Session()
    session.open_store(tmp_path / "dataset")
    ids = []
    for path in paths:
        session.open(path)
        ids.append(session.document.ensure_in_store(session.store))
    store = session.store
    store.add_prediction(ids[0], "v1", 0.5, 0.2, np.zeros((40, 50), bool))
    store.add_prediction(ids[2], "v1", 0.5, 0.9, np.zeros((40, 50), bool))
    session.open(paths[1])
    frame = session.next_most_useful()
    assert frame is not None and session.document.frame_id == ids[2] and session.path is None
    assert session.next_most_useful() is not None and session.document.frame_id == ids[0]  # skips current
    session.step(-1)
    assert session.document.frame_id == ids[0]  # first frame: stays
    session.step(1)
    assert session.document.frame_id == ids[1]
    session.document.label = "normal"
    session.document.editor.clear()
    session.document.save(store)
    assert session.document.frame_id not in [s.frame_id for s in store.next_most_useful()]
    session.shutdown()
