"""Salted keys derived from source files, and finding a stored frame's DICOM file again at export time.

The store keeps no UID and no path. A case is keyed by a salted hash of the DICOM Study Instance UID (or
of the file's bytes for other files); a frame by the io package's salted source id. To reference the
original DICOM image (DICOM SEG with --keep-identity), the user points at the files again and their
source ids are recomputed here, exactly as c5desk.io.dicom computes them, and matched.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom

from c5desk.errors import ReadError
from c5desk.io import iter_paths, open_source
from c5desk.io.dicom_header import looks_like_dicom
from c5desk.io.ids import case_key, file_digest, salt_fingerprint, source_id
from c5desk.store.records import StoreError


@dataclass(frozen=True)
class DicomFrameRef:
    """Where a stored frame's pixels came from: a DICOM file and the 0-based frame in it."""

    path: Path
    frame_index: int
    number_of_frames: int


def _is_dicom(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            head = stream.read(132)
    except OSError:
        return False
    return looks_like_dicom(head) or path.suffix.lower() in (".dcm", ".dicom")


def _header(path: Path) -> pydicom.Dataset | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception:
        return None


def case_key_for(path: str | Path) -> str:
    """The salted case key of a file: its DICOM study when it has one, else the file's own bytes.

    Remembered per (path, size, mtime), so adding the frames of a long video one by one hashes it once.
    """
    path = Path(path)
    try:
        stat = path.stat()
        return _case_key_cached(str(path), stat.st_size, stat.st_mtime_ns, salt_fingerprint())
    except OSError as exc:
        raise StoreError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc


@functools.lru_cache(maxsize=256)
def _case_key_cached(name: str, _size: int, _mtime_ns: int, _salt: str) -> str:
    path = Path(name)
    header = _header(path) if _is_dicom(path) else None
    study = str(header.get("StudyInstanceUID", "") or "").strip() if header is not None else ""
    if study:
        return case_key(f"dicom-study:{study}")
    return case_key(b"file-sha256:" + file_digest(path))


def dicom_source_key(header: pydicom.Dataset, path: Path) -> bytes:
    """The identity c5desk.io.dicom hashes into source ids: the SOP Instance UID, else the file bytes."""
    uid = str(header.get("SOPInstanceUID", "") or "").strip()
    return f"dicom-sop:{uid}".encode() if uid else b"file-sha256:" + file_digest(path)


def index_dicom_sources(paths: list[str | Path]) -> dict[str, DicomFrameRef]:
    """source id -> (file, frame) for every frame of every DICOM file under `paths` (first file wins)."""
    index: dict[str, DicomFrameRef] = {}
    for path in iter_paths(paths):
        if not _is_dicom(path):
            continue
        header = _header(path)
        if header is None or "Rows" not in header:
            continue
        key = dicom_source_key(header, path)
        try:  # the header's Number of Frames can lie; the reader counts the frames the pixel data holds
            with open_source(path) as source:
                frames = len(source)
        except ReadError:
            continue
        for frame in range(frames):
            index.setdefault(source_id(key, frame), DicomFrameRef(path, frame, frames))
    return index
