"""The store's core: creation and schema, frames stored bit-exactly, annotation revisions, predictions kept
apart, validation with the project's own errors, audit, integrity checks and the orphan sweep."""

from __future__ import annotations

import getpass
import os
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from store_helpers import blob_mask, synthetic_frame

from c5desk.errors import C5Error
from c5desk.io.frame import Region
from c5desk.store import DATABASE, Store, StoreError, schema
from c5desk.store.schema import SCHEMA_VERSION


@pytest.fixture
def store(tmp_path):
    with Store.create(tmp_path / "store") as opened:
        yield opened


def test_create_open_and_schema(tmp_path):
    folder = tmp_path / "s"
    with Store.create(folder) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.salt_matches()
    conn = sqlite3.connect(folder / DATABASE)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with Store.open(folder) as again:
        assert again.check() == []
    with pytest.raises(StoreError, match="not a c5desk store"):
        Store.open(tmp_path / "nothing")
    with pytest.raises(StoreError, match="not an empty folder"):
        Store.create(folder)


def test_newer_schema_is_refused_and_garbage_is_not_a_database(tmp_path):
    folder = tmp_path / "s"
    Store.create(folder).close()
    conn = sqlite3.connect(folder / DATABASE)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this c5desk"):
        Store.open(folder)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / DATABASE).write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(C5Error):
        Store.open(broken)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"rgb": True}, {"dtype": np.uint16}, {"rgb": True, "dtype": np.uint16}],
    ids=["grey8", "rgb8", "grey16", "rgb16"],
)
def test_frames_round_trip_bit_exactly(store, kwargs):
    region = Region(2, 3, 40, 30, 0.2, 0.25, "sector")
    frame = synthetic_frame(1, mm_per_px=(0.2, 0.25), region=region, **kwargs)
    frame_id = store.add_frame(frame, keep_identity=True)
    back = store.frame(frame_id)
    assert back.pixels.dtype == frame.pixels.dtype and np.array_equal(back.pixels, frame.pixels)
    assert np.array_equal(back.grey, frame.grey)
    assert back.mm_per_px == (0.2, 0.25) and back.region == region and back.source_id == frame.source_id
    assert not back.pixels.flags.writeable
    assert store.add_frame(frame, keep_identity=True) == frame_id  # idempotent on the source id
    assert len(store.frames()) == 1


def test_annotation_revisions_history_and_measurements(store):
    frame_id = store.add_frame(synthetic_frame(2, mm_per_px=(0.1, 0.1)))
    first, second = blob_mask(1), blob_mask(2)
    a1 = store.save_annotation(frame_id, first, "Benign", "birads 3", "first look")
    assert (a1.revision, a1.label, a1.category) == (1, "benign", "BI-RADS 3")
    assert a1.measurements["units"] == "mm" and a1.measurements["area"] > 0
    a2 = store.save_annotation(frame_id, second.astype(np.uint8) * 255, "malignant")
    assert a2.revision == 2
    assert store.save_annotation(frame_id, second, "malignant").revision == 2  # same content: no new revision
    assert np.array_equal(store.mask(frame_id), second)
    assert np.array_equal(store.mask(frame_id, revision=1), first)
    assert [a.revision for a in store.annotation_history(frame_id)] == [1, 2]
    assert [a.frame_id for a in store.annotations()] == [frame_id]
    empty_id = store.add_frame(synthetic_frame(3))
    normal = store.save_annotation(empty_id, np.zeros((48, 64), bool), "normal")
    assert normal.measurements is None
    assert store.annotations(labels=("normal",))[0].frame_id == empty_id


@pytest.mark.parametrize(
    ("mask", "label", "category", "message"),
    [
        (np.zeros((10, 10), bool), "benign", None, "is 10x10"),
        (np.zeros((48, 64), np.float32), "benign", None, "boolean or integer"),
        (np.full((48, 64), 7, np.uint8), "benign", None, "0/1 or 0/255"),
        (np.ones((48, 64), bool), "normal", None, "normal has no lesion"),
        (np.ones((48, 64), bool), "cancer", None, "unknown label 'cancer'"),
        (np.ones((48, 64), bool), "benign", "BI-RADS 9", "not a BI-RADS or TI-RADS"),
        (np.ones((48, 64), bool), "benign", "TR 5a", "only TI-RADS 4 has sub-levels"),
    ],
)
def test_bad_annotations_are_refused_with_a_reason(store, mask, label, category, message):
    frame_id = store.add_frame(synthetic_frame(4))
    with pytest.raises(StoreError, match=message):
        store.save_annotation(frame_id, mask, label, category)
    assert store.annotation(frame_id) is None
    with pytest.raises(StoreError, match="not in this store"):
        store.save_annotation(999, np.zeros((48, 64), bool), "benign")


def test_predictions_are_kept_apart_from_annotations(store):
    frame_id = store.add_frame(synthetic_frame(5))
    model_mask, final = blob_mask(10), blob_mask(11)
    prediction = store.add_prediction(frame_id, "c5net-1", 0.8, 0.4, model_mask)
    assert prediction.label == "malignant" and store.annotation(frame_id) is None
    saved = store.save_annotation(frame_id, final, "benign", model_version="c5net-1")
    assert np.array_equal(store.prediction_mask(store.prediction(frame_id)), model_mask)
    assert np.array_equal(store.mask(frame_id), final)
    inter = np.logical_and(model_mask, final).sum()
    expected = 1 - 2 * inter / (model_mask.sum() + final.sum())
    assert saved.seg_change == pytest.approx(expected) and saved.label_flip is True
    with pytest.raises(StoreError, match=r"lie in \[0, 1\]"):
        store.add_prediction(frame_id, "c5net-1", 1.5, 0.1, model_mask)


def test_model_versions_keep_their_lineage(store):
    store.register_model_version("base", metrics={"dice": 0.7})
    store.register_model_version("tuned", parent="base", metrics={"dice": 0.75})
    assert store.register_model_version("tuned", parent=None).parent == "base"  # idempotent, unchanged
    versions = {v.id: v for v in store.model_versions()}
    assert versions["tuned"].parent == "base" and versions["tuned"].metrics == {"dice": 0.75}
    with pytest.raises(StoreError, match="parent model version 'nope'"):
        store.register_model_version("orphan", parent="nope")


def test_a_version_1_store_hands_its_active_model_to_the_audit_log(tmp_path, monkeypatch):
    """Which model is active moved to the model catalogue; the flag an older store kept is recorded."""
    folder = tmp_path / "old"
    current = schema.MIGRATIONS
    monkeypatch.setattr(schema, "MIGRATIONS", current[:1])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 1)
    with Store.create(folder) as store:
        store.register_model_version("base")
    conn = sqlite3.connect(folder / DATABASE)
    conn.execute("UPDATE model_versions SET active = 1 WHERE id = 'base'")
    conn.commit()
    conn.close()
    monkeypatch.setattr(schema, "MIGRATIONS", current)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(current))
    with Store.open(folder) as store:
        assert store.schema_version() == SCHEMA_VERSION == len(current)
        [moved] = store.audit_log(action="active_model_moved_to_catalogue")
        assert moved.model_version == "base" and moved.before == {"active": "base"}
        assert [v.id for v in store.model_versions()] == ["base"]
        assert store.check() == []


def test_audit_records_user_time_action_summary_and_model(store):
    frame_id = store.add_frame(synthetic_frame(6))
    store.add_prediction(frame_id, "m1", 0.3, 0.2, blob_mask(1))
    store.save_annotation(frame_id, blob_mask(2), "benign", model_version="m1")
    store.save_annotation(frame_id, blob_mask(3), "malignant", note="changed my mind", model_version="m1")
    entries = store.audit_log(frame_id=frame_id, action="save_annotation")
    assert len(entries) == 2
    last = entries[-1]
    assert last.user == getpass.getuser() and last.model_version == "m1"
    assert last.before["label"] == "benign" and last.after["label"] == "malignant"
    assert last.before["revision"] == 1 and last.after["revision"] == 2 and last.after["note_chars"] == 15
    assert last.time_utc.endswith("+00:00")
    actions = [entry.action for entry in store.audit_log()]
    assert actions[0] == "create_store" and "add_prediction" in actions and "register_model" in actions


def test_check_finds_missing_and_corrupt_files(store):
    frame_id = store.add_frame(synthetic_frame(7))
    saved = store.save_annotation(frame_id, blob_mask(4), "benign")
    path = store.folder / saved.mask_file
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(StoreError, match="corrupt"):
        store.mask(frame_id)
    path.unlink()
    assert store.check() == [f"missing file {saved.mask_file}"]
    with pytest.raises(StoreError, match="missing"):
        store.mask(frame_id)


def test_sweep_removes_only_old_unreferenced_files(store):
    frame_id = store.add_frame(synthetic_frame(8))
    store.save_annotation(frame_id, blob_mask(5), "benign")
    old_orphan = store.folder / "objects" / "ab" / ("ab" + "0" * 62 + ".png")
    young_orphan = store.folder / "objects" / "cd" / ("cd" + "1" * 62 + ".png")
    for orphan in (old_orphan, young_orphan):
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(b"left by a crash before commit")
    long_ago = time.time() - 3 * 24 * 3600
    os.utime(old_orphan, (long_ago, long_ago))
    referenced = store.referenced_files()
    for name in referenced:
        os.utime(store.folder / name, (long_ago, long_ago))  # old but referenced: must stay
    assert store.sweep_orphans() == 1
    assert not old_orphan.exists() and young_orphan.exists()
    assert store.check() == []


def test_an_older_store_is_migrated_on_open(tmp_path, monkeypatch):
    folder = tmp_path / "s"
    with Store.create(folder) as store:
        frame_id = store.add_frame(synthetic_frame(9))
        store.save_annotation(frame_id, blob_mask(9), "benign")
    added = "ALTER TABLE annotations ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0"
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, added])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store.open(folder) as store:
        assert store.schema_version() == SCHEMA_VERSION + 1
        assert np.array_equal(store.mask(frame_id), blob_mask(9))
        [entry] = store.audit_log(action="migrate_store")
        assert entry.before == {"schema_version": SCHEMA_VERSION}
    conn = sqlite3.connect(folder / DATABASE)
    assert conn.execute("SELECT reviewed FROM annotations").fetchall() == [(0,)]
    conn.close()


_TRIGGER_MIGRATION = """
-- a review log kept by a trigger; this comment has a ';' and the literals below have ';' and '--'
CREATE TABLE review_log (frame_id INTEGER NOT NULL, note TEXT NOT NULL);
CREATE TRIGGER annotations_reviewed AFTER INSERT ON annotations
BEGIN
    INSERT INTO review_log (frame_id, note) VALUES (NEW.frame_id, 'saved; -- not a comment');
    INSERT INTO review_log (frame_id, note) VALUES (NEW.frame_id, 'second;statement');
END;
INSERT INTO store_info (key, value) VALUES ('review_note', 'a;b -- c'); -- trailing comment
"""


def test_migration_statements_are_split_where_sqlite_ends_them(tmp_path, monkeypatch):
    """A trigger body and literals holding ';' or '--' stay whole (the split is SQLite's, not by hand)."""
    statements = schema._statements(_TRIGGER_MIGRATION)
    [trigger] = [s for s in statements if "CREATE TRIGGER" in s]
    assert trigger.endswith("END;") and "'second;statement');" in trigger
    assert "INSERT INTO store_info (key, value) VALUES ('review_note', 'a;b -- c');" in statements
    folder = tmp_path / "s"
    with Store.create(folder) as store:
        frame_id = store.add_frame(synthetic_frame(10))
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _TRIGGER_MIGRATION])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store.open(folder) as store:
        assert store.schema_version() == SCHEMA_VERSION + 1
        assert store.info()["review_note"] == "a;b -- c"
        store.save_annotation(frame_id, blob_mask(10), "benign")
        assert store.check() == []
    conn = sqlite3.connect(folder / DATABASE)
    notes = conn.execute("SELECT frame_id, note FROM review_log ORDER BY rowid").fetchall()
    conn.close()
    assert notes == [(frame_id, "saved; -- not a comment"), (frame_id, "second;statement")]


def test_store_imports_without_torch_or_qt():
    """The training process and the GUI both use the store; neither may drag the other's stack in."""
    modules = (
        "c5desk.store", "c5desk.store.importer", "c5desk.store.exports", "c5desk.store.export_dicom",
        "c5desk.store.export_report", "c5desk.commands.import_data", "c5desk.commands.export",
    )  # fmt: skip
    code = f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n" + (
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'pyqtgraph')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_version_2_store_gains_descriptors_and_keeps_its_annotations(tmp_path):
    frame = synthetic_frame(7)
    folder = tmp_path / "v2"
    mask = np.zeros(frame.grey.shape, bool)
    mask[10:30, 20:50] = True
    with Store.create(folder) as store:
        frame_id = store.add_frame(frame)
        store.add_prediction(frame_id, "c5net-1", 0.7, 0.2, mask)
        store.save_annotation(frame_id, mask, "malignant", "BI-RADS 5")
    conn = sqlite3.connect(folder / DATABASE)  # back to exactly what a version 2 store holds
    conn.execute("ALTER TABLE annotations DROP COLUMN descriptors")
    conn.execute("ALTER TABLE predictions DROP COLUMN descriptors")
    conn.execute("ALTER TABLE annotations DROP COLUMN provenance")
    conn.execute("DROP TABLE calibrations")
    conn.execute("DROP TABLE view_links")
    conn.execute("DROP TABLE lesions")
    conn.execute("UPDATE schema_version SET version = 2")
    conn.commit()
    conn.close()
    with Store.open(folder) as store:
        assert store.schema_version() == SCHEMA_VERSION
        old = store.annotation(frame_id)
        assert (old.label, old.category, old.descriptors) == ("malignant", "BI-RADS 5", {})
        assert store.prediction(frame_id).descriptors == {}
        shape = {"shape": {"value": "irregular", "source": "clinician"}}
        new = store.save_annotation(frame_id, mask, "malignant", "BI-RADS 5", descriptors=shape)
        assert new.revision == 2 and new.descriptors == shape
        assert store.check() == []


def test_descriptors_are_checked_against_the_lexicon_and_kept_with_their_source(store):
    frame = synthetic_frame(7)
    mask = np.zeros(frame.grey.shape, bool)
    mask[10:30, 20:50] = True
    frame_id = store.add_frame(frame)
    suggested = store.add_prediction(frame_id, "c5net-1", 0.3, 0.1, mask, descriptors={"shape": "oval"})
    assert store.prediction(frame_id).descriptors == suggested.descriptors == {"shape": "oval"}
    with pytest.raises(StoreError, match="not a BI-RADS term"):
        store.add_prediction(frame_id, "c5net-1", 0.3, 0.1, mask, descriptors={"shape": "star"})
    with pytest.raises(StoreError, match="unknown BI-RADS descriptor"):
        store.save_annotation(frame_id, mask, "benign", descriptors={"colour": "red"})
    with pytest.raises(StoreError, match="provenance"):
        store.save_annotation(
            frame_id, mask, "benign", descriptors={"shape": {"value": "oval", "source": "ai"}}
        )
    first = store.save_annotation(frame_id, mask, "benign", descriptors={"shape": "oval"})
    assert first.descriptors == {"shape": {"value": "oval", "source": "model"}}
    confirmed = {"shape": {"value": "oval", "source": "clinician"}}
    second = store.save_annotation(frame_id, mask, "benign", descriptors=confirmed)
    assert second.revision == 2 and second.descriptors == confirmed  # confirming is a change worth keeping
    assert store.save_annotation(frame_id, mask, "benign", descriptors=confirmed).revision == 2
    normal = store.save_annotation(frame_id, np.zeros_like(mask), "normal", descriptors=confirmed)
    assert normal.descriptors == {}  # no lesion, nothing to describe
