"""Reading frames from any path: still images, DICOM (multi-frame, colour, compressed) and video.

    with open_source("cine.dcm") as source:
        first = source.frame(0)          # decodes frame 0 only
        for frame in source: ...         # lazily, one frame at a time

Every failure a user can cause (missing, empty, corrupt, unsupported, too large) is a ReadError with a
one-line message. This package never imports torch or Qt.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from c5desk.errors import ReadError
from c5desk.io.dicom import DicomSource
from c5desk.io.dicom_header import DICOM_SUFFIXES, looks_like_dicom
from c5desk.io.frame import Frame, Region
from c5desk.io.images import IMAGE_SUFFIXES, ImageSource
from c5desk.io.limits import MAX_DECODE_BYTES, MAX_IMAGE_FILE_BYTES, MAX_PIXELS_PER_FRAME, MiB
from c5desk.io.source import Source, one_line
from c5desk.io.video import VIDEO_SUFFIXES, VideoSource

__all__ = [
    "MAX_DECODE_BYTES",
    "MAX_PIXELS_PER_FRAME",
    "SUPPORTED_SUFFIXES",
    "Frame",
    "ReadError",
    "Region",
    "Source",
    "iter_paths",
    "open_source",
]

SUPPORTED_SUFFIXES = IMAGE_SUFFIXES | DICOM_SUFFIXES | VIDEO_SUFFIXES


def open_source(path: str | os.PathLike[str]) -> Source:
    """Open a file as frames, whatever it holds; ReadError with a one-line reason when it cannot."""
    path = Path(path)
    head = _check_file(path)
    suffix = path.suffix.lower()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if looks_like_dicom(head) or suffix in DICOM_SUFFIXES:
                return DicomSource(path)
            if suffix in VIDEO_SUFFIXES:
                return VideoSource(path)
            size = path.stat().st_size
            if size > MAX_IMAGE_FILE_BYTES:
                raise ReadError(
                    f"{path.name}: file is too large for an image ({size / MiB:.0f} MB, over the "
                    f"{MAX_IMAGE_FILE_BYTES / MiB:.0f} MB limit)"
                )
            return ImageSource(path, path.read_bytes())
    except ReadError:
        raise
    except MemoryError as exc:
        raise ReadError(f"{path.name}: not enough memory to open it") from exc
    except Exception as exc:
        raise ReadError(f"{path.name}: cannot be read ({one_line(exc)})") from exc


def _check_file(path: Path) -> bytes:
    """The first bytes of a readable, non-empty regular file (or a ReadError saying why not)."""
    name = path.name or str(path)
    try:
        mode = path.stat().st_mode  # follows links: ELOOP / ENOENT for a broken one
        if stat.S_ISDIR(mode):
            _check_folder(path, name)
        if not stat.S_ISREG(mode):
            raise ReadError(f"{name}: not a regular file (a device or a pipe?)")
        with path.open("rb") as stream:
            head = stream.read(132)
    except OSError as exc:
        raise ReadError(f"{name}: {_os_reason(path, exc)}") from exc
    if not head:
        raise ReadError(f"{name}: file is empty (0 bytes)")
    return head


def _check_folder(path: Path, name: str) -> None:
    """Always a ReadError: a folder that cannot be listed says so, others that they are folders."""
    try:
        with os.scandir(path):
            pass
    except PermissionError as exc:
        raise ReadError(f"{name}: folder cannot be opened (permission denied)") from exc
    raise ReadError(f"{name}: is a folder, not a file")


def _os_reason(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(exc, FileNotFoundError):
        return "broken symbolic link (its target is missing)" if path.is_symlink() else "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot be read ({one_line(exc)})"


def iter_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named directly, then the readable files inside named folders (recursively, in natural order).

    Inside folders a file counts when its suffix is supported or, without a suffix, it starts like DICOM;
    hidden files and DICOMDIR indexes are skipped. Each file is yielded once. Linked folders are followed,
    each real folder once (a link to a parent cannot loop).

    Walking never fails for one bad entry: a broken link or a link loop, a file that cannot be opened to
    see whether it is DICOM, and a subfolder that cannot be listed (permission denied) are yielded as they
    are, so that opening them gives a one-line ReadError naming them (callers turn it into an error row).
    Only a named path that does not exist at all raises ReadError here.
    """
    seen: set[Path] = set()
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found = sorted(_walk(path), key=_natural_key)
        elif path.exists() or path.is_symlink():
            found = [path]
        else:
            raise ReadError(f"{path.name or path}: no such file or folder")
        for file in found:
            key = _identity(file)
            if key not in seen:
                seen.add(key)
                yield file


def _identity(path: Path) -> Path:
    """The real path, or the absolute one when it cannot be resolved (a link loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # Python < 3.13 raises RuntimeError for a loop
        return Path(os.path.abspath(path))


def _walk(folder: Path) -> Iterator[Path]:
    """Depth first over real folders, each once; entries that cannot be read are yielded (see iter_paths)."""
    pending, visited = [folder], set()
    while pending:
        current = pending.pop()
        try:
            info = current.stat()
            if (info.st_dev, info.st_ino) in visited:
                continue
            visited.add((info.st_dev, info.st_ino))
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError:
            if current != folder:
                yield current  # opening it says why it cannot be listed
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_folder(entry):
                pending.append(Path(entry.path))
            elif entry.name.upper() != "DICOMDIR" and _is_readable_kind(entry):
                yield Path(entry.path)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows links; False for a broken one
    except OSError:
        return False


def _is_readable_kind(entry: os.DirEntry[str]) -> bool:
    suffix = Path(entry.name).suffix.lower()
    if suffix in SUPPORTED_SUFFIXES:
        return True
    if suffix:
        return False
    try:
        if not entry.is_file():  # never open a pipe or device to peek (it could block)
            return entry.is_symlink()  # a broken link or a loop: cannot tell, so let opening say why
        with open(entry.path, "rb") as stream:
            return looks_like_dicom(stream.read(132))
    except OSError:
        return True  # cannot tell (no access): yielded so that opening it says why


def _natural_key(path: Path) -> list[object]:
    """'frame2' before 'frame10'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]
