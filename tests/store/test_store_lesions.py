"""Several lesions per frame in the store: saved per revision with their own masks and fields, the annotation
row summarising them (union mask, main lesion's fields), autosaved and recovered, kept by the orphan sweep,
and single-lesion stores of schema version 5 migrated."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from store_helpers import synthetic_frame

from c5desk.store import DATABASE, LesionDraft, Store, StoreError
from c5desk.store.schema import SCHEMA_VERSION


def _box(y0: int, y1: int, x0: int, x1: int, shape: tuple[int, int] = (48, 64)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


@pytest.fixture
def store(tmp_path):
    with Store.create(tmp_path / "store") as opened:
        yield opened


def _two_lesions() -> list[LesionDraft]:
    terms = {"shape": {"value": "irregular", "source": "clinician"}}
    return [
        LesionDraft(
            _box(5, 20, 5, 25), "malignant", "BI-RADS 5", "spiculated", terms, {"method": "hand-drawn"}
        ),
        LesionDraft(_box(30, 40, 40, 60), "benign", "3", "small cyst"),
    ]


def test_two_lesions_keep_their_own_masks_fields_and_measurements(store):
    frame_id = store.add_frame(synthetic_frame(1, mm_per_px=(0.1, 0.1)))
    saved = store.save_lesions(frame_id, _two_lesions())
    main, second = store.lesions(saved)
    assert (main.position, main.label, main.category, main.note) == (
        1,
        "malignant",
        "BI-RADS 5",
        "spiculated",
    )
    assert (second.position, second.label, second.category, second.note) == (2, "benign", "3", "small cyst")
    assert np.array_equal(store.lesion_mask(main), _box(5, 20, 5, 25))
    assert np.array_equal(store.lesion_mask(second), _box(30, 40, 40, 60))
    assert main.measurements["area"] == pytest.approx(15 * 20 * 0.01)
    assert second.measurements["area"] == pytest.approx(10 * 20 * 0.01)
    assert main.descriptors["shape"] == {"value": "irregular", "source": "clinician"}
    # the annotation row is the frame's summary: both lesions' union, the main lesion's fields
    assert np.array_equal(store.mask(frame_id), _box(5, 20, 5, 25) | _box(30, 40, 40, 60))
    assert (saved.label, saved.category, saved.note) == ("malignant", "BI-RADS 5", "spiculated")
    assert saved.measurements["area"] == main.measurements["area"]
    assert store.audit_log(frame_id=frame_id)[-1].after["lesions"] == 2
    assert store.check() == []


def test_saving_the_same_lesions_adds_no_revision_and_a_change_to_one_does(store):
    frame_id = store.add_frame(synthetic_frame(2))
    first = store.save_lesions(frame_id, _two_lesions())
    assert store.save_lesions(frame_id, _two_lesions()).revision == first.revision
    changed = _two_lesions()
    changed[1] = LesionDraft(_box(30, 40, 40, 60), "malignant", "3", "small cyst")
    assert store.save_lesions(frame_id, changed).revision == first.revision + 1
    assert [lesion.label for lesion in store.lesions(store.annotation(frame_id))] == [
        "malignant",
        "malignant",
    ]
    # the earlier revision keeps its lesions
    assert [lesion.label for lesion in store.lesions(first)] == ["malignant", "benign"]


def test_one_lesion_saves_one_row_and_a_label_alone_none(store):
    frame_id = store.add_frame(synthetic_frame(3))
    outlined = store.save_annotation(frame_id, _box(5, 20, 5, 25), "benign", "BI-RADS 3")
    [only] = store.lesions(outlined)
    assert (only.position, only.label, only.category) == (1, "benign", "BI-RADS 3")
    assert store.lesions(store.save_annotation(frame_id, np.zeros((48, 64), bool), "normal")) == ()


@pytest.mark.parametrize(
    ("drafts", "message"),
    [
        ([], "needs at least one lesion"),
        ([LesionDraft(_box(5, 9, 5, 9), "benign"), LesionDraft(np.zeros((48, 64), bool), "benign")],
         "lesion 2 has no outline"),
        ([LesionDraft(_box(5, 9, 5, 9), "normal")], "lesion 1 cannot be labelled normal"),
        ([LesionDraft(_box(5, 9, 5, 9, (10, 10)), "benign")], "lesion 1's mask is 10x10"),
        ([LesionDraft(_box(5, 9, 5, 9), "benign")] * 51, "at most 50"),
    ],
)  # fmt: skip
def test_bad_lesions_are_refused_with_a_reason_and_nothing_saved(store, drafts, message):
    frame_id = store.add_frame(synthetic_frame(4))
    with pytest.raises(StoreError, match=message):
        store.save_lesions(frame_id, drafts)
    assert store.annotation(frame_id) is None


def test_autosave_keeps_every_lesion_and_recovery_saves_them(tmp_path):
    folder = tmp_path / "s"
    main, second = _two_lesions()
    with Store.create(folder) as store:
        frame_id = store.add_frame(synthetic_frame(5))
        store.journal_write(
            frame_id, main.mask, main.label, main.category, main.note, main.descriptors, main.provenance,
            more_lesions=[second],
        )  # fmt: skip
    with Store.open(folder) as store:  # as after a crash
        entry = store.journal_entry(frame_id)
        [again] = entry.more_lesions
        assert (again.label, again.note) == ("benign", "small cyst")
        assert np.array_equal(again.mask, second.mask) and np.array_equal(entry.mask, main.mask)
        saved = store.journal_recover(frame_id)
        assert [lesion.label for lesion in store.lesions(saved)] == ["malignant", "benign"]
        assert store.journal_entry(frame_id) is None


def test_an_autosave_equal_to_the_saved_lesions_is_dropped_as_stale(store):
    frame_id = store.add_frame(synthetic_frame(6))
    store.save_lesions(frame_id, _two_lesions())
    main, second = _two_lesions()
    store.journal_write(
        frame_id, main.mask, main.label, main.category, main.note, main.descriptors, main.provenance,
        more_lesions=[second],
    )  # fmt: skip
    assert store.journal_entry(frame_id) is None  # a crash between saving and clearing the autosave


def test_an_autosave_of_an_unoutlined_second_lesion_is_refused(store):
    frame_id = store.add_frame(synthetic_frame(7))
    empty = LesionDraft(np.zeros((48, 64), bool), "benign")
    with pytest.raises(StoreError, match="lesion 2 has no outline"):
        store.journal_write(frame_id, _box(5, 9, 5, 9), "benign", more_lesions=[empty])


def test_the_orphan_sweep_keeps_lesion_masks(tmp_path):
    folder = tmp_path / "s"
    with Store.create(folder) as store:
        frame_id = store.add_frame(synthetic_frame(8))
        saved = store.save_lesions(frame_id, _two_lesions())
        store.sweep_orphans(min_age_s=0)
        assert store.check() == []
        assert all(store.lesion_mask(lesion).any() for lesion in store.lesions(saved))


def test_a_version_5_store_migrates_each_outlined_annotation_to_one_lesion(tmp_path):
    folder = tmp_path / "v5"
    with Store.create(folder) as store:
        outlined = store.add_frame(synthetic_frame(9))
        labelled_only = store.add_frame(synthetic_frame(10))
        store.save_annotation(outlined, _box(5, 20, 5, 25), "malignant", "BI-RADS 5", "firm")
        store.save_annotation(labelled_only, np.zeros((48, 64), bool), "benign")
    conn = sqlite3.connect(folder / DATABASE)  # back to exactly what a version 5 store holds
    conn.execute("DROP TABLE lesions")
    conn.execute("UPDATE schema_version SET version = 5")
    conn.commit()
    conn.close()
    with Store.open(folder) as store:
        assert store.schema_version() == SCHEMA_VERSION
        [lesion] = store.lesions(store.annotation(outlined))
        assert (lesion.position, lesion.label, lesion.category, lesion.note) == (
            1,
            "malignant",
            "BI-RADS 5",
            "firm",
        )
        assert np.array_equal(store.lesion_mask(lesion), _box(5, 20, 5, 25))
        assert lesion.measurements == store.annotation(outlined).measurements
        assert store.lesions(store.annotation(labelled_only)) == ()
        assert store.check() == []
