"""A received object: checked whole before the sender hears "stored", then its frames imported.

check_received runs in the association's thread, before the answer: the object must be an ultrasound (or
screen-capture) image whose every frame decodes, so that a corrupt or foreign object is refused with a
DIMSE status rather than accepted and lost later. import_received runs on the node's worker: each frame is
added as `c5desk import` adds it, burned-in identity blanked (Frames.add), its case a salted key of the
study, no name, UID or path kept; its meta records that it came over DICOM, from which calling AE title and
when (UTC), nothing about the patient. Adding is idempotent: an object sent twice is stored once.

Statuses (PS3.4 B.2.3): 0xA700 out of resources (over a size limit, disk full), 0xA900 not an ultrasound
image (an SR, a CT, no pixel data), 0xC000 cannot understand (corrupt, undecodable), 0x0110 anything
unforeseen. The comment is one short line for the sender's log, without the file's name.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from pydicom import uid

from c5desk.errors import C5Error, ReadError
from c5desk.io import open_source
from c5desk.io.dicom_header import read_header
from c5desk.io.source import Source
from c5desk.store import Store
from c5desk.store.identity import case_key_for

RECEIVED = "received"  # frame meta key: {"via", "calling_ae", "time_utc"}
OUT_OF_RESOURCES, NOT_AN_IMAGE, CANNOT_UNDERSTAND, PROCESSING_FAILURE = 0xA700, 0xA900, 0xC000, 0x0110
COMMENT_CHARS = 64  # Error Comment is LO: at most 64 characters
ULTRASOUND_CLASSES = frozenset(
    {
        uid.UltrasoundImageStorage,
        uid.UltrasoundMultiFrameImageStorage,
        "1.2.840.10008.5.1.4.1.1.6",  # Ultrasound Image Storage (retired)
        "1.2.840.10008.5.1.4.1.1.3",  # Ultrasound Multi-frame Image Storage (retired)
        uid.SecondaryCaptureImageStorage,  # a scanner's or workstation's screen capture
        uid.MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
        uid.MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
        uid.MultiFrameTrueColorSecondaryCaptureImageStorage,
    }
)
_OVER_A_LIMIT = re.compile(r"over the .* limit|not enough memory")


class Refusal(Exception):
    """A received object that is not stored: the DIMSE status and comment to answer with."""

    def __init__(self, status: int, comment: str) -> None:
        super().__init__(comment)
        self.status = status
        self.comment = comment[:COMMENT_CHARS]


def check_received(path: Path, max_frames: int | None = None) -> int:
    """How many frames of the file at `path` will be imported; Refusal when it must not be accepted."""
    try:
        check_ultrasound_image(path)
        with open_source(path) as source:
            count = _count(source, max_frames)
            check_frames(source, count)
            return count
    except ReadError as exc:
        raise refusal_for(exc, path.name) from exc


def import_received(
    store: Store, path: Path, calling_ae: str, received_utc: str, max_frames: int | None = None
) -> tuple[int, ...]:
    """The store's ids of the frames of the received file at `path` (added unless already there)."""
    try:
        with open_source(path) as source:
            key = case_key_for(path)
            stamp = {"via": "DICOM C-STORE", "calling_ae": calling_ae, "time_utc": received_utc}
            ids = []
            for index in range(_count(source, max_frames)):
                frame = source.frame(index)
                frame = replace(frame, meta={**frame.meta, RECEIVED: stamp})
                ids.append(store.add_frame(frame, case_key=key))
            return tuple(ids)
    except ReadError as exc:
        raise refusal_for(exc, path.name) from exc
    except (C5Error, ValueError) as exc:  # the store refused a frame (e.g. pixels it cannot keep)
        raise Refusal(CANNOT_UNDERSTAND, _without(path.name, str(exc))) from exc


def check_ultrasound_image(path: Path) -> None:
    """Refusal(0xA900) unless the file is an image of an ultrasound or screen-capture SOP class."""
    ds, pixel = read_header(path)
    sop_class = uid.UID(str(ds.get("SOPClassUID", "") or ""))
    label = sop_class.name if sop_class else "no SOP class"
    if pixel is None:
        raise Refusal(NOT_AN_IMAGE, f"not an image ({label})")
    if sop_class not in ULTRASOUND_CLASSES and str(ds.get("Modality", "")).strip().upper() != "US":
        raise Refusal(NOT_AN_IMAGE, f"not an ultrasound image ({label})")


def check_frames(source: Source, count: int) -> None:
    """Decode every frame to be imported: a corrupt object is refused before anything is stored."""
    for index in range(count):
        declared = source.frame(index).meta.get("declared_frames")
        if declared is not None:  # the reader keeps what arrived of a cut file; a C-STORE must be whole
            raise Refusal(CANNOT_UNDERSTAND, f"pixel data holds {len(source)} of {declared} frames")


def refusal_for(exc: ReadError, name: str) -> Refusal:
    message = _without(name, str(exc))
    if _OVER_A_LIMIT.search(message):
        return Refusal(OUT_OF_RESOURCES, message)
    return Refusal(CANNOT_UNDERSTAND, message)


def _count(source: Source, max_frames: int | None) -> int:
    return len(source) if max_frames is None else min(len(source), max_frames)


def _without(name: str, message: str) -> str:
    """The reader's message without the inbox file's name it starts with."""
    return message.removeprefix(f"{name}: ").strip() or "unreadable"
