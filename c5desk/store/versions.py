"""Model versions (id, parent, metrics: the lineage of what produced the store's predictions) and the audit
log, over an open write transaction.

Every audit entry names the OS user, the UTC time, the action, a before/after summary (small JSON, never
pixels) and the model version involved, so "who changed this outline, when, and against which model"
always has an answer.
"""

from __future__ import annotations

import getpass
import json
import math
import sqlite3
from datetime import UTC, datetime
from typing import Any

from c5desk.store.records import AuditEntry, ModelVersion, StoreError

MAX_VERSION_CHARS = 128


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def os_user() -> str:
    """The logged-in OS user; "unknown" where the platform cannot say (no passwd entry, no env)."""
    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError, ImportError):
        return "unknown"


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=_plain)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays, tuples: as JSON-friendly Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def audit(
    conn: sqlite3.Connection,
    action: str,
    *,
    frame_id: int | None = None,
    model_version: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO audit (time_utc, user, action, frame_id, model_version, before, after)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (utc_now(), os_user(), action, frame_id, model_version, to_json(before), to_json(after)),
    )


def audit_entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        time_utc=row["time_utc"],
        user=row["user"],
        action=row["action"],
        frame_id=row["frame_id"],
        model_version=row["model_version"],
        before=from_json(row["before"]),
        after=from_json(row["after"]),
    )


def check_version_id(version: object) -> str:
    text = str(version).strip() if version is not None else ""
    if not text or len(text) > MAX_VERSION_CHARS or any(ch in text for ch in "\r\n\t"):
        raise StoreError(f"model version must be a one-line name of 1-{MAX_VERSION_CHARS} characters")
    return text


def model_version(row: sqlite3.Row) -> ModelVersion:
    return ModelVersion(
        id=row["id"],
        parent=row["parent"],
        metrics=from_json(row["metrics"]) or {},
        created_utc=row["created_utc"],
    )


def find_version(conn: sqlite3.Connection, version: str) -> ModelVersion | None:
    row = conn.execute("SELECT * FROM model_versions WHERE id = ?", (version,)).fetchone()
    return model_version(row) if row else None


def register(
    conn: sqlite3.Connection, version: str, parent: str | None, metrics: dict[str, Any] | None
) -> ModelVersion:
    """Add a model version (idempotent: an existing one is returned unchanged)."""
    version = check_version_id(version)
    existing = find_version(conn, version)
    if existing is not None:
        return existing
    if parent is not None:
        parent = check_version_id(parent)
        if find_version(conn, parent) is None:
            raise StoreError(f"parent model version {parent!r} is not registered")
    conn.execute(
        "INSERT INTO model_versions (id, parent, metrics, created_utc) VALUES (?, ?, ?, ?)",
        (version, parent, to_json(metrics or {}), utc_now()),
    )
    audit(conn, "register_model", model_version=version, after={"parent": parent, "metrics": metrics or {}})
    return find_version(conn, version)  # type: ignore[return-value]
