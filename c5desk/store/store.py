"""Store: the annotation dataset folder -- frames, clinician-final annotations, model predictions, model
versions, an audit log and an autosave journal.

    with Store.open(folder, create=True) as store:
        frame_id = store.add_frame(frame, source_path=path)       # idempotent on frame.source_id
        store.add_prediction(frame_id, "c5net-1", 0.81, 0.7, model_mask)
        store.journal_write(frame_id, edited_mask, "malignant")   # autosave while editing
        store.save_annotation(frame_id, edited_mask, "malignant", model_version="c5net-1")
        store.save_lesions(frame_id, [LesionDraft(mask_1, "malignant"), LesionDraft(mask_2, "benign")])

Folder layout: c5desk-store.sqlite (WAL), objects/ab/<sha256>.png (frames and masks, content-addressed,
immutable), journal/frame-<id>.npz (unsaved edits), .c5desk-locks/ (which Stores have it open:
presence.py; opening sweeps what a killed writer left, at once when no other Store has it open).
Nothing is ever deleted from the database: a new
annotation of a frame is a new revision, so history and audit stay complete. Files are written before
the row that names them is committed (see files.py), so every row points to a complete file.

Store is composed of parts over one Database, ObjectFiles and Journal, each given what it uses:
  Frames (frames.py)             frames and cases                   db, files
  Predictions (predictions.py)   model outputs, corrections        db, files, frames
  Annotations (annotations.py)   clinician-final revisions          db, files, frames, predictions, journal
  Autosave (autosave.py)         unsaved edits in the journal       journal, frames, annotations, audit log
  ModelVersions, AuditLog (history.py)  lineage and who did what    db
  Learning (learning.py)         next to annotate, training set     db, files
  Integrity (integrity.py)       missing files, orphan sweep        db, files, journal
  Calibrations, ViewLinks (calibrations.py)  user scales, linked orthogonal views  db
Store opens, migrates and closes the database and keeps the public API, each method handing over to
one part.

One Store object may be used from several threads; several processes may use one folder at once (the
app saving while training reads): SQLite's WAL and busy timeout serialise writers without errors.
No Qt, no torch: the training process imports this too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from c5desk.io.frame import Frame
from c5desk.io.ids import salt_fingerprint
from c5desk.store import schema
from c5desk.store.annotations import Annotations
from c5desk.store.autosave import Autosave
from c5desk.store.calibrations import Calibrations, UserCalibration, ViewLinks
from c5desk.store.db import Database
from c5desk.store.files import SWEEP_MIN_AGE_S, ObjectFiles
from c5desk.store.frames import Frames
from c5desk.store.history import AuditLog, ModelVersions
from c5desk.store.integrity import Integrity
from c5desk.store.journal import Journal
from c5desk.store.learning import Learning
from c5desk.store.predictions import Predictions
from c5desk.store.presence import Presence
from c5desk.store.records import (
    LESION_LABELS,
    Annotation,
    AuditEntry,
    FrameRecord,
    JournalEntry,
    Lesion,
    LesionDraft,
    ModelVersion,
    PredictionRecord,
    StoreError,
    Suggestion,
    TrainingExample,
)
from c5desk.store.versions import audit, utc_now

DATABASE = "c5desk-store.sqlite"


class Store:
    """The dataset folder's API: opening and closing here, everything else handed to one part."""

    def __init__(self, folder: Path, db: Database) -> None:
        """Use Store.create or Store.open."""
        self.folder = folder
        self._db = db
        files, journal = ObjectFiles(folder), Journal(folder)
        self._frames = Frames(db, files)
        self._predictions = Predictions(db, files, self._frames)
        self._annotations = Annotations(db, files, self._frames, self._predictions, journal)
        self._audit_log = AuditLog(db)
        self._autosave = Autosave(journal, self._frames, self._annotations, self._audit_log)
        self._model_versions = ModelVersions(db)
        self._learning = Learning(db, files)
        self._integrity = Integrity(db, files, journal)
        self._calibrations, self._view_links = Calibrations(db), ViewLinks(db)
        self._presence: Presence | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------
    @classmethod
    def create(cls, folder: str | Path) -> Store:
        """A new, empty store in `folder` (which must not exist or be empty)."""
        folder = Path(folder)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise StoreError(f"{folder.name}: exists and is not an empty folder; cannot create a store there")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{folder.name}: cannot create the folder ({exc.strerror})") from exc
        return cls._open_database(folder, new=True)._enter()

    @classmethod
    def open(cls, folder: str | Path, create: bool = False) -> Store:
        """Open an existing store (migrating an older schema); with create=True make it when missing."""
        folder = Path(folder)
        if not (folder / DATABASE).is_file():
            if create:
                return cls.create(folder)
            raise StoreError(f"{folder.name or folder}: not a c5desk store (no {DATABASE} in it)")
        return cls._open_database(folder, new=False)._enter()

    def _enter(self) -> Store:
        """Sweep what crashes left (all of it when no other Store has the folder open) and register."""
        try:
            self._presence = Presence.enter(self.folder, self._sweep_on_open)
        except BaseException:
            self._db.close()
            raise
        return self

    def _sweep_on_open(self, alone: bool) -> None:
        self._integrity.sweep_orphans(0.0 if alone else SWEEP_MIN_AGE_S)

    @classmethod
    def _open_database(cls, folder: Path, new: bool) -> Store:
        db = Database(folder / DATABASE)
        try:
            with db.read() as conn:
                current = schema.current_version(conn)
            if current != schema.SCHEMA_VERSION:  # the usual case (equal) takes no write lock to open
                _migrate(db, new)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreError(f"{folder.name}: the store database is unreadable ({exc})") from exc
        except BaseException:
            db.close()
            raise
        return cls(folder, db)

    def close(self) -> None:
        if self._presence is not None:
            self._presence, presence = None, self._presence
            presence.release()
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return int(self._db.row("SELECT version FROM schema_version")[0])

    def info(self) -> dict[str, str]:
        return {row["key"]: row["value"] for row in self._db.rows("SELECT key, value FROM store_info")}

    def salt_matches(self) -> bool:
        """Whether this installation hashes sources as the one that made the store did."""
        return self.info().get("salt_fingerprint") == salt_fingerprint()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """Group several writes into one transaction (nested uses become savepoints)."""
        return self._db.write()

    # ---- frames: Frames ----------------------------------------------------------------------------------
    def add_frame(
        self,
        frame: Frame,
        *,
        source_path: str | Path | None = None,
        case_key: str | None = None,
        split: str | None = None,
        group: str | None = None,
        keep_identity: bool = False,
    ) -> int:
        """Store a frame and return its id; idempotent on frame.source_id; its identifying pixels blanked
        unless keep_identity (see Frames.add)."""
        return self._frames.add(
            frame, source_path=source_path, case_key=case_key, split=split, group=group,
            keep_identity=keep_identity,
        )  # fmt: skip

    def frame_id_for(self, source_id: str) -> int | None:
        return self._frames.id_for(source_id)

    def frame_record(self, frame_id: int) -> FrameRecord:
        return self._frames.record(frame_id)

    def frames(self) -> list[FrameRecord]:
        return self._frames.records()

    def frame_image(self, frame_id: int) -> np.ndarray:
        return self._frames.image(frame_id)

    def export_frame(self, frame_id: int, keep_identity: bool = False) -> Frame:
        """The frame as exports write it: de-identified pixels unless `keep_identity` (see Frames)."""
        return self._frames.export_frame(frame_id, keep_identity)

    def frame(self, frame_id: int) -> Frame:
        return self._frames.load(frame_id)

    def cases(self) -> list[dict[str, Any]]:
        return self._frames.cases()

    # ---- annotations: Annotations ------------------------------------------------------------------------
    def save_annotation(
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
        """Save the frame's next annotation revision; clears its autosave (see Annotations.save)."""
        return self._annotations.save(
            frame_id, mask, label, category, note, model_version,
            descriptors=descriptors, provenance=provenance, action=action,
        )  # fmt: skip

    def save_lesions(
        self,
        frame_id: int,
        drafts: Sequence[LesionDraft],
        model_version: str | None = None,
        *,
        action: str = "save_annotation",
    ) -> Annotation:
        """Save the frame's lesions, the main one first, as its next revision (see Annotations)."""
        return self._annotations.save_lesions(frame_id, drafts, model_version, action=action)

    def lesions(self, annotation: Annotation) -> tuple[Lesion, ...]:
        return self._annotations.lesions(annotation)

    def lesion_mask(self, lesion: Lesion) -> np.ndarray:
        return self._annotations.lesion_mask(lesion)

    def lesion_drafts(self, annotation: Annotation) -> list[LesionDraft]:
        return self._annotations.drafts(annotation)

    def annotation(self, frame_id: int, revision: int | None = None) -> Annotation | None:
        return self._annotations.get(frame_id, revision)

    def annotation_history(self, frame_id: int) -> list[Annotation]:
        return self._annotations.history(frame_id)

    def annotations(self, labels: tuple[str, ...] | None = None) -> list[Annotation]:
        return self._annotations.latest(labels)

    def mask(self, frame_id: int, revision: int | None = None) -> np.ndarray | None:
        return self._annotations.mask(frame_id, revision)

    # ---- predictions: Predictions ------------------------------------------------------------------------
    def add_prediction(
        self,
        frame_id: int,
        model_version: str,
        p_malignant: float,
        uncertainty: float,
        mask: np.ndarray,
        label: str | None = None,
        descriptors: Mapping[str, str] | None = None,
    ) -> PredictionRecord:
        return self._predictions.add(
            frame_id, model_version, p_malignant, uncertainty, mask, label, descriptors=descriptors
        )

    def prediction(self, frame_id: int, model_version: str | None = None) -> PredictionRecord | None:
        return self._predictions.newest(frame_id, model_version)

    def predictions(self, frame_id: int) -> list[PredictionRecord]:
        return self._predictions.of_frame(frame_id)

    def prediction_mask(self, prediction: PredictionRecord) -> np.ndarray:
        return self._predictions.mask(prediction)

    # ---- autosave journal: Autosave ----------------------------------------------------------------------
    def journal_write(
        self,
        frame_id: int,
        mask: np.ndarray,
        label: str,
        category: str | None = None,
        note: str = "",
        descriptors: Mapping[str, Any] | None = None,
        provenance: Mapping[str, Any] | None = None,
        more_lesions: Sequence[LesionDraft] = (),
    ) -> None:
        """Autosave a frame's unsaved edits: the main lesion's (or the frame's), and lesions 2..n."""
        self._autosave.write(frame_id, mask, label, category, note, descriptors, provenance, more_lesions)

    def journal_entries(self) -> list[JournalEntry]:
        return self._autosave.entries()

    def journal_entry(self, frame_id: int) -> JournalEntry | None:
        """One frame's autosaved edits, reading only its entry; same rules as journal_entries()."""
        return self._autosave.entry(frame_id)

    def journal_recover(self, frame_id: int, model_version: str | None = None) -> Annotation:
        return self._autosave.recover(frame_id, model_version)

    def journal_discard(self, frame_id: int) -> bool:
        return self._autosave.discard(frame_id)

    # ---- model versions and audit: ModelVersions, AuditLog -----------------------------------------------
    def register_model_version(
        self, version: str, parent: str | None = None, metrics: dict[str, Any] | None = None
    ) -> ModelVersion:
        return self._model_versions.register(version, parent, metrics)

    def model_versions(self) -> list[ModelVersion]:
        return self._model_versions.all()

    def audit_log(
        self, frame_id: int | None = None, action: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        return self._audit_log.entries(frame_id, action, limit)

    def log_action(
        self,
        action: str,
        *,
        before: dict | None = None,
        after: dict | None = None,
        model_version: str | None = None,
    ) -> None:
        """Add an audit entry for work done outside the store's own methods (an export, an activation)."""
        self._audit_log.record(action, before=before, after=after, model_version=model_version)

    # ---- user calibrations and linked views: Calibrations, ViewLinks (calibrations.py) -----------------
    def set_user_calibration(
        self, scope: str, mm_per_px: tuple[float, float], detail: dict[str, Any] | None = None
    ) -> UserCalibration:
        """Set the scale of a scope (calibrations.calibration_scope); its uncalibrated frames take it."""
        return self._calibrations.set(scope, mm_per_px, detail)

    def user_calibration(self, scope: str) -> UserCalibration | None:
        return self._calibrations.get(scope)

    def user_calibrations(self) -> list[UserCalibration]:
        return self._calibrations.all()

    def link_views(self, frame_a: int, frame_b: int) -> None:
        """Two frames of one lesion in orthogonal planes (for its three diameters)."""
        self._view_links.link(frame_a, frame_b)

    def linked_views(self, frame_id: int) -> list[int]:
        return self._view_links.linked(frame_id)

    # ---- learning: Learning ------------------------------------------------------------------------------
    def next_most_useful(self, limit: int = 10, model_version: str | None = None) -> list[Suggestion]:
        return self._learning.next_most_useful(limit, model_version)

    def hard_examples(self, limit: int = 100) -> list[tuple[int, float]]:
        return self._learning.hard_examples(limit)

    def training_examples(
        self, split: str | None = None, labels: tuple[str, ...] = LESION_LABELS
    ) -> Iterator[TrainingExample]:
        return self._learning.training_examples(split, labels)

    # ---- integrity: Integrity ----------------------------------------------------------------------------
    def referenced_files(self) -> set[str]:
        return self._integrity.referenced_files()

    def check(self) -> list[str]:
        return self._integrity.check()

    def sweep_orphans(self, min_age_s: float = SWEEP_MIN_AGE_S) -> int:
        return self._integrity.sweep_orphans(min_age_s)


def _migrate(db: Database, new: bool) -> None:
    """Bring the schema up to date in one write transaction, recording the creation or the migration."""
    with db.write() as conn:
        old = schema.migrate(conn)
        if new or old == 0:
            conn.execute(
                "INSERT OR IGNORE INTO store_info (key, value) VALUES ('created_utc', ?), "
                "('salt_fingerprint', ?)",
                (utc_now(), salt_fingerprint()),
            )
            audit(conn, "create_store", after={"schema_version": schema.SCHEMA_VERSION})
        elif old < schema.SCHEMA_VERSION:
            audit(
                conn,
                "migrate_store",
                before={"schema_version": old},
                after={"schema_version": schema.SCHEMA_VERSION},
            )
