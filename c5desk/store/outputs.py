"""An export's output folder: checked before any work, and the staging folders of killed exports swept.

What `--out` may be (decided here, and told in one line otherwise):
- a new name in an existing, writable folder, or an existing empty folder;
- never a symbolic link, even to an empty folder: publishing renames the finished export onto the name,
  which would replace the link rather than fill the folder it points to, and writing through the link
  would put the export somewhere the user did not name. The parent folder may itself be reached through a
  link (macOS's /tmp is one): that is the place the user named;
- never a file, a non-empty folder, or a name under a missing folder: parents are not created, so a typo
  in the path fails at once instead of leaving a tree of new folders.

An export is assembled in a hidden `.partial-*` sibling (fsio.StagedFolder) holding a marker with the
writing process's id and host. A killed export leaves that folder behind; the next export into the same
parent removes every one whose process is gone (same host) or, where that cannot be told (another host,
Windows), whose marker is older than STALE_AFTER_S. Folders without our marker are never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

from c5desk.store.records import StoreError

MARKER = ".c5desk-export"
STAGING_PREFIX = ".partial-"  # fsio.temporary_sibling(final, "partial")
STALE_AFTER_S = 24 * 3600.0


def check_output_folder(out: Path) -> Path:
    """`out` when an export may be published there; StoreError naming what is wrong otherwise."""
    name = out.name or str(out)
    if out.is_symlink():
        raise StoreError(f"{name}: is a symbolic link; give the folder it points to, or a new name")
    if out.exists() and not out.is_dir():
        raise StoreError(f"{name}: is a file, not a folder; choose a new output folder")
    if out.is_dir() and any(out.iterdir()):
        raise StoreError(f"{name}: exists and is not an empty folder; choose a new output folder")
    parent = out.absolute().parent
    if not parent.exists():
        raise StoreError(f"{name}: the folder to hold it, {parent}, does not exist (it is not created)")
    if not parent.is_dir():
        raise StoreError(f"{name}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"{name}: no permission to write in {parent}")
    return out


def mark_export(staging: Path) -> None:
    """Say in the staging folder which process writes it, so a later export can tell when it was left."""
    marker = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    (staging / MARKER).write_text(json.dumps(marker), encoding="utf-8")


def unmark_export(staging: Path) -> None:
    (staging / MARKER).unlink(missing_ok=True)


def sweep_stale_exports(parent: Path) -> int:
    """Remove the staging folders that killed exports left in `parent`; how many went."""
    try:
        entries = [entry for entry in parent.iterdir() if entry.name.startswith(STAGING_PREFIX)]
    except OSError:
        return 0
    removed = 0
    for entry in entries:
        if not entry.is_symlink() and entry.is_dir() and _abandoned(entry / MARKER):
            shutil.rmtree(entry, ignore_errors=True)
            removed += not entry.exists()
    return removed


def _abandoned(marker: Path) -> bool:
    try:
        written = json.loads(marker.read_text(encoding="utf-8"))
        pid, host, age = int(written["pid"]), str(written["host"]), time.time() - marker.stat().st_mtime
    except (OSError, ValueError, KeyError, TypeError):
        return False  # not ours, or being written: leave it
    alive = process_alive(pid) if host == socket.gethostname() else None
    return alive is False or (alive is None and age > STALE_AFTER_S)


def process_alive(pid: int) -> bool | None:
    """Whether a process of this machine runs with `pid`; None where that cannot be told safely."""
    if pid == os.getpid():
        return True
    if os.name == "nt" or pid <= 0:
        return None  # os.kill on Windows would terminate the process, not probe it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OSError:
        return None
    return True
