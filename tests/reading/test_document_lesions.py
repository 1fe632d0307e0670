"""Several lesions on one frame while reading: each with its own mask, undo, label, category, note and score;
added, removed, selected, split and reordered; saved, loaded, autosaved and recovered as a whole."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from c5desk.errors import DocumentError
from c5desk.io.frame import Frame
from c5desk.reading.document import Document, Origin
from c5desk.settings import RESOURCES

SAMPLE = RESOURCES / "samples" / "bus_sample.png"


def ellipse(frame: Frame, centre: tuple[int, int], axes: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(frame.shape, np.uint8)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1)
    return mask.astype(bool)


def two_lesions(frame: Frame) -> tuple[Document, np.ndarray, np.ndarray]:
    doc = Document(frame, Origin(path=SAMPLE))
    first, second = ellipse(frame, (80, 80), (30, 18)), ellipse(frame, (220, 150), (20, 12))
    doc.editor.apply(first, "outline")
    doc.label, doc.category, doc.note = "malignant", "BI-RADS 5", "irregular"
    assert doc.add_lesion() == 1 and doc.active_lesion == 1
    doc.editor.apply(second, "outline")
    doc.label, doc.note = "benign", "cyst"
    return doc, first, second


def test_each_lesion_keeps_its_own_mask_fields_and_undo(frame):
    doc, first, second = two_lesions(frame)
    assert np.array_equal(doc.mask, second) and doc.label == "benign"
    [(number, other)] = doc.other_lesion_masks()
    assert number == 1 and np.array_equal(other, first)
    doc.editor.undo()  # undoes lesion 2's outline only
    assert not doc.mask.any()
    doc.select_lesion(0)
    assert np.array_equal(doc.mask, first) and (doc.label, doc.category) == ("malignant", "BI-RADS 5")
    doc.editor.undo()
    assert not doc.mask.any() and not doc.editor.can_undo


def test_two_lesions_are_saved_and_come_back_as_they_were(frame, store):
    doc, first, second = two_lesions(frame)
    saved = doc.save(store)
    assert not doc.dirty
    main, other = store.lesions(saved)
    assert (main.label, main.category, main.note, other.label, other.note) == (
        "malignant", "BI-RADS 5", "irregular", "benign", "cyst",
    )  # fmt: skip
    assert np.array_equal(store.lesion_mask(other), second)
    again = Document.for_frame(frame, Origin(path=SAMPLE), store)
    assert again.lesion_count == 2 and not again.dirty
    assert np.array_equal(again.mask, first) and again.label == "malignant"
    again.select_lesion(1)
    assert np.array_equal(again.mask, second) and again.label == "benign"


def test_saving_names_the_lesion_that_lacks_a_label_or_an_outline(frame, store):
    doc, _first, _second = two_lesions(frame)
    doc.label = None
    with pytest.raises(DocumentError, match="choose a label for lesion 2"):
        doc.save(store)
    doc.label = "benign"
    doc.add_lesion()
    with pytest.raises(DocumentError, match="lesion 3 has no outline"):
        doc.save(store)
    assert store.annotation(store.frame_id_for(frame.source_id)) is None


def test_removing_a_lesion_is_unsaved_work_and_saves_one_lesion(frame, store):
    doc, first, _second = two_lesions(frame)
    doc.save(store)
    doc.remove_lesion()
    assert doc.lesion_count == 1 and doc.active_lesion == 0 and doc.dirty
    saved = doc.save(store)
    assert [lesion.label for lesion in store.lesions(saved)] == ["malignant"]
    assert np.array_equal(store.mask(saved.frame_id), first)
    with pytest.raises(DocumentError, match="only lesion cannot be removed"):
        doc.remove_lesion()


def test_autosaved_lesions_are_recovered_after_a_crash(frame, store):
    doc, first, second = two_lesions(frame)
    assert doc.autosave(store) and not doc.autosave(store)  # written once per change
    recovered = Document.for_frame(frame, Origin(path=SAMPLE), store)
    assert recovered.recovered_from and recovered.lesion_count == 2 and recovered.dirty
    assert np.array_equal(recovered.mask, first)
    recovered.select_lesion(1)
    assert np.array_equal(recovered.mask, second) and recovered.note == "cyst"


def test_a_mask_with_two_islands_splits_into_two_lesions_largest_first(frame):
    doc = Document(frame, Origin(path=SAMPLE))
    big, small = ellipse(frame, (80, 80), (30, 18)), ellipse(frame, (220, 150), (10, 8))
    doc.editor.apply(big | small, "outline")
    assert doc.split_lesions() == 1 and doc.lesion_count == 2 and doc.active_lesion == 0
    assert np.array_equal(doc.mask, big)
    doc.editor.undo()  # the split is one undo step of the main lesion
    assert np.array_equal(doc.mask, big | small)
    assert doc.split_lesions() == 1 and doc.lesion_count == 3


def test_a_score_computed_for_one_lesion_never_lands_on_another(frame):
    doc, _first, _second = two_lesions(frame)
    request = doc.rescore_request()  # lesion 2's
    doc.select_lesion(0)
    assert not doc.apply_rescore(request[0], None, None, None)
    doc.rescore(None)
    summaries = doc.lesion_summaries()
    assert [s.number for s in summaries] == [1, 2] and summaries[0].active and not summaries[1].active
    assert summaries[0].measurements is not None and summaries[0].label == "malignant"
    assert doc.active_lesion == 0  # reading the list does not change the active lesion


def test_another_lesion_can_become_the_main_one(frame, store):
    doc, _first, second = two_lesions(frame)
    doc.make_main(1)
    assert doc.active_lesion == 0 and np.array_equal(doc.mask, second)
    saved = doc.save(store)
    assert saved.label == "benign" and [lesion.label for lesion in store.lesions(saved)] == [
        "benign", "malignant",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    from c5desk.inference import make_predictor
    from c5desk.model.bundle import make_random_bundle

    bundle = make_random_bundle(tmp_path_factory.mktemp("bundles") / "tiny", arch="c5net_tiny", input_size=64)
    return make_predictor(bundle, device="cpu", backend="torch")


def test_accepting_the_ai_result_with_several_lesions_keeps_outlines_and_set_labels(frame, predictor):
    doc, first, second = two_lesions(frame)
    doc.set_prediction(predictor.predict(frame))
    doc.label = None  # lesion 2: not labelled yet, and its score is pending
    with pytest.raises(DocumentError, match="lesion 2 has no label and no score yet"):
        doc.accept_ai()
    p_second = doc.rescore(predictor).p_malignant
    doc.accept_ai()
    assert doc.label == ("malignant" if p_second >= 0.5 else "benign")
    assert np.array_equal(doc.mask, second)  # outlines stay the clinician's
    doc.select_lesion(0)
    assert doc.label == "malignant" and np.array_equal(doc.mask, first)


def test_splitting_the_models_outline_keeps_its_order_and_each_regions_score(frame, predictor):
    from dataclasses import replace

    from c5desk.inference.regions import predicted_lesions

    big, small = ellipse(frame, (80, 80), (30, 18)), ellipse(frame, (220, 150), (12, 9))
    prob = np.where(small, 0.99, 0.0) + np.where(big, 0.6, 0.0)  # the big faint one holds more mass
    scores = {True: 0.9, False: 0.1}  # the small region malignant, the big one benign
    lesions = predicted_lesions(prob, prob >= 0.5, None, lambda region: scores[bool(region[150, 220])])
    doc = Document(frame, Origin(path=SAMPLE))
    doc.set_prediction(replace(predictor.predict(frame), prob=prob, mask=prob >= 0.5, lesions=lesions))
    assert np.array_equal(doc.mask, big | small) and len(doc.model_lesions()) == 2
    assert doc.split_lesions() == 1
    assert np.array_equal(doc.mask, big) and doc.score.p_malignant == 0.1 and not doc.score.pending
    doc.select_lesion(1)
    assert np.array_equal(doc.mask, small) and doc.score.p_malignant == 0.9 and not doc.score.pending
    assert doc.model_lesions() == ()  # the outline is no longer the model's whole mask
