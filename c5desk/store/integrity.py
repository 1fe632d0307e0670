"""Integrity part of the store: checking that every row's file is there, and sweeping crash leftovers.

Files are written before the row naming them is committed (see files.py), so a crash can leave files no
row names but never a row without its file; check() reports the latter should it happen anyway (a
file deleted or a disk restored by hand), sweep() removes the former once surely abandoned: at once when
the store is opened while no other Store has it open (a killed import's PNGs go on the next run), else
once they are a day old.
"""

from __future__ import annotations

from c5desk.store.db import Database
from c5desk.store.files import SWEEP_MIN_AGE_S, ObjectFiles
from c5desk.store.journal import TEMPORARY_MIN_AGE_S, Journal

# (table, column) naming object files; a table an older schema lacks (a store being built at an old version
# in a migration test) names none
_REFERENCES = (
    ("frames", "image_file"), ("frames", "grey_file"), ("annotations", "mask_file"),
    ("predictions", "mask_file"), ("lesions", "mask_file"),
)  # fmt: skip


class Integrity:
    """Spans every table naming a file, so it reads the database directly rather than through the parts."""

    def __init__(self, db: Database, files: ObjectFiles, journal: Journal) -> None:
        self._db = db
        self._files = files
        self._journal = journal

    def referenced_files(self) -> set[str]:
        tables = {row[0] for row in self._db.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
        found: set[str] = set()
        for table, column in _REFERENCES:
            if table in tables:
                found.update(row[0] for row in self._db.rows(f"SELECT {column} FROM {table}"))
        return found

    def check(self) -> list[str]:
        """SQLite integrity and foreign-key problems and rows naming a missing file; [] when sound."""
        problems = self._db.integrity_problems()
        problems += [
            f"missing file {name}" for name in sorted(self.referenced_files()) if not self._files.exists(name)
        ]
        return problems

    def sweep_orphans(self, min_age_s: float = SWEEP_MIN_AGE_S) -> int:
        """Remove files no row names (left by a crash before commit) once older than min_age_s, and the
        journal's interrupted writes; min_age_s=0 only when no other Store has the folder open (presence.py),
        so that no writer can be between writing a file and committing its row."""
        removed = self._files.sweep(self.referenced_files(), min_age_s)
        self._journal.sweep_temporaries(min(min_age_s, TEMPORARY_MIN_AGE_S))
        return removed
