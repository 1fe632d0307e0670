"""Send to PACS: chosen frames' results (DICOM SEG + SR) to a DICOM peer, on demand.

Used by File → Send to PACS… and `c5desk send`. De-identified by default: each frame's results come with a
de-identified Secondary Capture of the stored frame, which they reference (no source file is read, so no
identity can leak). Given `dicom_sources` (the original files, as for the dicom-seg export's
--keep-identity), the results reference the matching original image and carry its patient and study;
frames without a match are reported and not sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pydicom

from c5desk.errors import C5Error
from c5desk.node.config import DEFAULT_AE_TITLE, Destination
from c5desk.node.scu import Failure, SendReport, send_datasets
from c5desk.store import Store
from c5desk.store.dicom_results import dicom_results
from c5desk.store.identity import DicomFrameRef, index_dicom_sources


def sendable_frames(store: Store, cases: Iterable[str] | None = None) -> list[int]:
    """Frames with something to report (an annotation or a prediction), of the named cases if given."""
    wanted = None if cases is None else set(cases)
    return [
        record.id
        for record in store.frames()
        if (wanted is None or record.case in wanted)
        and (store.annotation(record.id) is not None or store.prediction(record.id) is not None)
    ]


def send_results(
    store: Store,
    frame_ids: Sequence[int],
    destination: Destination,
    *,
    calling_ae: str = DEFAULT_AE_TITLE,
    dicom_sources: list[Path] | None = None,
) -> SendReport:
    """Send each frame's results in one association; NodeError when the peer cannot be reached."""
    sources = _Sources(dicom_sources) if dicom_sources else None
    items: list[tuple[str, pydicom.Dataset]] = []
    problems: list[Failure] = []
    for frame_id in frame_ids:
        try:
            record = store.frame_record(frame_id)
            source = sources.dataset(record.source_id) if sources is not None else None
            if sources is not None and source is None:
                problems.append(Failure(record.stem, "no matching DICOM source among the files given", True))
                continue
            datasets = dicom_results(store, frame_id, source=source)
        except C5Error as exc:
            problems.append(Failure(f"frame {frame_id}", str(exc), True))
            continue
        items += [(f"{record.stem} {ds.SOPClassUID.name}", ds) for ds in datasets]
    report = send_datasets(items, destination, calling_ae) if items else SendReport()
    report.failures[:0] = problems
    return report


class _Sources:
    """The original DICOM files, found by the stored frames' salted source ids (each read once)."""

    def __init__(self, paths: list[Path]) -> None:
        self._index: dict[str, DicomFrameRef] = index_dicom_sources(list(paths))
        self._read: dict[Path, pydicom.Dataset] = {}

    def dataset(self, source_id: str) -> pydicom.Dataset | None:
        ref = self._index.get(source_id)
        if ref is None:
            return None
        if ref.path not in self._read:
            self._read[ref.path] = pydicom.dcmread(ref.path)
        return self._read[ref.path]
