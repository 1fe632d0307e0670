"""Active-learning order, hard examples and training examples read from the store."""

from __future__ import annotations

import numpy as np
import pytest
from store_helpers import blob_mask, synthetic_frame

from c5desk.store import Store, StoreError
from c5desk.store.active import correction, dice

SHAPE = (48, 64)


@pytest.fixture
def store(tmp_path):
    with Store.create(tmp_path / "store") as opened:
        yield opened


def _add(store, seed, case):
    return store.add_frame(synthetic_frame(seed), case_key=case)


def test_dice_and_correction():
    a, b = blob_mask(1), blob_mask(2)
    overlap = np.logical_and(a, b).sum()
    assert dice(a, b) == pytest.approx(2 * overlap / (a.sum() + b.sum()))
    assert dice(np.zeros(SHAPE, bool), np.zeros(SHAPE, bool)) == 1.0
    assert correction(a, "benign", a, "benign") == (0.0, False)
    assert correction(a, "benign", np.zeros(SHAPE, bool), "malignant") == (1.0, True)
    assert correction(a, "benign", a, "unsure")[1] is None


def test_unannotated_frames_ranked_by_uncertainty_then_unscored(store):
    frames = {u: _add(store, i, f"case{i}") for i, u in enumerate((0.2, 0.9, 0.5))}
    for uncertainty, frame_id in frames.items():
        store.add_prediction(frame_id, "m1", 0.5, uncertainty, blob_mask(frame_id))
    unscored = _add(store, 10, "case10")
    annotated = _add(store, 11, "case11")
    store.add_prediction(annotated, "m1", 0.5, 1.0, blob_mask(3))
    store.save_annotation(annotated, blob_mask(3), "benign")
    order = store.next_most_useful(limit=10)
    assert [s.frame_id for s in order] == [frames[0.9], frames[0.5], frames[0.2], unscored]
    assert order[0].uncertainty == pytest.approx(0.9) and order[-1].uncertainty is None
    assert "not scored" in order[-1].reasons[0]
    assert len(store.next_most_useful(limit=2)) == 2


def test_the_model_in_use_counts_over_older_ones(store):
    first, second = _add(store, 1, "a"), _add(store, 2, "b")
    store.add_prediction(first, "old", 0.5, 0.95, blob_mask(1))
    store.add_prediction(first, "new", 0.5, 0.10, blob_mask(1))
    store.add_prediction(second, "new", 0.5, 0.50, blob_mask(2))
    store.add_prediction(first, "old", 0.5, 0.96, blob_mask(1))  # newest row, but not the model in use
    assert [s.frame_id for s in store.next_most_useful(model_version="new")] == [second, first]
    assert [s.frame_id for s in store.next_most_useful()] == [first, second]  # newest predictions


def test_clinician_corrections_raise_the_rest_of_their_case(store):
    overruled = [_add(store, i, "study-A") for i in range(3)]
    accepted = [_add(store, 10 + i, "study-B") for i in range(3)]
    for frame_id in overruled + accepted:
        store.add_prediction(frame_id, "m1", 0.9, 0.3, blob_mask(frame_id))
    store.save_annotation(overruled[0], np.zeros(SHAPE, bool), "benign", model_version="m1")  # outline + flip
    store.save_annotation(accepted[0], blob_mask(accepted[0]), "malignant", model_version="m1")  # accepted
    order = store.next_most_useful()
    assert [s.frame_id for s in order[:2]] == overruled[1:]
    assert order[0].case_disagreement == pytest.approx(1.0) and order[0].score == pytest.approx(1.3)
    assert {s.frame_id for s in order[2:]} == set(accepted[1:])
    assert store.hard_examples() == [(overruled[0], 1.0), (accepted[0], 0.0)]


def test_training_examples_filter_by_label_and_split(store):
    train = store.add_frame(synthetic_frame(1), split="train", group="site-1")
    test = store.add_frame(synthetic_frame(2), split="test")
    normal = store.add_frame(synthetic_frame(3), split="train")
    unsure = store.add_frame(synthetic_frame(4), split="train")
    store.save_annotation(train, blob_mask(1), "malignant")
    store.save_annotation(train, blob_mask(5), "benign")  # the latest revision is what trains
    store.save_annotation(test, blob_mask(2), "malignant")
    store.save_annotation(normal, np.zeros(SHAPE, bool), "normal")
    store.save_annotation(unsure, blob_mask(4), "unsure")
    examples = list(store.training_examples(split="train"))
    assert [(e.frame_id, e.label, e.revision, e.group) for e in examples] == [(train, "benign", 2, "site-1")]
    assert np.array_equal(examples[0].mask, blob_mask(5))
    assert np.array_equal(examples[0].image, synthetic_frame(1).grey)
    assert {e.frame_id for e in store.training_examples()} == {train, test}
    with_normal = {e.frame_id for e in store.training_examples(labels=("benign", "malignant", "normal"))}
    assert with_normal == {train, test, normal}
    with pytest.raises(StoreError, match="unknown label"):
        list(store.training_examples(labels=("tumour",)))
