"""Store methods for what clinicians and models say about a frame: annotations, predictions, autosave."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from c5desk.measure import measure_mask
from c5desk.store import rows
from c5desk.store.active import correction
from c5desk.store.records import (
    Annotation,
    FrameRecord,
    JournalEntry,
    PredictionRecord,
    StoreError,
    check_category,
    check_label,
    check_mask,
    check_note,
    check_probability,
)
from c5desk.store.versions import audit, check_version_id, os_user, register, to_json, utc_now

if TYPE_CHECKING:
    from c5desk.store.db import Database
    from c5desk.store.files import ObjectFiles
    from c5desk.store.journal import Journal


class AnnotatingMixin:
    _db: Database
    _files: ObjectFiles
    _journal: Journal

    def frame_record(self, frame_id: int) -> FrameRecord: ...  # provided by Store

    # ---- annotations -----------------------------------------------------------------------------------
    def save_annotation(
        self,
        frame_id: int,
        mask: np.ndarray,
        label: str,
        category: str | None = None,
        note: str = "",
        model_version: str | None = None,
        *,
        action: str = "save_annotation",
    ) -> Annotation:
        """Save the clinician-final mask and label of a frame as its next revision; clears its autosave.

        model_version names the model whose output was corrected (its prediction, if stored, is what the
        correction is measured against for active learning). Saving what is already the latest revision
        changes nothing and returns it. A "normal" frame has no lesion: its mask must be empty.
        """
        record = self.frame_record(frame_id)
        label, category, note = check_label(label), check_category(category), check_note(note)
        binary = check_mask(mask, (record.height, record.width))
        if label == "normal" and binary.any():
            raise StoreError("a frame labelled normal has no lesion: clear the mask or choose another label")
        version = check_version_id(model_version) if model_version is not None else None
        measured = measure_mask(binary, record.mm_per_px)
        measurements = measured.to_dict() if measured is not None else None
        mask_file = self._files.put_mask(binary)
        seg_change, flip = self._correction(record.id, version, binary, label)
        with self._db.write() as conn:
            before = self._latest(conn, record.id)
            saved = before
            if before is None or _content(before) != (mask_file, label, category, note, version):
                if version is not None:
                    register(conn, version, None, None)
                conn.execute(
                    "INSERT INTO annotations (frame_id, revision, label, category, note, mask_file,"
                    " measurements, model_version, seg_change, label_flip, user, created_utc)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.id, (before.revision if before else 0) + 1, label, category, note, mask_file,
                        to_json(measurements), version, seg_change, None if flip is None else int(flip),
                        os_user(), utc_now(),
                    ),
                )  # fmt: skip
                saved = self._latest(conn, record.id)
                summaries = rows.annotation_summary(before), rows.annotation_summary(saved)
                audit(
                    conn,
                    action,
                    frame_id=record.id,
                    model_version=version,
                    before=summaries[0],
                    after=summaries[1],
                )
        self._journal.discard(record.id)
        return saved  # type: ignore[return-value]

    def _correction(
        self, frame_id: int, version: str | None, mask: np.ndarray, label: str
    ) -> tuple[float | None, bool | None]:
        """How much this final annotation departs from the model output it corrected (None: no output)."""
        prediction = self.prediction(frame_id, version) if version is not None else None
        prediction = prediction or self.prediction(frame_id)
        if prediction is None:
            return None, None
        return correction(self._files.get_mask(prediction.mask_file), prediction.label, mask, label)

    @staticmethod
    def _latest(conn: Any, frame_id: int) -> Annotation | None:
        row = conn.execute(
            "SELECT * FROM annotations WHERE frame_id = ? ORDER BY revision DESC LIMIT 1", (frame_id,)
        ).fetchone()
        return rows.annotation(row) if row else None

    def annotation(self, frame_id: int, revision: int | None = None) -> Annotation | None:
        """The latest (or a given) revision of a frame's annotation; None when it has none."""
        if revision is None:
            sql, params = (
                "SELECT * FROM annotations WHERE frame_id = ? ORDER BY revision DESC LIMIT 1",
                (frame_id,),
            )
        else:
            sql, params = (
                "SELECT * FROM annotations WHERE frame_id = ? AND revision = ?",
                (frame_id, revision),
            )
        row = self._db.row(sql, params)
        return rows.annotation(row) if row else None

    def annotation_history(self, frame_id: int) -> list[Annotation]:
        found = self._db.rows("SELECT * FROM annotations WHERE frame_id = ? ORDER BY revision", (frame_id,))
        return [rows.annotation(row) for row in found]

    def annotations(self, labels: tuple[str, ...] | None = None) -> list[Annotation]:
        """The latest annotation of every annotated frame, by frame id (optionally only some labels)."""
        found = [
            rows.annotation(row)
            for row in self._db.rows(f"{rows.LATEST_ANNOTATIONS_SQL} ORDER BY a.frame_id")
        ]
        return [a for a in found if labels is None or a.label in labels]

    def mask(self, frame_id: int, revision: int | None = None) -> np.ndarray | None:
        """The (H, W) bool mask of the latest (or a given) revision; None when not annotated."""
        found = self.annotation(frame_id, revision)
        return None if found is None else self._files.get_mask(found.mask_file)

    # ---- predictions -----------------------------------------------------------------------------------
    def add_prediction(
        self,
        frame_id: int,
        model_version: str,
        p_malignant: float,
        uncertainty: float,
        mask: np.ndarray,
        label: str | None = None,
    ) -> PredictionRecord:
        """Keep a model's output (never mixed with the clinician's annotation). Unknown versions are
        registered (without parent or metrics). label defaults to malignant when p_malignant >= 0.5."""
        record = self.frame_record(frame_id)
        version = check_version_id(model_version)
        p = check_probability(p_malignant, "p_malignant")
        u = check_probability(uncertainty, "uncertainty")
        label = check_label(label) if label is not None else ("malignant" if p >= 0.5 else "benign")
        mask_file = self._files.put_mask(check_mask(mask, (record.height, record.width), "model mask"))
        with self._db.write() as conn:
            register(conn, version, None, None)
            cursor = conn.execute(
                "INSERT INTO predictions (frame_id, model_version, p_malignant, uncertainty, label,"
                " mask_file, created_utc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.id, version, p, u, label, mask_file, utc_now()),
            )
            audit(conn, "add_prediction", frame_id=record.id, model_version=version,
                  after={"p_malignant": round(p, 4), "uncertainty": round(u, 4), "label": label})  # fmt: skip
            row = conn.execute("SELECT * FROM predictions WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return rows.prediction(row)

    def prediction(self, frame_id: int, model_version: str | None = None) -> PredictionRecord | None:
        """The newest prediction for a frame (of one model version when given)."""
        if model_version is None:
            row = self._db.row(
                "SELECT * FROM predictions WHERE frame_id = ? ORDER BY id DESC LIMIT 1", (frame_id,)
            )
        else:
            row = self._db.row(
                "SELECT * FROM predictions WHERE frame_id = ? AND model_version = ? ORDER BY id DESC LIMIT 1",
                (frame_id, model_version),
            )
        return rows.prediction(row) if row else None

    def predictions(self, frame_id: int) -> list[PredictionRecord]:
        found = self._db.rows("SELECT * FROM predictions WHERE frame_id = ? ORDER BY id", (frame_id,))
        return [rows.prediction(row) for row in found]

    def prediction_mask(self, prediction: PredictionRecord) -> np.ndarray:
        return self._files.get_mask(prediction.mask_file)

    # ---- autosave journal ------------------------------------------------------------------------------
    def journal_write(
        self, frame_id: int, mask: np.ndarray, label: str, category: str | None = None, note: str = ""
    ) -> None:
        """Autosave unsaved edits of a frame (atomically replaces its previous autosave)."""
        record = self.frame_record(frame_id)
        latest = self.annotation(record.id)
        entry = JournalEntry(
            frame_id=record.id,
            mask=check_mask(mask, (record.height, record.width)),
            label=check_label(label),
            category=check_category(category),
            note=check_note(note),
            base_revision=latest.revision if latest else 0,
            saved_utc=utc_now(),
        )
        self._journal.write(entry)

    def journal_entries(self) -> list[JournalEntry]:
        """Autosaved edits waiting for recovery; entries equal to the saved annotation are dropped."""
        entries = []
        for frame_id in self._journal.frame_ids():
            try:
                entry = self._journal.read(frame_id)
            except StoreError:
                self._journal.set_aside(frame_id)  # kept for inspection, never offered half-read
                continue
            if entry is None:
                continue
            saved = self.annotation(frame_id)
            if saved is not None and self._same_as_saved(entry, saved):
                self._journal.discard(frame_id)  # a crash came between saving and clearing the autosave
                continue
            entries.append(entry)
        return entries

    def _same_as_saved(self, entry: JournalEntry, saved: Annotation) -> bool:
        if (entry.label, entry.category, entry.note) != (saved.label, saved.category, saved.note):
            return False
        return bool(np.array_equal(entry.mask, self._files.get_mask(saved.mask_file)))

    def journal_recover(self, frame_id: int, model_version: str | None = None) -> Annotation:
        """Save a frame's autosaved edits as its next revision (which clears the entry)."""
        entry = self._journal.read(frame_id)
        if entry is None:
            raise StoreError(f"frame {frame_id} has no autosaved edits to recover")
        return self.save_annotation(
            frame_id,
            entry.mask,
            entry.label,
            entry.category,
            entry.note,
            model_version,
            action="journal_recover",
        )

    def journal_discard(self, frame_id: int) -> bool:
        """Drop a frame's autosaved edits (audited); True when there were some."""
        dropped = self._journal.discard(frame_id)
        if dropped:
            with self._db.write() as conn:
                audit(conn, "journal_discard", frame_id=int(frame_id))
        return dropped


def _content(saved: Annotation) -> tuple[object, ...]:
    return saved.mask_file, saved.label, saved.category, saved.note, saved.model_version
