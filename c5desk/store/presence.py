"""Which Store objects have a store folder open, so that what a killed one left can be swept at once.

Every open Store holds an exclusive OS lock on its own file, .c5desk-locks/open-<pid>-<n>; the OS drops
the lock when the process ends, however it ends. Opening a store takes the folder's gate lock
(fsio.locked on .c5desk-locks/gate), tries each other open-* file: a lock it can take belongs to a
process that is gone (the file is removed); one it cannot take belongs to a live Store. Then, still under
the gate, it sweeps -- everything a crash left when no other Store is open, else only what is old enough
(files.SWEEP_MIN_AGE_S) -- and registers its own file. A Store opening meanwhile waits at the gate, so no
writer can start between the check and the sweep.

A store on a read-only disk, or one whose lock folder cannot be made, is opened without a presence
file; it is then never swept at once (only the age rule applies, to what can be deleted at all).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from c5desk.fsio import locked

LOCKS = ".c5desk-locks"
GATE = "gate"
PREFIX = "open-"
_numbers = itertools.count()


class Presence:
    """This Store's lock file, held until release()."""

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def enter(cls, folder: Path, sweep: Callable[[bool], object]) -> Presence | None:
        """Call sweep(alone) under the gate, alone telling that no other Store has `folder` open, then
        register this one; None when the lock folder cannot be used (sweep(False) is still called)."""
        locks = folder / LOCKS
        try:
            locks.mkdir(exist_ok=True)
            with locked(locks / GATE):
                sweep(_alone(locks))
                return cls._register(locks)
        except OSError:
            sweep(False)
            return None

    @classmethod
    def _register(cls, locks: Path) -> Presence:
        path = locks / f"{PREFIX}{os.getpid()}-{next(_numbers)}"
        handle = open(path, "a+b")  # noqa: SIM115 - held open (and locked) for the Store's lifetime
        if not try_lock(handle):
            handle.close()
            raise OSError(f"cannot lock {path.name}")
        return cls(path, handle)

    def release(self) -> None:
        """Unlock and remove the file (a crash skips this: the OS unlocks, the next opener removes it)."""
        with contextlib.suppress(OSError):
            unlock(self._handle)
        self._handle.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def _alone(locks: Path) -> bool:
    """Whether no live Store holds its file; files of Stores that are gone are removed on the way."""
    alone = True
    for path in locks.glob(f"{PREFIX}*"):
        try:
            with open(path, "a+b") as handle:
                taken = try_lock(handle)
                if taken:
                    unlock(handle)
        except OSError:
            alone = False
            continue
        if taken:
            with contextlib.suppress(OSError):
                path.unlink()  # its process is gone
        else:
            alone = False
    return alone


if os.name == "nt":
    import msvcrt

    def try_lock(handle: BinaryIO) -> bool:
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock(handle: BinaryIO) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def try_lock(handle: BinaryIO) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(handle: BinaryIO) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
