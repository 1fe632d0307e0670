"""Content-addressed PNG objects: frames, masks and prediction masks under objects/ab/<sha256>.png.

A file is written to a unique temporary name, fsynced, renamed into place and its folder fsynced, and
only then may a database row name it: a row can never point to a half-written file. Because the name is
the SHA-256 of the bytes, identical content is stored once, an existing file is complete by construction,
and a reader can verify what it got.

Crashes between writing a file and committing its row leave unreferenced files; sweep() removes them once
they are old enough that no live writer can still be about to commit a row naming them.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from c5desk.fsio import write_atomic
from c5desk.store.records import StoreError

OBJECTS = "objects"
# objects/ab/<sha256>.png, or a temporary of one (fsio.temporary_sibling: .tmp-<pid>-<ns>-<name>)
_OWN_NAME = re.compile(r"^objects/([0-9a-f]{2})/(?:\.tmp-\d+-\d+-)?\1[0-9a-f]{62}\.png$")
# A writer commits its row milliseconds after writing the file; a day leaves any live one far behind.
SWEEP_MIN_AGE_S = 24 * 3600.0


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of grey (H, W) or RGB (H, W, 3) uint8/uint16 pixels."""
    array = np.ascontiguousarray(image)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise StoreError(f"cannot encode a {image.dtype} array of shape {image.shape} as PNG")
    return encoded.tobytes()


def decode_png(data: bytes, what: str) -> np.ndarray:
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise StoreError(f"{what} is not a readable PNG")
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    return array


class ObjectFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, image: np.ndarray) -> str:
        """Store pixels as a PNG object; return its path relative to the store folder."""
        data = encode_png(image)
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{OBJECTS}/{digest[:2]}/{digest}.png"
        path = self.root / relative
        if path.exists():
            os.utime(path)  # freshly used: keeps it clear of a concurrent sweep of old orphans
        else:
            write_atomic(path, data)
        return relative

    def put_mask(self, mask: np.ndarray) -> str:
        return self.put(np.where(mask, 255, 0).astype(np.uint8))

    def get(self, relative: str) -> np.ndarray:
        """The pixels of an object, verified against the hash in its name."""
        path = self.root / relative
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise StoreError(f"store file {relative} is missing") from exc
        except OSError as exc:
            raise StoreError(f"store file {relative} cannot be read ({exc.strerror})") from exc
        if hashlib.sha256(data).hexdigest() != Path(relative).stem:
            raise StoreError(f"store file {relative} is corrupt (its content does not match its hash)")
        return decode_png(data, f"store file {relative}")

    def get_mask(self, relative: str) -> np.ndarray:
        return self.get(relative) > 0

    def exists(self, relative: str) -> bool:
        return os.path.isfile(os.path.join(self.root, relative))

    def all_files(self) -> list[str]:
        """Every file under objects/ (temporaries included), as paths relative to the store folder."""
        found = []
        try:
            shards = [entry for entry in os.scandir(self.root / OBJECTS) if entry.is_dir()]
        except FileNotFoundError:
            return []
        for shard in shards:  # os.scandir, not pathlib: stores hold tens of thousands of files
            found.extend(
                f"{OBJECTS}/{shard.name}/{entry.name}" for entry in os.scandir(shard.path) if entry.is_file()
            )
        return sorted(found)

    def sweep(self, referenced: Iterable[str], min_age_s: float = SWEEP_MIN_AGE_S) -> int:
        """Delete unreferenced objects and their temp files older than min_age_s; return how many went.

        Only names this class writes are touched (objects/ab/<sha256>.png and fsio's temporaries of them):
        anything else someone put under objects/ stays. min_age_s=0 (no other Store open) takes them all.
        """
        keep = set(referenced)
        cutoff = time.time() - min_age_s
        removed = 0
        for relative in self.all_files():
            if relative in keep or not _OWN_NAME.match(relative):
                continue
            path = os.path.join(self.root, relative)
            try:
                if min_age_s <= 0 or os.stat(path).st_mtime < cutoff:
                    os.unlink(path)
                    removed += 1
            except OSError:  # gone meanwhile, or a read-only store: nothing to sweep
                continue
        return removed
