"""DICOM SEG export (highdicom), de-identified unless the user asks for the real identity.

Default (de-identified): for each annotated frame, a Secondary Capture of the stored frame and a SEG
referencing it, both with the store's case name as patient name and ID, no dates, no institution and
UIDs derived from the installation salt (stable across exports, not reversible). No source file is read,
so nothing identifying can reach the output, even when --dicom-sources is given.

--keep-identity (for sending back to PACS): the store holds no UID, so the user points --dicom-sources at
the original files; their salted source ids are recomputed and matched to the stored frames, and the SEG
references that DICOM image (and frame, for a cine) and copies its patient and study. Frames without a
matching source are skipped and listed.

Each SEG is read back with highdicom (segread) and its mask compared with the stored one before the
export is published.
"""

from __future__ import annotations

import copy
import hashlib
import warnings
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.uid import UltrasoundImageStorage

import c5desk
from c5desk.io.ids import installation_salt
from c5desk.store.export_common import ExportItem, ExportSummary
from c5desk.store.identity import DicomFrameRef, index_dicom_sources
from c5desk.store.records import StoreError
from c5desk.store.store import Store

_LESION_CATEGORY = hd.sr.CodedConcept("49755003", "SCT", "Morphologically Altered Structure")
_LESION_TYPE = hd.sr.CodedConcept("52988006", "SCT", "Lesion")


def export_dicom_seg(
    store: Store,
    items: list[ExportItem],
    out: Path,
    summary: ExportSummary,
    dicom_sources: list[Path] | None = None,
    keep_identity: bool = False,
) -> None:
    sources = _sources(store, dicom_sources, keep_identity, summary)
    uids = _UidMaker(store)
    for item in summary.track(items):
        mask = store.mask(item.frame.id)
        if mask is None or not mask.any():
            summary.skipped.append(
                (item.stem, f"{item.annotation.label}: no lesion outlined, nothing to segment")
            )
            continue
        folder = out / item.frame.case
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # highdicom's advice on person-name style is not for users
            if keep_identity:
                ref = sources.get(item.frame.source_id)
                header = _matching_header(item, ref)
                if ref is None or header is None:
                    why = (
                        "no matching DICOM file"
                        if ref is None
                        else "the matching DICOM file has another size"
                    )
                    summary.skipped.append((item.stem, f"{why} in --dicom-sources"))
                    continue
                written = _seg_for_source(item, mask, header, ref, uids, folder)
            else:
                written = _seg_for_capture(store, item, mask, uids, folder)
        summary.exported += 1
        summary.files += written


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


class _UidMaker:
    """Deterministic UIDs from the secret installation salt (2.25 + 128 bits of SHA-256)."""

    def __init__(self, store: Store) -> None:
        self._seed = installation_salt() + store.info().get("created_utc", "").encode()

    def __call__(self, *parts: object) -> str:
        digest = hashlib.sha256(self._seed + "\x00".join(str(p) for p in parts).encode()).digest()
        return f"2.25.{int.from_bytes(digest[:16], 'big')}"


def _segmentation(
    item: ExportItem, mask: np.ndarray, source: pydicom.Dataset, uids: _UidMaker
) -> hd.seg.Segmentation:
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=f"{item.annotation.label} lesion",
        segmented_property_category=_LESION_CATEGORY,
        segmented_property_type=_LESION_TYPE,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,  # the clinician-final outline
    )
    return hd.seg.Segmentation(
        source_images=[source],
        pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=uids("seg-series", item.frame.id),
        series_number=900,
        sop_instance_uid=uids("seg", item.frame.id, item.annotation.revision),
        instance_number=item.annotation.revision,
        manufacturer="c5desk",
        manufacturer_model_name="c5desk",
        software_versions=str(c5desk.__version__),
        device_serial_number="c5desk",
        content_label="LESION",
        content_description=f"{item.annotation.label} lesion, revision {item.annotation.revision}"[:64],
    )


def _seg_for_capture(store: Store, item: ExportItem, mask: np.ndarray, uids: _UidMaker, folder: Path) -> int:
    """De-identified: a Secondary Capture of the stored frame plus a SEG referencing it."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = store.export_frame(item.frame.id).pixels
    if pixels.ndim == 3 and pixels.dtype != np.uint8:
        pixels = (pixels >> 8).astype(np.uint8)  # colour SC images are 8-bit
    colour = pixels.ndim == 3
    case = item.frame.case
    capture = hd.sc.SCImage(
        pixel_array=pixels,
        photometric_interpretation="RGB" if colour else "MONOCHROME2",
        bits_allocated=8 if pixels.dtype == np.uint8 else 16,
        coordinate_system="PATIENT",
        study_instance_uid=uids("study", item.frame.case_id),
        series_instance_uid=uids("sc-series", item.frame.id),
        series_number=901,
        sop_instance_uid=uids("sc", item.frame.id),
        instance_number=1,
        manufacturer="c5desk",
        patient_id=case,
        patient_name=f"{case}^",
        patient_orientation=("L", "F"),  # required by the API for PATIENT; emptied below (unknown)
    )
    capture.PatientOrientation = ""
    capture.PatientIdentityRemoved = "YES"
    capture.DeidentificationMethod = "c5desk: stored frame only, salted UIDs, case name as patient"
    seg = _segmentation(item, mask, capture, uids)
    seg.PatientIdentityRemoved = "YES"
    capture.save_as(folder / f"{item.stem}_sc.dcm", enforce_file_format=True)
    _save_checked(seg, folder / f"{item.stem}_seg.dcm", mask, capture.SOPInstanceUID, None)
    return 2


def _matching_header(item: ExportItem, ref: DicomFrameRef | None) -> pydicom.Dataset | None:
    """The matched file's header when its frames have the stored frame's size (pixels align)."""
    if ref is None:
        return None
    header = pydicom.dcmread(ref.path, stop_before_pixels=True, force=True)
    if (int(header.Rows), int(header.Columns)) != (item.frame.height, item.frame.width):
        return None
    return header


def _seg_for_source(
    item: ExportItem,
    mask: np.ndarray,
    header: pydicom.Dataset,
    ref: DicomFrameRef,
    uids: _UidMaker,
    folder: Path,
) -> int:
    """With identity: a SEG referencing the original DICOM image (and frame) it was drawn on."""
    folder.mkdir(parents=True, exist_ok=True)
    source = header
    if ref.number_of_frames > 1:
        # highdicom segments a cine frame only through a single-frame stand-in; the references are
        # then pointed at the real multi-frame instance and frame below.
        source = copy.deepcopy(header)  # a shallow copy would share (and change) the header's elements
        source.SOPClassUID = UltrasoundImageStorage
        del source.NumberOfFrames
    seg = _segmentation(item, mask, source, uids)
    frame_number = ref.frame_index + 1 if ref.number_of_frames > 1 else None
    if frame_number is not None:
        for group in seg.PerFrameFunctionalGroupsSequence:
            for derivation in group.DerivationImageSequence:
                for reference in derivation.SourceImageSequence:
                    reference.ReferencedSOPClassUID = header.SOPClassUID
                    reference.ReferencedFrameNumber = frame_number
        for series in seg.ReferencedSeriesSequence:
            for reference in series.ReferencedInstanceSequence:
                reference.ReferencedSOPClassUID = header.SOPClassUID
    _save_checked(seg, folder / f"{item.stem}_seg.dcm", mask, header.SOPInstanceUID, frame_number)
    return 1


def _save_checked(
    seg: hd.seg.Segmentation, path: Path, mask: np.ndarray, source_uid: str, frame_number: int | None
) -> None:
    """Write the SEG, read it back with highdicom and insist on the stored mask, pixel for pixel."""
    seg.save_as(path, enforce_file_format=True)
    back = hd.seg.segread(path)
    if frame_number is None:
        pixels = back.get_pixels_by_source_instance([source_uid], segment_numbers=[1])
    else:
        pixels = back.get_pixels_by_source_frame(source_uid, [frame_number], segment_numbers=[1])
    if not np.array_equal(pixels[0, ..., 0] > 0, mask):
        raise StoreError(f"{path.name}: the DICOM SEG read back does not match the stored mask")
