"""Autosave journal: unsaved edits survive a restart, are offered for recovery, and a save clears them;
one frame's entry can be read alone, with the same rules, without decoding any other."""

from __future__ import annotations

import numpy as np
import pytest
from store_helpers import blob_mask, synthetic_frame

from c5desk.store import JournalEntry, Store, StoreError
from c5desk.store.journal import Journal


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "store"
    Store.create(path).close()
    return path


def test_autosave_survives_reopen_and_recovers_as_a_revision(folder):
    with Store.open(folder) as store:
        frame_id = store.add_frame(synthetic_frame(1))
        store.save_annotation(frame_id, blob_mask(1), "benign")
        store.journal_write(frame_id, blob_mask(2), "malignant", "BI-RADS 5", "edited, not saved")
        store.journal_write(frame_id, blob_mask(3), "malignant", "BI-RADS 5", "edited more")  # replaces
    with Store.open(folder) as store:  # the app restarted after a crash
        [entry] = store.journal_entries()
        assert (entry.frame_id, entry.label, entry.category, entry.note) == (
            frame_id, "malignant", "BI-RADS 5", "edited more"
        )  # fmt: skip
        assert entry.base_revision == 1 and np.array_equal(entry.mask, blob_mask(3))
        recovered = store.journal_recover(frame_id)
        assert recovered.revision == 2 and np.array_equal(store.mask(frame_id), blob_mask(3))
        assert store.journal_entries() == []
        assert store.audit_log(action="journal_recover")[0].frame_id == frame_id


def test_discard_and_save_clear_the_entry(folder):
    with Store.open(folder) as store:
        first = store.add_frame(synthetic_frame(2))
        second = store.add_frame(synthetic_frame(3))
        store.journal_write(first, blob_mask(4), "benign")
        store.journal_write(second, blob_mask(5), "unsure")
        assert {e.frame_id for e in store.journal_entries()} == {first, second}
        assert store.journal_discard(first) and not store.journal_discard(first)
        store.save_annotation(second, blob_mask(6), "benign")
        assert store.journal_entries() == []
        assert store.annotation(first) is None
        assert [e.action for e in store.audit_log(frame_id=first)] == ["add_frame", "journal_discard"]
        with pytest.raises(StoreError, match="no autosaved edits"):
            store.journal_recover(first)


def test_entry_equal_to_the_saved_annotation_is_dropped_as_stale(folder):
    with Store.open(folder) as store:
        frame_id = store.add_frame(synthetic_frame(4))
        store.journal_write(frame_id, blob_mask(7), "benign", note="same")
        entry_file = store.folder / "journal" / f"frame-{frame_id}.npz"
        kept = entry_file.read_bytes()
        store.save_annotation(frame_id, blob_mask(7), "benign", note="same")
        entry_file.write_bytes(kept)  # as if the app died between committing and clearing the autosave
        assert store.journal_entries() == []
        assert not entry_file.exists()


def test_unreadable_entry_is_set_aside_not_fatal(folder):
    with Store.open(folder) as store:
        good = store.add_frame(synthetic_frame(5))
        bad = store.add_frame(synthetic_frame(6))
        store.journal_write(good, blob_mask(8), "benign")
        (store.folder / "journal" / f"frame-{bad}.npz").write_bytes(b"PK\x03\x04 truncated")
        assert [e.frame_id for e in store.journal_entries()] == [good]
        assert (store.folder / "journal" / f"frame-{bad}.npz.unreadable").exists()


def test_journal_validates_like_a_save(folder):
    with Store.open(folder) as store:
        frame_id = store.add_frame(synthetic_frame(7))
        with pytest.raises(StoreError, match="unknown label"):
            store.journal_write(frame_id, blob_mask(1), "probably bad")
        with pytest.raises(StoreError, match="is 3x3"):
            store.journal_write(frame_id, np.zeros((3, 3), bool), "benign")
        assert store.journal_entries() == []


def test_journal_entry_reads_one_frame_like_journal_entries(folder):
    with Store.open(folder) as store:
        frame_id = store.add_frame(synthetic_frame(8))
        store.save_annotation(frame_id, blob_mask(9), "benign")
        store.journal_write(frame_id, blob_mask(10), "malignant", "BI-RADS 4b", "not saved yet")
    with Store.open(folder) as store:
        entry = store.journal_entry(frame_id)
        [listed] = store.journal_entries()
        assert (entry.frame_id, entry.label, entry.category, entry.note, entry.base_revision) == (
            frame_id, "malignant", "BI-RADS 4b", "not saved yet", 1
        )  # fmt: skip
        assert np.array_equal(entry.mask, blob_mask(10)) and np.array_equal(entry.mask, listed.mask)
        assert entry.saved_utc == listed.saved_utc


def test_journal_entry_of_a_frame_without_one_is_none(folder):
    with Store.open(folder) as store:
        frame_id = store.add_frame(synthetic_frame(9))
        assert store.journal_entry(frame_id) is None
        assert store.journal_entry(frame_id + 1000) is None  # not even a frame: nothing autosaved either
        store.journal_write(frame_id, blob_mask(11), "benign")
        store.save_annotation(frame_id, blob_mask(12), "malignant")  # saving clears the autosave
        assert store.journal_entry(frame_id) is None


def test_damaged_journal_entry_is_set_aside_not_raised(folder):
    with Store.open(folder) as store:
        frame_id = store.add_frame(synthetic_frame(10))
        entry_file = store.folder / "journal" / f"frame-{frame_id}.npz"
        entry_file.parent.mkdir(exist_ok=True)
        entry_file.write_bytes(b"PK\x03\x04 truncated")
        assert store.journal_entry(frame_id) is None
        assert not entry_file.exists()
        assert entry_file.with_name(entry_file.name + ".unreadable").read_bytes() == b"PK\x03\x04 truncated"
        assert store.journal_entries() == []


def test_journal_entry_decodes_no_other_frame(folder, monkeypatch):
    with Store.open(folder) as store:
        good = store.add_frame(synthetic_frame(11))
        bad = store.add_frame(synthetic_frame(12))
        other = store.add_frame(synthetic_frame(13))
        store.journal_write(good, blob_mask(13), "benign")
        store.journal_write(other, blob_mask(14), "unsure")
        bad_file = store.folder / "journal" / f"frame-{bad}.npz"
        bad_file.write_bytes(b"PK\x03\x04 truncated")
        read, original = [], Journal.read

        def read_and_note(journal: Journal, frame_id: int) -> JournalEntry | None:
            read.append(frame_id)
            return original(journal, frame_id)

        monkeypatch.setattr(Journal, "read", read_and_note)
        assert store.journal_entry(good).label == "benign"
        assert read == [good]
        assert bad_file.read_bytes() == b"PK\x03\x04 truncated"  # the damaged neighbour is left as it was
        assert not bad_file.with_name(bad_file.name + ".unreadable").exists()


def test_journal_entry_drops_a_stale_entry_and_keeps_one_past_its_base(folder):
    with Store.open(folder) as store:
        stale = store.add_frame(synthetic_frame(14))
        moved = store.add_frame(synthetic_frame(15))
        store.journal_write(stale, blob_mask(15), "benign")
        store.journal_write(moved, blob_mask(16), "malignant")
        files = {fid: store.folder / "journal" / f"frame-{fid}.npz" for fid in (stale, moved)}
        kept = {fid: path.read_bytes() for fid, path in files.items()}
        store.save_annotation(stale, blob_mask(15), "benign")  # equal to the autosave
        store.save_annotation(moved, blob_mask(17), "benign")  # saved past the autosave's base
        for fid, path in files.items():
            path.write_bytes(kept[fid])  # as if the app died before clearing the autosaves
        assert store.journal_entry(stale) is None and not files[stale].exists()
        entry = store.journal_entry(moved)
        assert entry.base_revision == 0 and store.annotation(moved).revision == 1
        assert [e.frame_id for e in store.journal_entries()] == [moved]
