"""The case browser's rows: status per frame, grouping and side from the source, folder files, filters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from store_helpers import blob_mask, synthetic_frame

from c5desk.store import Store, browse
from c5desk.store.browse import AI_ONLY, CHECKING, CORRECTED, DISAGREEMENT, RECEIVED, UNANNOTATED

LEFT = np.zeros((48, 64), bool)
LEFT[10:30, 5:30] = True
RIGHT = np.roll(LEFT, 32, axis=1)  # no overlap with LEFT: seg_change 1
STAMP = {"via": "dicom", "calling_ae": "SCANNER", "time_utc": "2024-05-01T09:30:00+00:00"}


def _frame(seed: int, **meta):
    frame = synthetic_frame(seed)
    return replace(frame, meta={**frame.meta, **meta})


@pytest.fixture
def store(tmp_path):
    with Store.create(tmp_path / "store") as opened:
        yield opened


def _by_id(store: Store) -> dict[int, browse.BrowseRow]:
    return {row.frame_id: row for row in browse.browse_rows(store)}


def test_each_status_from_annotations_and_predictions(store):
    ids = {name: store.add_frame(_frame(i), case_key=f"c{i}") for i, name in enumerate(
        ("bare", "ai", "kept", "flipped", "redrawn", "no_model"))}  # fmt: skip
    for name in ("ai", "kept", "flipped", "redrawn"):
        store.add_prediction(ids[name], "m1", 0.8, 0.2, LEFT, "malignant")
    store.save_annotation(ids["kept"], LEFT, "malignant", "BI-RADS 4a", model_version="m1")
    store.save_annotation(ids["flipped"], LEFT, "benign", model_version="m1")
    store.save_annotation(ids["redrawn"], RIGHT, "malignant", model_version="m1")
    store.save_annotation(ids["no_model"], blob_mask(5), "benign")
    rows = _by_id(store)
    assert {name: rows[i].status for name, i in ids.items()} == {
        "bare": UNANNOTATED, "ai": AI_ONLY, "kept": CORRECTED, "flipped": DISAGREEMENT,
        "redrawn": DISAGREEMENT, "no_model": CORRECTED,
    }  # fmt: skip
    kept, flipped, redrawn = rows[ids["kept"]], rows[ids["flipped"]], rows[ids["redrawn"]]
    assert (kept.p_malignant, kept.model_label, kept.label, kept.category) == (0.8, "malignant", "malignant",
                                                                               "BI-RADS 4a")  # fmt: skip
    assert kept.seg_change == 0.0 and kept.label_flip is False
    assert flipped.label_flip is True and redrawn.seg_change >= browse.DISAGREEMENT_SEG_CHANGE
    assert rows[ids["bare"]].p_malignant is None and rows[ids["bare"]].label is None


def test_the_latest_revision_and_newest_prediction_count(store):
    frame_id = store.add_frame(_frame(1))
    store.add_prediction(frame_id, "m1", 0.9, 0.1, blob_mask(1), "malignant")
    store.save_annotation(frame_id, blob_mask(1), "benign", model_version="m1")
    assert _by_id(store)[frame_id].status == DISAGREEMENT
    store.save_annotation(frame_id, blob_mask(1), "malignant", model_version="m1")
    store.add_prediction(frame_id, "m2", 0.7, 0.1, blob_mask(1), "malignant")
    row = _by_id(store)[frame_id]
    assert (row.status, row.label, row.p_malignant) == (CORRECTED, "malignant", 0.7)


def test_a_newer_models_label_is_compared_when_no_flip_was_recorded():
    assert browse.status_of("benign", "malignant", None, None) == DISAGREEMENT
    assert browse.status_of("unsure", "malignant", None, None) == CORRECTED
    assert browse.status_of("benign", None, 0.49, False) == CORRECTED
    assert browse.status_of("benign", None, 0.5, False) == DISAGREEMENT


def test_received_frames_are_those_the_node_lists(store):
    from c5desk.node import received_frames
    from c5desk.node.receive import RECEIVED as NODE_KEY

    assert NODE_KEY == RECEIVED
    got = store.add_frame(_frame(1, received=STAMP))
    store.add_frame(_frame(2))
    store.add_frame(_frame(3, received="not a stamp"))  # received_frames ignores it, so does the browser
    flagged = [row.frame_id for row in browse.browse_rows(store) if row.received]
    assert flagged == [item.frame_id for item in received_frames(store)] == [got]
    assert _by_id(store)[got].status_text() == "unannotated · received"


def test_grouped_by_the_sources_group_then_case_with_sides_from_meta(store):
    right = store.add_frame(_frame(1, side="right"), case_key="p1", group="cohortB")
    left_frame = _frame(2, image_laterality="L", view_position="CC")
    left = store.add_frame(left_frame, case_key="p1", group="cohortB")
    other = store.add_frame(_frame(3, laterality="Bob Smith"), case_key="p2", group="cohortA")
    lone = store.add_frame(_frame(4, view="x" * 40), case_key="p3")
    rows = browse.browse_rows(store)
    assert [row.frame_id for row in rows] == [other, right, left, lone]  # groups, then the ungrouped
    found = {row.frame_id: row for row in rows}
    assert (found[right].side, found[left].side, found[left].view) == ("R", "L", "CC")
    assert found[other].side is None and found[lone].view is None  # only plain laterality / short tokens
    assert found[left].group_key == "cohortB" and found[lone].group_key == found[lone].case
    assert found[right].case == found[left].case != found[other].case


def test_open_folder_files_match_stored_frames_by_source_id(store, tmp_path: Path):
    folder = tmp_path / "folder"
    folder.mkdir()
    paths = [folder / f"img{i}.png" for i in range(3)]
    for i, path in enumerate(paths):
        cv2.imwrite(str(path), np.full((32, 40), 40 * (i + 1), np.uint8))
    from c5desk.io import open_source

    with open_source(paths[0]) as source:
        stored = store.add_frame(source.frame(0))
    store.save_annotation(stored, np.zeros((32, 40), bool), "normal")
    ids = {path: browse.file_source_id(path) for path in paths[:2]}
    assert browse.file_source_id(folder / "missing.png") is None
    rows = browse.folder_rows(paths, ids, browse.browse_rows(store))
    assert [(row.frame_id, row.status, row.path) for row in rows] == [
        (stored, CORRECTED, paths[0]), (None, UNANNOTATED, paths[1]), (None, CHECKING, paths[2])]  # fmt: skip
    assert rows[1].status_text() == "unannotated (not in dataset)" and rows[1].case == "img1.png"


def test_filters_and_counts():
    rows = [
        browse.BrowseRow(1, "case-0001", 0, "g1", "a", UNANNOTATED, received=True),
        browse.BrowseRow(2, "case-0002", 0, None, "b", AI_ONLY),
        browse.BrowseRow(3, "case-0002", 1, None, "c", DISAGREEMENT, received=True),
    ]
    assert [r.frame_id for r in rows if browse.matches(r, RECEIVED)] == [1, 3]
    assert [r.frame_id for r in rows if browse.matches(r, AI_ONLY)] == [2]
    assert [r.frame_id for r in rows if browse.matches(r, None, "0002")] == [2, 3]
    assert [r.frame_id for r in rows if browse.matches(r, None, "G1")] == [1]
    counts = {UNANNOTATED: 1, AI_ONLY: 1, CORRECTED: 0, DISAGREEMENT: 1, RECEIVED: 2}
    assert browse.status_counts(rows) == counts


def test_an_empty_store_has_no_rows(store):
    assert browse.browse_rows(store) == []
