"""DICOM export (format "dicom-seg"): per annotated frame with a lesion, a SEG (highdicom) and beside it a
TID 1500 SR (`<stem>_sr.dcm`: sizes, score, descriptors, category; see dicom_sr), de-identified unless the
user asks for the real identity. The objects are built by dicom_results, as for the DICOM node.

Default (de-identified): for each annotated frame, a Secondary Capture of the stored frame, a SEG and an SR
referencing it, all with the store's case name as patient name and ID, no dates, no institution and UIDs
derived from the installation salt (stable across exports, not reversible). No source file is read, so
nothing identifying can reach the output, even when --dicom-sources is given.

--keep-identity (for sending back to PACS): the store holds no UID, so the user points --dicom-sources at
the original files; their salted source ids are recomputed and matched to the stored frames, and the SEG and
SR reference that DICOM image (and frame, for a cine) and copy its patient and study. Frames without a
matching source are skipped and listed.

Each SEG is read back with highdicom (segread) and its mask compared with the stored one, and each SR is
read back (srread) and its lesions checked, before the export is published. Frames without a lesion are
skipped here (there is nothing to segment); the node still answers them with an SR (dicom_results).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom

from c5desk.store.dicom_results import DicomSet, UidMaker, build_dicom_set
from c5desk.store.dicom_sr import check_sr
from c5desk.store.export_common import ExportItem, ExportSummary
from c5desk.store.identity import DicomFrameRef, index_dicom_sources
from c5desk.store.records import StoreError
from c5desk.store.store import Store


def export_dicom_seg(
    store: Store,
    items: list[ExportItem],
    out: Path,
    summary: ExportSummary,
    dicom_sources: list[Path] | None = None,
    keep_identity: bool = False,
) -> None:
    sources = _sources(store, dicom_sources, keep_identity, summary)
    uids = UidMaker(store)
    for item in summary.track(items):
        mask = store.mask(item.frame.id)
        if mask is None or not mask.any():
            summary.skipped.append(
                (item.stem, f"{item.annotation.label}: no lesion outlined, nothing to segment")
            )
            continue
        header = None
        if keep_identity:
            ref = sources.get(item.frame.source_id)
            header = _matching_header(item, ref)
            if header is None:
                why = "no matching DICOM file" if ref is None else "the matching DICOM file has another size"
                summary.skipped.append((item.stem, f"{why} in --dicom-sources"))
                continue
        result = build_dicom_set(store, item.frame.id, header, uids)
        summary.files += _write(result, out / item.frame.case, item.stem)
        summary.exported += 1


def _sources(
    store: Store, dicom_sources: list[Path] | None, keep_identity: bool, summary: ExportSummary
) -> dict[str, DicomFrameRef]:
    if not keep_identity:
        if dicom_sources:
            summary.notes.append(
                "de-identified export: SEGs reference de-identified captures of the stored frames;"
                " --dicom-sources is only read with --keep-identity"
            )
        return {}
    if not dicom_sources:
        raise StoreError("--keep-identity needs --dicom-sources: the store keeps no identity to copy")
    if not store.salt_matches():
        summary.notes.append(
            "this store was made on an installation with another salt: its frames cannot be matched to files"
        )
    return index_dicom_sources(list(dicom_sources))


def _matching_header(item: ExportItem, ref: DicomFrameRef | None) -> pydicom.Dataset | None:
    """The matched file's header when its frames have the stored frame's size (pixels align)."""
    if ref is None:
        return None
    header = pydicom.dcmread(ref.path, stop_before_pixels=True, force=True)
    if (int(header.Rows), int(header.Columns)) != (item.frame.height, item.frame.width):
        return None
    return header


def _write(result: DicomSet, folder: Path, stem: str) -> int:
    """Write the capture (if any), SEG and SR; the SEG and SR are read back and checked. Files written."""
    folder.mkdir(parents=True, exist_ok=True)
    if result.capture is not None:
        result.capture.save_as(folder / f"{stem}_sc.dcm", enforce_file_format=True)
    if result.seg is not None:
        masks = [lesion.mask for lesion in result.reading.lesions]
        _save_checked(result.seg, folder / f"{stem}_seg.dcm", masks, result.image_uid, result.frame_number)
    result.sr.save_as(folder / f"{stem}_sr.dcm", enforce_file_format=True)
    check_sr(folder / f"{stem}_sr.dcm", result.reading)
    return len(result.datasets())


def _save_checked(
    seg: hd.seg.Segmentation, path: Path, masks: list[np.ndarray], source_uid: str, frame_number: int | None
) -> None:
    """Write the SEG, read it back with highdicom and insist on the stored masks, pixel for pixel."""
    seg.save_as(path, enforce_file_format=True)
    numbers = list(range(1, len(masks) + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = hd.seg.segread(path)
        if frame_number is None:
            pixels = back.get_pixels_by_source_instance([source_uid], segment_numbers=numbers)
        else:
            pixels = back.get_pixels_by_source_frame(source_uid, [frame_number], segment_numbers=numbers)
    for index, mask in enumerate(masks):
        if not np.array_equal(pixels[0, ..., index] > 0, mask):
            raise StoreError(f"{path.name}: the DICOM SEG read back does not match the stored mask")
