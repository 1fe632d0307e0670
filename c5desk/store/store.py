"""Store: the annotation dataset folder -- frames, clinician-final annotations, model predictions, model
versions, an audit log and an autosave journal.

    with Store.open(folder, create=True) as store:
        frame_id = store.add_frame(frame, source_path=path)       # idempotent on frame.source_id
        store.add_prediction(frame_id, "c5net-1", 0.81, 0.7, model_mask)
        store.journal_write(frame_id, edited_mask, "malignant")   # autosave while editing
        store.save_annotation(frame_id, edited_mask, "malignant", model_version="c5net-1")

Folder layout: c5desk-store.sqlite (WAL), objects/ab/<sha256>.png (frames and masks, content-addressed,
immutable), journal/frame-<id>.npz (unsaved edits). Nothing is ever deleted from the database: a new
annotation of a frame is a new revision, so history and audit stay complete. Files are written before
the row that names them is committed (see files.py), so every row points to a complete file.

One Store object may be used from several threads; several processes may use one folder at once (the
app saving while training reads): SQLite's WAL and busy timeout serialise writers without errors.
No Qt, no torch: the training process imports this too.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from c5desk.io.frame import Frame
from c5desk.io.ids import case_key, salt_fingerprint
from c5desk.store import rows, schema
from c5desk.store.annotating import AnnotatingMixin
from c5desk.store.db import Database
from c5desk.store.files import SWEEP_MIN_AGE_S, ObjectFiles
from c5desk.store.journal import Journal
from c5desk.store.learning import LearningMixin
from c5desk.store.records import FrameRecord, StoreError, check_token
from c5desk.store.versions import audit, to_json, utc_now

DATABASE = "c5desk-store.sqlite"


class Store(AnnotatingMixin, LearningMixin):
    def __init__(self, folder: Path, db: Database) -> None:
        """Use Store.create or Store.open."""
        self.folder = folder
        self._db = db
        self._files = ObjectFiles(folder)
        self._journal = Journal(folder)

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
        return cls._open_database(folder, new=True)

    @classmethod
    def open(cls, folder: str | Path, create: bool = False) -> Store:
        """Open an existing store (migrating an older schema); with create=True make it when missing."""
        folder = Path(folder)
        if not (folder / DATABASE).is_file():
            if create:
                return cls.create(folder)
            raise StoreError(f"{folder.name or folder}: not a c5desk store (no {DATABASE} in it)")
        store = cls._open_database(folder, new=False)
        store.sweep_orphans()
        return store

    @classmethod
    def _open_database(cls, folder: Path, new: bool) -> Store:
        db = Database(folder / DATABASE)
        try:
            with db.read() as conn:
                current = schema.current_version(conn)
            if current == schema.SCHEMA_VERSION:  # the usual case: no write lock taken to open
                return cls(folder, db)
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
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreError(f"{folder.name}: the store database is unreadable ({exc})") from exc
        except BaseException:
            db.close()
            raise
        return cls(folder, db)

    def close(self) -> None:
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

    # ---- frames ----------------------------------------------------------------------------------------
    def add_frame(
        self,
        frame: Frame,
        *,
        source_path: str | Path | None = None,
        case_key: str | None = None,
        split: str | None = None,
        group: str | None = None,
    ) -> int:
        """Store a frame (display pixels, model grey, calibration) and return its id.

        Idempotent on frame.source_id. The case is `case_key` (an opaque salted key), else derived from
        `source_path` (its DICOM study, else the file), else the frame alone. The path is never stored.
        """
        existing = self.frame_id_for(frame.source_id)
        if existing is not None:
            return existing
        pixels, grey = _checked_pixels(frame)
        key = case_key or self._case_key(frame, source_path)
        split, group = check_token(split, "split"), check_token(group, "group")
        image_file, grey_file = self._files.put(pixels), self._files.put(grey)
        scale = frame.mm_per_px
        with self._db.write() as conn:
            again = conn.execute("SELECT id FROM frames WHERE source_id = ?", (frame.source_id,)).fetchone()
            if again:  # another process added it meanwhile
                return int(again[0])
            conn.execute(
                "INSERT OR IGNORE INTO cases (case_key, created_utc) VALUES (?, ?)", (key, utc_now())
            )
            case_id = conn.execute("SELECT id FROM cases WHERE case_key = ?", (key,)).fetchone()[0]
            cursor = conn.execute(
                "INSERT INTO frames (case_id, source_id, frame_index, height, width, mm_per_px_x,"
                " mm_per_px_y, region, meta, image_file, grey_file, split, grp, added_utc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    case_id, frame.source_id, int(frame.index), grey.shape[0], grey.shape[1],
                    None if scale is None else float(scale[0]), None if scale is None else float(scale[1]),
                    rows.region_json(frame.region), to_json(dict(frame.meta)) or "{}",
                    image_file, grey_file, split, group, utc_now(),
                ),
            )  # fmt: skip
            frame_id = int(cursor.lastrowid)
            audit(conn, "add_frame", frame_id=frame_id, after={"case": rows.case_name(case_id)})
        return frame_id

    @staticmethod
    def _case_key(frame: Frame, source_path: str | Path | None) -> str:
        if source_path is not None:
            from c5desk.store.identity import case_key_for  # pydicom only when a file is named

            return case_key_for(source_path)
        return case_key(f"frame:{frame.source_id}")

    def frame_id_for(self, source_id: str) -> int | None:
        row = self._db.row("SELECT id FROM frames WHERE source_id = ?", (source_id,))
        return int(row[0]) if row else None

    def frame_record(self, frame_id: int) -> FrameRecord:
        row = self._db.row(f"{rows.FRAME_SQL} WHERE f.id = ?", (int(frame_id),))
        if row is None:
            raise StoreError(f"frame {frame_id} is not in this store")
        return rows.frame_record(row)

    def frames(self) -> list[FrameRecord]:
        return [rows.frame_record(row) for row in self._db.rows(f"{rows.FRAME_SQL} ORDER BY f.id")]

    def frame_image(self, frame_id: int) -> np.ndarray:
        """The stored display pixels (grey or RGB, uint8 or uint16), bit-identical to what was added."""
        return self._files.get(self.frame_record(frame_id).image_file)

    def frame(self, frame_id: int) -> Frame:
        """The stored frame rebuilt as a Frame (read-only arrays), for display, overlays or inference."""
        record = self.frame_record(frame_id)
        pixels, grey = self._files.get(record.image_file), self._files.get(record.grey_file)
        pixels.flags.writeable = grey.flags.writeable = False
        return Frame(
            pixels, grey, record.frame_index, record.mm_per_px, record.region, record.source_id, record.meta
        )

    def cases(self) -> list[dict[str, Any]]:
        """[{id, case, frames, annotated}] — display names only, the salted keys stay inside."""
        found = self._db.rows(
            "SELECT c.id, COUNT(DISTINCT f.id), COUNT(DISTINCT a.frame_id) FROM cases c"
            " LEFT JOIN frames f ON f.case_id = c.id LEFT JOIN annotations a ON a.frame_id = f.id"
            " GROUP BY c.id ORDER BY c.id"
        )
        return [{"id": r[0], "case": rows.case_name(r[0]), "frames": r[1], "annotated": r[2]} for r in found]

    # ---- integrity -------------------------------------------------------------------------------------
    def referenced_files(self) -> set[str]:
        found: set[str] = set()
        for sql in (
            "SELECT image_file FROM frames UNION SELECT grey_file FROM frames",
            "SELECT mask_file FROM annotations UNION SELECT mask_file FROM predictions",
        ):
            found.update(row[0] for row in self._db.rows(sql))
        return found

    def check(self) -> list[str]:
        """SQLite integrity and foreign-key problems and rows naming a missing file; [] when sound."""
        problems = self._db.integrity_problems()
        problems += [
            f"missing file {name}" for name in sorted(self.referenced_files()) if not self._files.exists(name)
        ]
        return problems

    def sweep_orphans(self, min_age_s: float = SWEEP_MIN_AGE_S) -> int:
        """Remove files no row names (left by a crash before commit) once older than min_age_s."""
        removed = self._files.sweep(self.referenced_files(), min_age_s)
        self._journal.sweep_temporaries()
        return removed

    def log_action(self, action: str, *, before: dict | None = None, after: dict | None = None) -> None:
        """Add an audit entry for work done outside the store's own methods (an export, an import)."""
        with self._db.write() as conn:
            audit(conn, action, before=before, after=after)


def _checked_pixels(frame: Frame) -> tuple[np.ndarray, np.ndarray]:
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
