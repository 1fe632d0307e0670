"""The inbox: every received object on disk, whole, before the sender hears "stored".

A C-STORE's dataset is written with its file meta under a hidden temporary name, fsynced and renamed into
place (fsio.write_atomic), so the inbox never holds half an object: a peer that drops the connection
mid-transfer never reaches the handler, and a crash while writing leaves only a temporary, removed at the
next start. A file stays until its frames are imported, scored and their results queued for forwarding;
one left by a crash is taken up again at the next start (importing is idempotent), so nothing acknowledged
is lost. The calling AE title (hex) and the time received travel in the name, for the frames' provenance.

Received files carry the patient's identity: they live only as long as that work takes.
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from c5desk.fsio import TEMP_PREFIX, is_hidden, write_atomic

SUFFIX = ".dcm"
STALE_TEMPORARY_S = 3600.0  # a temporary this old belongs to no live transfer
_sequence = itertools.count()


class Inbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, data: bytes, calling_ae: str) -> Path:
        """Keep one received object (preamble, file meta and dataset); OSError when the disk refuses."""
        name = f"r{time.time_ns():020d}-{next(_sequence):06d}-{calling_ae.encode('ascii').hex()}{SUFFIX}"
        path = self.folder / name
        write_atomic(path, data)
        return path

    def pending(self) -> list[Path]:
        """Received files not yet done with, oldest first."""
        try:
            found = [Path(entry.path) for entry in os.scandir(self.folder) if entry.is_file()]
        except FileNotFoundError:
            return []
        return sorted(path for path in found if not is_hidden(path) and path.suffix == SUFFIX)

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def sweep_temporaries(self, min_age_s: float = STALE_TEMPORARY_S) -> int:
        """Remove writes interrupted by a crash (hidden temporaries older than min_age_s)."""
        removed, cutoff = 0, time.time() - min_age_s
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.name.startswith(TEMP_PREFIX) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
        return removed


def provenance(path: Path) -> tuple[str, str]:
    """(calling AE title, UTC time received) of a file as Inbox.write named it; ('', '') when unknown."""
    try:
        stamp, _sequence_number, ae_hex = path.stem.split("-")
        when = datetime.fromtimestamp(int(stamp[1:]) / 1e9, UTC).isoformat(timespec="seconds")
        return bytes.fromhex(ae_hex).decode("ascii"), when
    except (ValueError, OverflowError, OSError):
        return "", ""
