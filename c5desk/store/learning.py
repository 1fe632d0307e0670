"""Store methods for the learning loop: model versions, active learning, training examples, audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from c5desk.store import active, rows, versions
from c5desk.store.records import (
    LESION_LABELS,
    AuditEntry,
    ModelVersion,
    StoreError,
    Suggestion,
    TrainingExample,
    check_label,
)

if TYPE_CHECKING:
    from c5desk.store.db import Database
    from c5desk.store.files import ObjectFiles


class LearningMixin:
    _db: Database
    _files: ObjectFiles

    # ---- model versions --------------------------------------------------------------------------------
    def register_model_version(
        self,
        version: str,
        parent: str | None = None,
        metrics: dict[str, Any] | None = None,
        activate: bool = False,
    ) -> ModelVersion:
        """Record a model version (idempotent); activate=True also makes it the active one."""
        with self._db.write() as conn:
            registered = versions.register(conn, version, parent, metrics)
            if activate:
                registered = versions.activate(conn, registered.id)
        return registered

    def activate_model_version(self, version: str) -> ModelVersion:
        """Make a registered version the active one; rolling back is activating the parent."""
        with self._db.write() as conn:
            return versions.activate(conn, version)

    def model_versions(self) -> list[ModelVersion]:
        return [
            versions.model_version(r)
            for r in self._db.rows("SELECT * FROM model_versions ORDER BY created_utc, id")
        ]

    def active_model_version(self) -> ModelVersion | None:
        row = self._db.row("SELECT * FROM model_versions WHERE active = 1")
        return versions.model_version(row) if row else None

    # ---- active learning -------------------------------------------------------------------------------
    def next_most_useful(self, limit: int = 10) -> list[Suggestion]:
        """Unannotated frames, most useful to annotate first (see c5desk.store.active for the score)."""
        current = self.active_model_version()
        return active.next_most_useful(self._db, current.id if current else None, limit)

    def hard_examples(self, limit: int = 100) -> list[tuple[int, float]]:
        """(frame_id, change) of annotated frames where clinicians changed the model's output most."""
        return active.hard_examples(self._db, limit)

    # ---- training --------------------------------------------------------------------------------------
    def training_examples(
        self, split: str | None = None, labels: tuple[str, ...] = LESION_LABELS
    ) -> Iterator[TrainingExample]:
        """Latest annotations with the given labels (of one split when given), as model-ready arrays.

        The list of examples is a snapshot taken when iteration starts; files are immutable, so saving
        annotations meanwhile (another process) never disturbs an iteration in progress.
        """
        wanted = tuple(check_label(label) for label in labels)
        if not wanted:
            raise StoreError("training_examples needs at least one label")
        marks = ", ".join("?" for _ in wanted)
        sql = (
            f"SELECT a.*, f.case_id, f.split, f.grp, f.grey_file, f.mm_per_px_x, f.mm_per_px_y"
            f" FROM ({rows.LATEST_ANNOTATIONS_SQL}) a JOIN frames f ON f.id = a.frame_id"
            f" WHERE a.label IN ({marks})"
            + (" AND f.split = ?" if split is not None else "")
            + " ORDER BY a.frame_id"
        )
        snapshot = self._db.rows(sql, (*wanted, *((split,) if split is not None else ())))
        for row in snapshot:
            scale = None if row["mm_per_px_x"] is None else (row["mm_per_px_x"], row["mm_per_px_y"])
            yield TrainingExample(
                frame_id=row["frame_id"],
                case_id=row["case_id"],
                image=self._files.get(row["grey_file"]),
                mask=self._files.get_mask(row["mask_file"]),
                label=row["label"],
                split=row["split"],
                group=row["grp"],
                mm_per_px=scale,
                revision=row["revision"],
            )

    # ---- audit -----------------------------------------------------------------------------------------
    def audit_log(
        self, frame_id: int | None = None, action: str | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        """Audit entries, oldest first (the newest `limit` when given), optionally of one frame/action."""
        clauses, params = [], []
        if frame_id is not None:
            clauses.append("frame_id = ?")
            params.append(int(frame_id))
        if action is not None:
            clauses.append("action = ?")
            params.append(action)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM audit{where} ORDER BY id DESC" + (" LIMIT ?" if limit is not None else "")
        found = self._db.rows(sql, (*params, *((int(limit),) if limit is not None else ())))
        return [versions.audit_entry(row) for row in reversed(found)]
