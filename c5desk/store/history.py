"""Provenance parts of the store: the model versions its rows refer to, and the audit log.

Both only need the database: the SQL and row decoding live in c5desk.store.versions (shared with the
parts that register a version or audit an action inside their own transaction).
"""

from __future__ import annotations

from typing import Any

from c5desk.store import versions
from c5desk.store.db import Database
from c5desk.store.records import AuditEntry, ModelVersion


class ModelVersions:
    """The lineage of what produced the store's predictions (which one is active is not a store's say)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def register(
        self, version: str, parent: str | None = None, metrics: dict[str, Any] | None = None
    ) -> ModelVersion:
        """Record a model version and its parent (idempotent)."""
        with self._db.write() as conn:
            return versions.register(conn, version, parent, metrics)

    def all(self) -> list[ModelVersion]:
        return [
            versions.model_version(r)
            for r in self._db.rows("SELECT * FROM model_versions ORDER BY created_utc, id")
        ]


class AuditLog:
    """Who did what, when, against which model: read back, or added for work done outside the store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        action: str,
        *,
        frame_id: int | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        model_version: str | None = None,
    ) -> None:
        """Add one audit entry in its own transaction (or the caller's, inside Store.transaction)."""
        with self._db.write() as conn:
            versions.audit(
                conn, action, frame_id=frame_id, model_version=model_version, before=before, after=after
            )

    def entries(
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
