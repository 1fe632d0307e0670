"""Reading frames from any path: still images, DICOM (multi-frame, colour, compressed) and video.

    with open_source("cine.dcm") as source:
        first = source.frame(0)          # decodes frame 0 only
        for frame in source: ...         # lazily, one frame at a time

Every failure a user can cause (missing, empty, corrupt, unsupported, too large) is a ReadError with a
one-line message. This package never imports torch or Qt.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from c5desk.errors import ReadError
from c5desk.io.dicom import DicomSource
from c5desk.io.dicom_header import DICOM_SUFFIXES, looks_like_dicom
from c5desk.io.frame import Frame, Region
from c5desk.io.images import IMAGE_SUFFIXES, ImageSource
from c5desk.io.limits import MAX_IMAGE_FILE_BYTES, MAX_PIXELS_PER_FRAME
from c5desk.io.source import Source, one_line
from c5desk.io.video import VIDEO_SUFFIXES, VideoSource

__all__ = [
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
            if path.stat().st_size > MAX_IMAGE_FILE_BYTES:
                raise ReadError(f"{path.name}: file is too large for an image ({path.stat().st_size} bytes)")
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
        if path.is_dir():
            raise ReadError(f"{name}: is a folder, not a file")
        if path.exists() and not path.is_file():
            raise ReadError(f"{name}: not a regular file (a device or a pipe?)")
        with path.open("rb") as stream:
            head = stream.read(132)
    except FileNotFoundError as exc:
        raise ReadError(f"{name}: no such file") from exc
    except PermissionError as exc:
        raise ReadError(f"{name}: permission denied") from exc
    except OSError as exc:
        raise ReadError(f"{name}: cannot be read ({one_line(exc)})") from exc
    if not head:
        raise ReadError(f"{name}: file is empty (0 bytes)")
    return head


def iter_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named directly, then the readable files inside named folders (recursively, in natural order).

    Inside folders a file counts when its suffix is supported or, without a suffix, it starts like DICOM;
    hidden files and DICOMDIR indexes are skipped. Each file is yielded once.
    """
    seen: set[Path] = set()
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found = sorted(_walk(path), key=_natural_key)
        elif path.exists():
            found = [path]
        else:
            raise ReadError(f"{path.name or path}: no such file or folder")
        for file in found:
            resolved = file.resolve()
            if resolved not in seen:
                seen.add(resolved)
                yield file


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            file = Path(root, name)
            if not name.startswith(".") and name.upper() != "DICOMDIR" and _is_readable_kind(file):
                yield file


def _is_readable_kind(file: Path) -> bool:
    suffix = file.suffix.lower()
    if suffix in SUPPORTED_SUFFIXES:
        return True
    if suffix:
        return False
    try:
        with file.open("rb") as stream:
            return looks_like_dicom(stream.read(132))
    except OSError:
        return False


def _natural_key(path: Path) -> list[object]:
    """'frame2' before 'frame10'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]
