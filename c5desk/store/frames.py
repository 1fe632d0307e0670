"""Frames part of the store: the images annotated, each in a case (study), stored bit-exactly.

A frame is keyed by its salted source id (adding it again returns the same id) and belongs to a case
named by an opaque salted key, so no path, name or UID reaches the database. Its display pixels and the
model's grey input are content-addressed PNG objects written before the row that names them.

Pixels are de-identified on the way in (io.deidentify, DICOM's Clean Pixel Data): everything outside the
imaging region and the burned-in text inside it set to 0, in the display pixels and the grey input alike.
The frame's meta records it (PIXELS_CLEANED, and CLEANING: the region kept and the boxes blanked); only
keep_identity=True (`c5desk import --keep-identity`) stores the pixels as they were.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from c5desk.io.deidentify import clean_frame
from c5desk.io.frame import Frame
from c5desk.io.ids import case_key as frame_case_key
from c5desk.store import rows
from c5desk.store.db import Database
from c5desk.store.files import ObjectFiles
from c5desk.store.records import FrameRecord, StoreError, check_token
from c5desk.store.versions import audit, to_json, utc_now

_INSERT_SQL = (
    "INSERT INTO frames (case_id, source_id, frame_index, height, width, mm_per_px_x, mm_per_px_y, region,"
    " meta, image_file, grey_file, split, grp, added_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CASES_SQL = (
    "SELECT c.id, COUNT(DISTINCT f.id), COUNT(DISTINCT a.frame_id) FROM cases c"
    " LEFT JOIN frames f ON f.case_id = c.id LEFT JOIN annotations a ON a.frame_id = f.id"
    " GROUP BY c.id ORDER BY c.id"
)
PIXELS_CLEANED = "pixels_cleaned"  # meta key: True when identifying pixels were blanked on the way in
CLEANING = "pixel_cleaning"  # meta key: what was kept and blanked (CleanResult.provenance)


class Frames:
    """Adds and reads frames; every other part asks it for a frame's record (and so its geometry)."""

    def __init__(self, db: Database, files: ObjectFiles) -> None:
        self._db = db
        self._files = files

    def add(
        self,
        frame: Frame,
        *,
        source_path: str | Path | None = None,
        case_key: str | None = None,
        split: str | None = None,
        group: str | None = None,
        keep_identity: bool = False,
    ) -> int:
        """Store a frame (display pixels, model grey, calibration) and return its id.

        Idempotent on frame.source_id (a frame already stored stays as it was stored). The case is
        `case_key` (an opaque salted key), else derived from `source_path` (its DICOM study, else the
        file), else the frame alone. The path is never stored. Burned-in identity is blanked unless
        keep_identity.
        """
        existing = self.id_for(frame.source_id)
        if existing is not None:
            return existing
        checked_pixels(frame)  # refuse bad input before cleaning it
        frame = _original(frame) if keep_identity else cleaned(frame)
        pixels, grey = checked_pixels(frame)
        key = case_key or _case_key(frame, source_path)
        split, group = check_token(split, "split"), check_token(group, "group")
        stored = self._files.put(pixels), self._files.put(grey)
        with self._db.write() as conn:
            again = conn.execute("SELECT id FROM frames WHERE source_id = ?", (frame.source_id,)).fetchone()
            if again:  # another process added it meanwhile
                return int(again[0])
            return _insert(conn, frame, grey.shape, key, stored, (split, group))

    def id_for(self, source_id: str) -> int | None:
        row = self._db.row("SELECT id FROM frames WHERE source_id = ?", (source_id,))
        return int(row[0]) if row else None

    def record(self, frame_id: int) -> FrameRecord:
        """The frame's row; StoreError when there is none (so callers never work on a missing frame)."""
        row = self._db.row(f"{rows.FRAME_SQL} WHERE f.id = ?", (int(frame_id),))
        if row is None:
            raise StoreError(f"frame {frame_id} is not in this store")
        return rows.frame_record(row)

    def records(self) -> list[FrameRecord]:
        return [rows.frame_record(row) for row in self._db.rows(f"{rows.FRAME_SQL} ORDER BY f.id")]

    def image(self, frame_id: int) -> np.ndarray:
        """The stored display pixels (grey or RGB, uint8 or uint16), bit-identical to what was added."""
        return self._files.get(self.record(frame_id).image_file)

    def load(self, frame_id: int) -> Frame:
        """The stored frame rebuilt as a Frame (read-only arrays), for display, overlays or inference."""
        record = self.record(frame_id)
        pixels, grey = self._files.get(record.image_file), self._files.get(record.grey_file)
        pixels.flags.writeable = grey.flags.writeable = False
        return Frame(
            pixels, grey, record.frame_index, record.mm_per_px, record.region, record.source_id, record.meta
        )

    def export_frame(self, frame_id: int, keep_identity: bool = False) -> Frame:
        """The frame as exports write it: cleaned unless it was cleaned on the way in or `keep_identity`.

        Frames stored with --keep-identity, or by a version before cleaning existed, are cleaned here, so no
        export carries burned-in identity by default.
        """
        frame = self.load(frame_id)
        if keep_identity or frame.meta.get(PIXELS_CLEANED) is True:
            return frame
        return clean_frame(frame)[0]

    def cases(self) -> list[dict[str, Any]]:
        """[{id, case, frames, annotated}] — display names only, the salted keys stay inside."""
        found = self._db.rows(_CASES_SQL)
        return [{"id": r[0], "case": rows.case_name(r[0]), "frames": r[1], "annotated": r[2]} for r in found]


def _insert(
    conn: sqlite3.Connection,
    frame: Frame,
    shape: tuple[int, ...],
    key: str,
    stored: tuple[str, str],
    grouping: tuple[str | None, str | None],
) -> int:
    """Insert the frame (and its case when new) in the open transaction; audited; returns the id."""
    conn.execute("INSERT OR IGNORE INTO cases (case_key, created_utc) VALUES (?, ?)", (key, utc_now()))
    case_id = conn.execute("SELECT id FROM cases WHERE case_key = ?", (key,)).fetchone()[0]
    scale = frame.mm_per_px
    cursor = conn.execute(
        _INSERT_SQL,
        (
            case_id, frame.source_id, int(frame.index), shape[0], shape[1],
            None if scale is None else float(scale[0]), None if scale is None else float(scale[1]),
            rows.region_json(frame.region), to_json(dict(frame.meta)) or "{}",
            *stored, *grouping, utc_now(),
        ),
    )  # fmt: skip
    frame_id = int(cursor.lastrowid)
    audit(conn, "add_frame", frame_id=frame_id, after={"case": rows.case_name(case_id)})
    return frame_id


def _case_key(frame: Frame, source_path: str | Path | None) -> str:
    if source_path is not None:
        from c5desk.store.identity import case_key_for  # pydicom only when a file is named

        return case_key_for(source_path)
    return frame_case_key(f"frame:{frame.source_id}")


def cleaned(frame: Frame) -> Frame:
    """The frame with its identifying pixels blanked and how, in its meta (the source frame untouched).

    A frame that was cleaned already (read back from a store) is cleaned again: cleaning twice blanks
    nothing new that matters, and trusting a meta flag would let an edited frame slip through."""
    frame, result = clean_frame(frame)
    frame.meta = {**frame.meta, PIXELS_CLEANED: True, CLEANING: result.provenance()}
    return frame


def _original(frame: Frame) -> Frame:
    """The frame as given, its meta saying whether its pixels were cleaned (e.g. read from a store)."""
    was_cleaned = frame.meta.get(PIXELS_CLEANED) is True
    return replace(frame, meta={**frame.meta, PIXELS_CLEANED: was_cleaned})


def checked_pixels(frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """The frame's pixels and grey image, refused before any file is written when they cannot be stored."""
    pixels, grey = np.asarray(frame.pixels), np.asarray(frame.grey)
    if grey.ndim != 2 or grey.dtype != np.uint8 or min(grey.shape) < 1:
        raise StoreError(
            f"frame grey image must be a non-empty (H, W) uint8 array, got {grey.dtype} {grey.shape}"
        )
    if (
        pixels.shape[:2] != grey.shape
        or pixels.ndim not in (2, 3)
        or (pixels.ndim == 3 and pixels.shape[2] != 3)
    ):
        raise StoreError(f"frame pixels {pixels.shape} do not match its grey image {grey.shape}")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise StoreError(f"frame pixels must be uint8 or uint16, got {pixels.dtype}")
    json.dumps(dict(frame.meta), default=str)  # fails early on unserialisable metadata
    return pixels, grey
