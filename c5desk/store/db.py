"""One SQLite connection with the store's settings and explicit, nestable transactions.

- WAL: readers never block the writer nor each other, so the app can save while training reads.
- synchronous=FULL: a committed annotation survives a power cut, not only a killed process.
- busy_timeout: a second process waits for the write lock instead of failing with "database is locked";
  writes start with BEGIN IMMEDIATE so a transaction never has to upgrade a read lock (which SQLite
  could only answer with SQLITE_BUSY, whatever the timeout).
- Nested write() blocks become savepoints: an inner failure undoes only the inner block.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from c5desk.store.records import StoreError

BUSY_TIMEOUT_S = 60.0


class Database:
    def __init__(self, path: Path, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        try:
            self._conn = sqlite3.connect(
                path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path.name}: not a readable store database ({exc})") from exc
        self._lock = threading.RLock()
        self._depth = 0

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (or a savepoint inside one): committed on success, undone on any error."""
        with self._lock:
            depth = self._depth
            begin, commit, undo = (
                ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
                if depth == 0
                else (f"SAVEPOINT s{depth}", f"RELEASE s{depth}", f"ROLLBACK TO s{depth}; RELEASE s{depth}")
            )
            self._run(begin)
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if self._conn.in_transaction:  # SQLite may already have rolled back (disk full, I/O error)
                    for statement in undo.split("; "):
                        self._conn.execute(statement)
                raise
            self._depth -= 1
            try:
                self._run(commit)
            except BaseException:
                if depth == 0 and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries (inside a write: that transaction's view)."""
        with self._lock:
            if self._depth:
                yield self._conn
                return
            self._run("BEGIN")
            self._depth += 1
            try:
                yield self._conn
            finally:
                self._depth -= 1
                self._conn.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.read() as conn:
            return conn.execute(sql, params).fetchall()

    def row(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def integrity_problems(self) -> list[str]:
        """PRAGMA integrity_check and foreign_key_check; an empty list when the database is sound."""
        with self._lock:
            result = [row[0] for row in self._conn.execute("PRAGMA integrity_check")]
            problems = [] if result == ["ok"] else result
            for table, rowid, parent, _ in self._conn.execute("PRAGMA foreign_key_check"):
                problems.append(f"{table} row {rowid} refers to a missing {parent} row")
        return problems

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _run(self, statement: str) -> None:
        try:
            self._conn.execute(statement)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path.name}: {exc}") from exc
