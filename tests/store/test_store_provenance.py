"""How an outline was made (annotations.provenance, schema v4): saved, part of what makes a new revision,
checked, carried through the autosave journal and its recovery."""

from __future__ import annotations

import numpy as np
import pytest
from store_helpers import synthetic_frame

from c5desk.store import Store
from c5desk.store.records import StoreError

PROMPTED = {"method": "prompted", "prompts": [{"tool": "box", "box": [10, 20, 50, 60]}]}


@pytest.fixture
def store(tmp_path):
    with Store.create(tmp_path / "dataset") as opened:
        yield opened


def lesion(frame) -> np.ndarray:
    mask = np.zeros(frame.grey.shape, bool)
    mask[10:30, 20:50] = True
    return mask


def test_provenance_is_saved_and_a_change_of_it_is_a_new_revision(store) -> None:
    frame = synthetic_frame(3)
    frame_id, mask = store.add_frame(frame), lesion(frame)
    first = store.save_annotation(frame_id, mask, "benign", provenance={"method": "automatic"})
    assert store.annotation(frame_id).provenance == first.provenance == {"method": "automatic"}
    second = store.save_annotation(frame_id, mask, "benign", provenance=PROMPTED)
    assert second.revision == 2 and store.annotation(frame_id).provenance == PROMPTED
    assert store.save_annotation(frame_id, mask, "benign", provenance=PROMPTED).revision == 2
    assert store.save_annotation(frame_id, mask, "benign").provenance == {}  # unknown is allowed
    assert store.check() == []


def test_provenance_is_checked(store) -> None:
    frame = synthetic_frame(4)
    frame_id, mask = store.add_frame(frame), lesion(frame)
    with pytest.raises(StoreError, match="provenance method must be one of"):
        store.save_annotation(frame_id, mask, "benign", provenance={"method": "guessed"})
    with pytest.raises(StoreError, match="prompts must be a list"):
        store.save_annotation(frame_id, mask, "benign", provenance={"method": "prompted", "prompts": "box"})
    with pytest.raises(StoreError, match="must be a mapping"):
        store.save_annotation(frame_id, mask, "benign", provenance=["prompted"])


def test_the_autosave_carries_provenance_into_recovery(store) -> None:
    frame = synthetic_frame(5)
    frame_id, mask = store.add_frame(frame), lesion(frame)
    store.save_annotation(frame_id, mask, "benign", provenance={"method": "automatic"})
    store.journal_write(frame_id, mask, "benign", provenance=PROMPTED)
    assert store.journal_entry(frame_id).provenance == PROMPTED  # differs from the saved one: kept
    recovered = store.journal_recover(frame_id)
    assert recovered.revision == 2 and recovered.provenance == PROMPTED
    assert store.journal_entry(frame_id) is None
