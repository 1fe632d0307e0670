"""Annotations part of the store: the clinician-final mask, label, category and note of a frame.

A frame may show several lesions (save_lesions); each revision keeps them, the main one first, in the
lesions table (c5desk.store.lesions), and its own row is the frame's summary: the union of their masks and
the main lesion's label, category, note, measurements, descriptors and provenance.

Saving never overwrites: a changed annotation is the frame's next revision, so the history (and the
audit log's before/after) stays complete; saving unchanged content adds nothing. Each revision records
how much it corrected the model's output (Predictions.correction), measured once, at save time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from c5desk.lesion.measure import measure_mask
from c5desk.store import active, lesions, rows
from c5desk.store.db import Database
from c5desk.store.files import ObjectFiles
from c5desk.store.frames import Frames
from c5desk.store.journal import Journal
from c5desk.store.predictions import Predictions
from c5desk.store.records import (
    Annotation,
    FrameRecord,
    Lesion,
    LesionDraft,
    StoreError,
    check_category,
    check_label,
    check_mask,
    check_note,
    check_provenance,
)
from c5desk.store.versions import audit, check_version_id, os_user, register, to_json, utc_now

_LATEST_SQL = "SELECT * FROM annotations WHERE frame_id = ? ORDER BY revision DESC LIMIT 1"
_REVISION_SQL = "SELECT * FROM annotations WHERE frame_id = ? AND revision = ?"
_INSERT_SQL = (
    "INSERT INTO annotations (frame_id, revision, label, category, note, mask_file, measurements,"
    " model_version, seg_change, label_flip, user, created_utc, descriptors, provenance)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class Annotations:
    """Saves and reads annotation revisions. A save clears the frame's autosave, hence the journal."""

    def __init__(
        self, db: Database, files: ObjectFiles, frames: Frames, predictions: Predictions, journal: Journal
    ) -> None:
        self._db = db
        self._files = files
        self._frames = frames
        self._predictions = predictions
        self._journal = journal

    def save(
        self,
        frame_id: int,
        mask: np.ndarray,
        label: str,
        category: str | None = None,
        note: str = "",
        model_version: str | None = None,
        *,
        descriptors: Mapping[str, Any] | None = None,
        provenance: Mapping[str, Any] | None = None,
        action: str = "save_annotation",
    ) -> Annotation:
        """Save the clinician-final mask and label of a frame as its next revision; clears its autosave.

        model_version names the model whose output was corrected (its prediction, if stored, is what the
        correction is measured against for active learning). Saving what is already the latest revision
        changes nothing and returns it. A "normal" frame has no lesion: its mask must be empty.
        descriptors: the lesion's BI-RADS terms with provenance (records.check_descriptors); none without
        a lesion. provenance: how the outline was made (records.check_provenance). A non-empty mask is the
        frame's one lesion (several islands included); save_lesions saves several.
        """
        record = self._frames.record(frame_id)
        label = check_label(label)
        binary = check_mask(mask, (record.height, record.width))
        if label == "normal" and binary.any():
            raise StoreError("a frame labelled normal has no lesion: clear the mask or choose another label")
        if binary.any():
            draft = LesionDraft(binary, label, category, note, descriptors, provenance)
            return self.save_lesions(frame_id, [draft], model_version, action=action)
        main = lesions.CheckedLesion(
            binary, label, check_category(category), check_note(note), {}, check_provenance(provenance)
        )
        return self._save(record, main, [], model_version, action)

    def save_lesions(
        self,
        frame_id: int,
        drafts: Sequence[LesionDraft],
        model_version: str | None = None,
        *,
        action: str = "save_annotation",
    ) -> Annotation:
        """Save the frame's lesions (the first is the main lesion) as its next revision; see save()."""
        record = self._frames.record(frame_id)
        checked = lesions.check_drafts(drafts, (record.height, record.width))
        return self._save(record, checked[0], checked, model_version, action)

    def _save(
        self,
        record: FrameRecord,
        main: lesions.CheckedLesion,
        outlined: list[lesions.CheckedLesion],
        model_version: str | None,
        action: str,
    ) -> Annotation:
        version = check_version_id(model_version) if model_version is not None else None
        union = np.logical_or.reduce([lesion.mask for lesion in outlined]) if outlined else main.mask
        measured = measure_mask(main.mask, record.mm_per_px)
        new = _Revision(
            mask_file=self._files.put_mask(union),
            content=(main.label, main.category, main.note, version),
            measurements=measured.to_dict() if measured is not None else None,
            correction=self._predictions.correction(record.id, version, union, _verdict(main, outlined)),
            descriptors=main.descriptors,
            provenance=main.provenance,
            lesions=lesions.prepare(outlined, self._files, record.mm_per_px),
        )
        with self._db.write() as conn:
            saved = _insert_if_changed(conn, record.id, new, action)
        self._journal.discard(record.id)
        return saved

    def get(self, frame_id: int, revision: int | None = None) -> Annotation | None:
        """The latest (or a given) revision of a frame's annotation; None when it has none."""
        if revision is None:
            row = self._db.row(_LATEST_SQL, (frame_id,))
        else:
            row = self._db.row(_REVISION_SQL, (frame_id, revision))
        return rows.annotation(row) if row else None

    def history(self, frame_id: int) -> list[Annotation]:
        found = self._db.rows("SELECT * FROM annotations WHERE frame_id = ? ORDER BY revision", (frame_id,))
        return [rows.annotation(row) for row in found]

    def latest(self, labels: tuple[str, ...] | None = None) -> list[Annotation]:
        """The latest annotation of every annotated frame, by frame id (optionally only some labels)."""
        found = [
            rows.annotation(row)
            for row in self._db.rows(f"{rows.LATEST_ANNOTATIONS_SQL} ORDER BY a.frame_id")
        ]
        return [a for a in found if labels is None or a.label in labels]

    def mask(self, frame_id: int, revision: int | None = None) -> np.ndarray | None:
        """The (H, W) bool mask of the latest (or a given) revision; None when not annotated."""
        found = self.get(frame_id, revision)
        return None if found is None else self.mask_of(found)

    def mask_of(self, annotation: Annotation) -> np.ndarray:
        return self._files.get_mask(annotation.mask_file)

    def lesions(self, annotation: Annotation) -> tuple[Lesion, ...]:
        """The revision's lesions, the main one first; () when its mask is empty."""
        return tuple(lesions.record(row) for row in self._db.rows(lesions.SELECT_SQL, (annotation.id,)))

    def lesion_mask(self, lesion: Lesion) -> np.ndarray:
        return self._files.get_mask(lesion.mask_file)

    def drafts(self, annotation: Annotation) -> list[LesionDraft]:
        """The revision's lesions with their masks, as a save would take them back."""
        return [
            LesionDraft(
                self.lesion_mask(lesion), lesion.label, lesion.category, lesion.note, lesion.descriptors,
                lesion.provenance,
            )
            for lesion in self.lesions(annotation)
        ]  # fmt: skip


def _verdict(main: lesions.CheckedLesion, outlined: list[lesions.CheckedLesion]) -> str:
    """What the model's one label is compared with: with several lesions, malignant if any is (see
    c5desk.store.active.frame_verdict), else the main lesion's label."""
    if len(outlined) < 2:
        return main.label
    return active.frame_verdict([lesion.label for lesion in outlined]) or main.label


@dataclass(frozen=True)
class _Revision:
    """What a save would store, prepared (files written, correction measured) before the transaction."""

    mask_file: str
    content: tuple[str, str | None, str, str | None]  # label, category, note, model version
    measurements: dict[str, Any] | None
    correction: tuple[float | None, bool | None]  # seg_change, label_flip
    descriptors: dict[str, dict[str, str]]
    provenance: dict[str, Any]
    lesions: tuple[lesions.PreparedLesion, ...]

    def same_as(self, saved: Annotation) -> bool:
        return (self.mask_file, *self.content, self.descriptors, self.provenance) == (
            saved.mask_file, saved.label, saved.category, saved.note, saved.model_version, saved.descriptors,
            saved.provenance,
        )  # fmt: skip


def _latest(conn: sqlite3.Connection, frame_id: int) -> Annotation | None:
    row = conn.execute(_LATEST_SQL, (frame_id,)).fetchone()
    return rows.annotation(row) if row else None


def _insert_if_changed(conn: sqlite3.Connection, frame_id: int, new: _Revision, action: str) -> Annotation:
    """Add `new` as the frame's next revision (audited) unless it equals the latest; return the latest."""
    before = _latest(conn, frame_id)
    unchanged = before is not None and new.same_as(before)
    if unchanged and lesions.same(new.lesions, lesions.of_annotation(conn, before.id)):  # type: ignore[union-attr]
        return before  # type: ignore[return-value]
    label, category, note, version = new.content
    if version is not None:
        register(conn, version, None, None)
    seg_change, flip = new.correction
    conn.execute(
        _INSERT_SQL,
        (
            frame_id, (before.revision if before else 0) + 1, label, category, note, new.mask_file,
            to_json(new.measurements), version, seg_change, None if flip is None else int(flip),
            os_user(), utc_now(), to_json(new.descriptors or None), to_json(new.provenance or None),
        ),
    )  # fmt: skip
    saved = _latest(conn, frame_id)
    lesions.insert(conn, saved.id, new.lesions)  # type: ignore[union-attr]
    summaries = rows.annotation_summary(before), rows.annotation_summary(saved)
    summaries[1]["lesions"] = len(new.lesions)  # type: ignore[index]
    audit(conn, action, frame_id=frame_id, model_version=version, before=summaries[0], after=summaries[1])
    return saved  # type: ignore[return-value]
