"""Autosave journal: the unsaved edits of a frame (mask, label, category, note) in journal/frame-<id>.npz.

A frame with several lesions keeps its main lesion in the entry's own fields and lesions 2..n in
more_lesions (masks mask_2, mask_3... beside `mask`).

Each write replaces the frame's entry atomically (temp + fsync + rename), so after a crash an entry is
either the previous autosave or the new one. Entries live outside the database on purpose: autosaving
every few seconds must not contend with the write lock nor grow the audit log. Saving the annotation
clears the entry; an entry equal to the saved annotation (a crash between the two) is dropped as stale.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
import zipfile
from pathlib import Path

import numpy as np

from c5desk.fsio import TEMP_PREFIX, fsync_folder, write_atomic
from c5desk.store.records import JournalEntry, LesionDraft, StoreError

JOURNAL = "journal"
_NAME = re.compile(r"^frame-(\d+)\.npz$")
TEMPORARY_MIN_AGE_S = 60.0  # an autosave write takes milliseconds


class Journal:
    def __init__(self, root: Path) -> None:
        self.folder = root / JOURNAL

    def path(self, frame_id: int) -> Path:
        return self.folder / f"frame-{int(frame_id)}.npz"

    def write(self, entry: JournalEntry) -> None:
        meta = {
            "frame_id": entry.frame_id,
            "label": entry.label,
            "category": entry.category,
            "note": entry.note,
            "base_revision": entry.base_revision,
            "saved_utc": entry.saved_utc,
            "descriptors": entry.descriptors,
            "provenance": entry.provenance,
            "more_lesions": [_lesion_meta(lesion) for lesion in entry.more_lesions],
        }
        more_masks = {f"mask_{n}": _packed(lesion.mask) for n, lesion in enumerate(entry.more_lesions, 2)}
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            mask=_packed(entry.mask),
            shape=np.asarray(entry.mask.shape, np.int64),
            meta=np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8),
            **more_masks,
        )
        write_atomic(self.path(entry.frame_id), buffer.getvalue())

    def read(self, frame_id: int) -> JournalEntry | None:
        """The entry of a frame, None when it has none; StoreError when its file cannot be read."""
        path = self.path(frame_id)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                shape = tuple(int(v) for v in data["shape"])
                meta = json.loads(bytes(data["meta"]).decode("utf-8"))
                mask = _unpacked(data["mask"], shape)
                more = tuple(
                    _lesion(fields, _unpacked(data[f"mask_{n}"], shape))
                    for n, fields in enumerate(meta.get("more_lesions") or [], 2)
                )
            if not isinstance(meta.get("descriptors") or {}, dict):
                raise ValueError("descriptors are not a mapping")
            if not isinstance(meta.get("provenance") or {}, dict):
                raise ValueError("provenance is not a mapping")
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise StoreError(f"autosave of frame {frame_id} is unreadable ({exc})") from exc
        return JournalEntry(
            frame_id=int(meta["frame_id"]),
            mask=mask,
            label=str(meta["label"]),
            category=meta.get("category"),
            note=str(meta.get("note", "")),
            base_revision=int(meta.get("base_revision", 0)),
            saved_utc=str(meta.get("saved_utc", "")),
            descriptors=meta.get("descriptors") or {},
            provenance=meta.get("provenance") or {},
            more_lesions=more,
        )

    def frame_ids(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        found = (_NAME.match(path.name) for path in self.folder.iterdir())
        return sorted(int(match.group(1)) for match in found if match)

    def discard(self, frame_id: int) -> bool:
        path = self.path(frame_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_folder(self.folder)
        return True

    def set_aside(self, frame_id: int) -> None:
        """Rename an unreadable entry to frame-<id>.npz.unreadable so it no longer blocks recovery."""
        path = self.path(frame_id)
        with contextlib.suppress(FileNotFoundError):
            path.replace(path.with_name(path.name + ".unreadable"))

    def sweep_temporaries(self, min_age_s: float = TEMPORARY_MIN_AGE_S) -> None:
        """Leftovers of writes interrupted by a crash (never a complete entry), once surely abandoned."""
        if not self.folder.is_dir():
            return
        cutoff = time.time() - min_age_s
        for path in self.folder.glob(f"{TEMP_PREFIX}*"):
            try:
                if min_age_s <= 0 or path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:  # gone meanwhile, or a read-only store
                continue


def _packed(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask.astype(bool), axis=None)


def _unpacked(bits: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.unpackbits(bits, count=shape[0] * shape[1]).reshape(shape).astype(bool)


def _lesion_meta(lesion: LesionDraft) -> dict[str, object]:
    return {
        "label": lesion.label,
        "category": lesion.category,
        "note": lesion.note,
        "descriptors": dict(lesion.descriptors or {}),
        "provenance": dict(lesion.provenance or {}),
    }


def _lesion(fields: dict[str, object], mask: np.ndarray) -> LesionDraft:
    if not isinstance(fields, dict):
        raise ValueError("a lesion entry is not a mapping")
    return LesionDraft(
        mask, str(fields["label"]), fields.get("category"), str(fields.get("note", "")),  # type: ignore[arg-type]
        fields.get("descriptors") or {}, fields.get("provenance") or {},  # type: ignore[arg-type]
    )  # fmt: skip
