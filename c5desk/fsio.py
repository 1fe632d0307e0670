"""Writing files and folders so that a crash at any instant leaves the old state or the new one, never a mix.

Every writer of user data goes through here: settings, dataset objects and journal, exports, bundles,
checkpoints, result CSVs. A file is written under a hidden temporary name beside its target, fsynced,
renamed over the target and its folder fsynced; a folder is assembled as a hidden sibling and renamed into
place the same way. Temporary names start with a dot, so folder scans (the model catalogue, the store's
sweep) can tell them from finished work.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def temporary_sibling(path: Path, tag: str = "tmp") -> Path:
    """A hidden name beside `path`, unique to this process and moment."""
    return path.with_name(f".{tag}-{os.getpid()}-{time.monotonic_ns()}-{path.name}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; when the block succeeds it is fsynced and renamed to `path`.

    For writers that need a file name (safetensors, cv2, csv); ``write_atomic`` covers plain bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_sibling(path)
    try:
        yield temporary
        fsync_file(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_folder(path.parent)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace `path` with `data`: readers see the old content or the new, never part of it."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def fsync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


class StagedFolder:
    """A hidden sibling folder that becomes `final` when published (or when its `with` block succeeds).

    `final` must not exist, or be an empty folder (one the user made for the output): FileExistsError
    otherwise, raised by the constructor before anything is written; other OSErrors pass through.

        with StagedFolder(out) as staging:   # staging: a Path to fill
            ...
    """

    def __init__(self, final: str | Path) -> None:
        self.final = Path(final)
        if self.final.exists() and (not self.final.is_dir() or any(self.final.iterdir())):
            raise FileExistsError(f"{self.final} already exists and is not an empty folder")
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = temporary_sibling(self.final, "partial")
        self.path.mkdir()

    def publish(self) -> Path:
        try:
            _fsync_tree(self.path)
            if self.final.is_dir():
                self.final.rmdir()  # the empty placeholder; fails (and we stop) if written to meanwhile
            os.rename(self.path, self.final)
        except BaseException:
            self.discard()
            raise
        fsync_folder(self.final.parent)
        return self.final

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        if kind is None:
            self.publish()
        else:
            self.discard()


def _fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fsync_file(Path(root) / name)
        fsync_folder(Path(root))


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_hidden(path: Path) -> bool:
    """Temporary and staging names (and other dot-files) are never finished work."""
    return path.name.startswith(".")


@contextmanager
def locked(lock_file: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file` (created if needed) for a read-modify-write between processes."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as handle:
        _lock(handle)
        try:
            yield
        finally:
            _unlock(handle)


if os.name == "nt":
    import msvcrt

    def _lock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)  # retries for 10 s, then raises OSError

    def _unlock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)

    def _unlock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
