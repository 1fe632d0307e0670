"""Measuring set-up kept in the store: the user's calibrations of uncalibrated frames, and orthogonal views
of one lesion linked for its three diameters.

A user calibration is the scale a clinician set by marking two ticks of the depth ruler and typing their
distance (c5desk.lesion.calipers.scale_from_ruler). It applies to a scope (calibration_scope):
- "scanner:<manufacturer>|<model>|<width>x<height>" when the source names its scanner (DICOM), so every
  frame of that scanner at that frame size takes it. The scale of a scanner changes with the depth
  setting: the detail keeps the frame it was set on, and a user recalibrates after changing depth;
- "source:<salted source id>" otherwise (PNG, video: nothing says which scanner), the one frame.
Setting one also gives it to the store's frames of that scope that carry no calibration of their own (their
meta then says "calibration": "user"), so saved annotations and exports measure with it; a frame with the
scanner's own calibration never takes it. Replacing a calibration keeps the old value in the audit log.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from c5desk.io.frame import Frame
from c5desk.lesion.calipers import SCALE_RANGE_MM
from c5desk.store.db import Database
from c5desk.store.records import StoreError
from c5desk.store.versions import audit, from_json, os_user, to_json, utc_now

USER = "user"  # frame meta "calibration": the scale is the user's, not the scanner's
MAX_SCOPE_CHARS = 200
MAX_DETAIL_CHARS = 4000
_NAME_CHARS = 64


@dataclass(frozen=True)
class UserCalibration:
    scope: str
    mm_per_px: tuple[float, float]
    detail: dict[str, Any]  # the marked points, the typed distance, the frame (salted id, size)
    user: str
    created_utc: str


def scope_of(meta: dict[str, Any], source_id: str, height: int, width: int) -> str:
    """The calibration scope of a frame from its meta, salted source id and size (see the module doc)."""
    maker, model = _name(meta.get("manufacturer")), _name(meta.get("manufacturer_model_name"))
    if maker or model:
        return f"scanner:{maker}|{model}|{int(width)}x{int(height)}"
    return f"source:{source_id}"


def calibration_scope(frame: Frame) -> str:
    height, width = frame.shape
    return scope_of(frame.meta, frame.source_id, height, width)


def _name(value: object) -> str:
    """A one-line, bounded scanner name ("" when absent); '|' is the scope's separator."""
    if value is None:
        return ""
    text = " ".join(str(value).split()).replace("|", "/")
    return text[:_NAME_CHARS]


def check_scale(mm_per_px: object) -> tuple[float, float]:
    try:
        sx, sy = (float(v) for v in mm_per_px)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise StoreError(f"a calibration is (x, y) mm per pixel; got {mm_per_px!r}") from None
    low, high = SCALE_RANGE_MM
    if not all(math.isfinite(v) and low <= v <= high for v in (sx, sy)):
        raise StoreError(f"a calibration must be {low:g}–{high:g} mm per pixel; got ({sx:g}, {sy:g})")
    return sx, sy


def _check_scope(scope: object) -> str:
    text = scope.strip() if isinstance(scope, str) else ""
    if not text or len(text) > MAX_SCOPE_CHARS or any(ch in text for ch in "\r\n\t"):
        raise StoreError(f"a calibration scope is a one-line name of 1-{MAX_SCOPE_CHARS} characters")
    return text


def _check_detail(detail: object) -> str:
    if detail is None:
        detail = {}
    if not isinstance(detail, dict):
        raise StoreError("a calibration's detail is a dictionary (points, distance, frame)")
    text = to_json(detail) or "{}"
    if len(text) > MAX_DETAIL_CHARS:
        raise StoreError(f"a calibration's detail is limited to {MAX_DETAIL_CHARS} characters of JSON")
    return text


def _record(row: sqlite3.Row) -> UserCalibration:
    return UserCalibration(
        scope=row["scope"],
        mm_per_px=(float(row["mm_per_px_x"]), float(row["mm_per_px_y"])),
        detail=from_json(row["detail"]) or {},
        user=row["user"],
        created_utc=row["created_utc"],
    )


class Calibrations:
    """User calibrations by scope, and the store's frames that take them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set(self, scope: str, mm_per_px: object, detail: dict[str, Any] | None = None) -> UserCalibration:
        """Set (or replace) the scope's calibration and give it to the frames of that scope; audited."""
        scope, scale, detail_json = _check_scope(scope), check_scale(mm_per_px), _check_detail(detail)
        with self._db.write() as conn:
            old = conn.execute("SELECT * FROM calibrations WHERE scope = ?", (scope,)).fetchone()
            conn.execute(
                "INSERT INTO calibrations (scope, mm_per_px_x, mm_per_px_y, detail, user, created_utc)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(scope) DO UPDATE SET"
                " mm_per_px_x = excluded.mm_per_px_x, mm_per_px_y = excluded.mm_per_px_y,"
                " detail = excluded.detail, user = excluded.user, created_utc = excluded.created_utc",
                (scope, *scale, detail_json, os_user(), utc_now()),
            )
            frames = _give_to_frames(conn, scope, scale)
            before = {"scope": scope, "mm_per_px": list(_record(old).mm_per_px)} if old else None
            after = {"scope": scope, "mm_per_px": list(scale), "frames": frames}
            audit(conn, "set_user_calibration", before=before, after=after)
            return _record(conn.execute("SELECT * FROM calibrations WHERE scope = ?", (scope,)).fetchone())

    def get(self, scope: str) -> UserCalibration | None:
        row = self._db.row("SELECT * FROM calibrations WHERE scope = ?", (str(scope),))
        return _record(row) if row else None

    def all(self) -> list[UserCalibration]:
        return [_record(row) for row in self._db.rows("SELECT * FROM calibrations ORDER BY scope")]


def _give_to_frames(conn: sqlite3.Connection, scope: str, scale: tuple[float, float]) -> list[int]:
    """The frames of `scope` without a scanner calibration take `scale`; returns their ids."""
    rows = conn.execute(
        "SELECT id, source_id, height, width, mm_per_px_x, meta FROM frames"
        " WHERE mm_per_px_x IS NULL OR meta LIKE '%\"calibration\"%'"
    ).fetchall()
    given = []
    for row in rows:
        meta = json.loads(row["meta"] or "{}")
        own = row["mm_per_px_x"] is not None and meta.get("calibration") != USER
        if own or scope_of(meta, row["source_id"], row["height"], row["width"]) != scope:
            continue
        meta["calibration"] = USER
        conn.execute(
            "UPDATE frames SET mm_per_px_x = ?, mm_per_px_y = ?, meta = ? WHERE id = ?",
            (*scale, to_json(meta), row["id"]),
        )
        given.append(int(row["id"]))
    return given


class ViewLinks:
    """Two frames showing one lesion in orthogonal planes (for its three diameters), linked both ways."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def link(self, frame_a: int, frame_b: int) -> None:
        """Link two stored frames (idempotent, either order); audited."""
        a, b = sorted((int(frame_a), int(frame_b)))
        if a == b:
            raise StoreError("a frame cannot be linked to itself as its orthogonal view")
        with self._db.write() as conn:
            for frame_id in (a, b):
                if conn.execute("SELECT 1 FROM frames WHERE id = ?", (frame_id,)).fetchone() is None:
                    raise StoreError(f"frame {frame_id} is not in this store")
            cursor = conn.execute(
                "INSERT OR IGNORE INTO view_links (frame_a, frame_b, created_utc) VALUES (?, ?, ?)",
                (a, b, utc_now()),
            )
            if cursor.rowcount:
                audit(conn, "link_views", frame_id=a, after={"frame_a": a, "frame_b": b})

    def linked(self, frame_id: int) -> list[int]:
        """The frames linked to `frame_id`, oldest link first."""
        found = self._db.rows(
            "SELECT frame_a, frame_b FROM view_links WHERE frame_a = ? OR frame_b = ? ORDER BY id",
            (int(frame_id), int(frame_id)),
        )
        return [row["frame_b"] if row["frame_a"] == int(frame_id) else row["frame_a"] for row in found]
