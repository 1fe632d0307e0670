"""A frame's result as DICOM objects (SEG + SR, with a de-identified capture when no original is given):
shared by the dicom-seg export and the DICOM network node.

    datasets = dicom_results(store, frame_id)                 # [Secondary Capture, SEG, SR], de-identified
    datasets = dicom_results(store, frame_id, source=ds)      # [SEG, SR] referencing the received image

What is reported: the clinician's latest annotation when the frame has one (each of its lesions, the main
one first, with its own mask, label, descriptors and category; the frame's score is that of the model it
corrected, else the newest), otherwise the newest prediction (an
AI-only result: the model's mask, score and descriptor suggestions). A frame with no lesion gets no SEG;
its SR says "no lesion outlined" (dicom_sr). UIDs derive from the secret installation salt (stable across
exports, not reversible); those of objects referencing an original image form a family of their own, so no
UID links them to the de-identified objects, which carry the store's case name as patient and no dates.
"""

from __future__ import annotations

import copy
import hashlib
import warnings
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes
from pydicom.uid import UltrasoundImageStorage

import c5desk
from c5desk.io.ids import installation_salt, source_id
from c5desk.lesion import lexicon
from c5desk.lesion.measure import measure_mask
from c5desk.store import dicom_codes as dc
from c5desk.store.dicom_sr import MODEL_ALGORITHM, Lesion, Reading, Score, measurement_report
from c5desk.store.records import FrameRecord, PredictionRecord, StoreError
from c5desk.store.store import Store

DEIDENTIFIED_READER = "Anonymous^Reader"  # a clinician's login names no patient, but stays out by default


class UidMaker:
    """Deterministic UIDs from the secret installation salt (2.25 + 128 bits of SHA-256)."""

    def __init__(self, store: Store) -> None:
        self._seed = installation_salt() + store.info().get("created_utc", "").encode()

    def __call__(self, *parts: object) -> str:
        digest = hashlib.sha256(self._seed + "\x00".join(str(p) for p in parts).encode()).digest()
        return f"2.25.{int.from_bytes(digest[:16], 'big')}"

    def scoped(self, scope: str) -> UidMaker:
        """UIDs of another family: objects referencing an original image share no UID (series, instance,
        lesion tracking) with the de-identified ones, which would link the two."""
        other = copy.copy(self)
        other._seed = self._seed + b"\x00scope:" + scope.encode()
        return other


@dataclass(frozen=True)
class DicomSet:
    """The objects of one frame's result and what a reader needs to check them."""

    reading: Reading
    label: str
    capture: pydicom.Dataset | None  # the de-identified image, when no original is referenced
    seg: hd.seg.Segmentation | None  # None when there is no lesion
    sr: hd.sr.ComprehensiveSR
    image_uid: str  # the SOP instance the SEG segments
    frame_number: int | None  # its frame, for a cine

    def datasets(self) -> list[pydicom.Dataset]:
        return [ds for ds in (self.capture, self.seg, self.sr) if ds is not None]


def dicom_results(
    store: Store, frame_id: int, *, source: pydicom.Dataset | None = None
) -> list[pydicom.Dataset]:
    """SEG + one SR for one frame. With source (the original/received DICOM; the keep-identity case) both
    reference it (its study, series, SOP instance and frame); without, a de-identified Secondary Capture of
    the stored frame comes first and they reference that. Uses the clinician's annotation when there is
    one, else the newest prediction (AI-only result: mask, score, descriptors from the model)."""
    return build_dicom_set(store, frame_id, source, UidMaker(store)).datasets()


def build_dicom_set(store: Store, frame_id: int, source: pydicom.Dataset | None, uids: UidMaker) -> DicomSet:
    record = store.frame_record(frame_id)
    reading, label = read_frame(store, frame_id, keep_identity=source is not None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # highdicom's advice on person-name style is not for users
        if source is None:
            capture = _capture(store, record, uids)
            image, stand_in, frame_number = capture, capture, None
        else:
            capture = None
            image, stand_in, frame_number = _source_image(record, source)
            uids = uids.scoped(image.SOPInstanceUID)
        seg = _segmentation(reading, label, stand_in, uids, frame_number, image) if reading.lesions else None
        sr = measurement_report(reading, image, seg, frame_number, uids)
    if capture is not None:
        for ds in (seg, sr):
            if ds is not None:
                ds.PatientIdentityRemoved = "YES"
    return DicomSet(reading, label, capture, seg, sr, image.SOPInstanceUID, frame_number)


def read_frame(store: Store, frame_id: int, keep_identity: bool) -> tuple[Reading, str]:
    """The frame's reading (lesions, category, score, reader) and its label, from the store."""
    record = store.frame_record(frame_id)
    annotation = store.annotation(frame_id)
    if annotation is None:
        return _model_reading(store, record)
    # the model it corrected, else the newest (as export_common.export_items)
    prediction = store.prediction(frame_id, annotation.model_version) if annotation.model_version else None
    prediction = prediction or store.prediction(frame_id)
    score = _score(prediction)
    lesions = [
        _lesion(store.lesion_mask(lesion), record, lesion.descriptors, lesion.category, score, lesion.label)
        for lesion in store.lesions(annotation)
    ]
    reader = annotation.user if keep_identity else DEIDENTIFIED_READER
    reading = Reading(frame_id, str(annotation.revision), lesions, reader, annotation.category, score)
    return reading, annotation.label


def _model_reading(store: Store, record: FrameRecord) -> tuple[Reading, str]:
    """An AI-only result: the newest prediction's mask, score and descriptor suggestions as one lesion."""
    prediction = store.prediction(record.id)
    if prediction is None:
        raise StoreError(f"frame {record.id}: neither an annotation nor a model result to report")
    score = _score(prediction)
    mask = store.prediction_mask(prediction)
    suggestions = lexicon.as_suggestions(prediction.descriptors)
    lesion = _lesion(mask, record, suggestions, None, score, prediction.label) if mask.any() else None
    reading = Reading(record.id, f"p{prediction.id}", [lesion] if lesion else [], None, None, score)
    return reading, prediction.label


def _lesion(
    mask: np.ndarray,
    record: FrameRecord,
    descriptors: dict[str, dict[str, str]],
    category: str | None,
    score: Score | None,
    label: str,
) -> Lesion:
    measured = measure_mask(mask, record.mm_per_px)
    if measured is None:
        raise StoreError(f"frame {record.id}: a lesion without an outline cannot be reported")
    return Lesion(mask, measured, descriptors, category, score, label)


def _score(prediction: PredictionRecord | None) -> Score | None:
    if prediction is None or prediction.malignancy is None:
        return None  # "no lesion found" has no malignancy score to report
    return Score(prediction.malignancy, prediction.uncertainty, prediction.model_version)


def _capture(store: Store, record: FrameRecord, uids: UidMaker) -> pydicom.Dataset:
    """A de-identified Secondary Capture of the stored frame (the pixels exports write)."""
    pixels = store.export_frame(record.id).pixels
    if pixels.ndim == 3 and pixels.dtype != np.uint8:
        pixels = (pixels >> 8).astype(np.uint8)  # colour SC images are 8-bit
    capture = hd.sc.SCImage(
        pixel_array=pixels,
        photometric_interpretation="RGB" if pixels.ndim == 3 else "MONOCHROME2",
        bits_allocated=8 if pixels.dtype == np.uint8 else 16,
        coordinate_system="PATIENT",
        study_instance_uid=uids("study", record.case_id),
        series_instance_uid=uids("sc-series", record.id),
        series_number=901,
        sop_instance_uid=uids("sc", record.id),
        instance_number=1,
        manufacturer="c5desk",
        patient_id=record.case,
        patient_name=f"{record.case}^",
        patient_orientation=("L", "F"),  # required by the API for PATIENT; emptied below (unknown)
    )
    capture.PatientOrientation = ""
    capture.PatientIdentityRemoved = "YES"
    capture.DeidentificationMethod = "c5desk: stored frame only, salted UIDs, case name as patient"
    return capture


def _source_image(
    record: FrameRecord, source: pydicom.Dataset
) -> tuple[pydicom.Dataset, pydicom.Dataset, int | None]:
    """(header, what highdicom segments, frame number) of the original image the stored frame came from."""
    header = pydicom.Dataset()
    for element in source:
        if element.keyword != "PixelData":  # the SEG and SR need the header only
            header.add(copy.deepcopy(element))
    if (int(header.get("Rows", 0)), int(header.get("Columns", 0))) != (record.height, record.width):
        raise StoreError(f"frame {record.id}: the DICOM given as its source has another size")
    uid = str(header.get("SOPInstanceUID", "") or "").strip()
    if not uid:
        raise StoreError(
            f"frame {record.id}: the DICOM given as its source has no SOP Instance UID to refer to"
        )
    if source_id(f"dicom-sop:{uid}".encode(), record.frame_index) != record.source_id:
        raise StoreError(f"frame {record.id}: the DICOM given as its source is not the one it was read from")
    if int(header.get("NumberOfFrames", 1) or 1) <= 1:
        return header, header, None
    # highdicom segments a cine frame only through a single-frame stand-in; the SEG's references are then
    # pointed at the real multi-frame instance and frame (_point_at_frame).
    stand_in = copy.deepcopy(header)
    stand_in.SOPClassUID = UltrasoundImageStorage
    del stand_in.NumberOfFrames
    return header, stand_in, record.frame_index + 1


def _segmentation(
    reading: Reading,
    label: str,
    source: pydicom.Dataset,
    uids: UidMaker,
    frame_number: int | None,
    image: pydicom.Dataset,
) -> hd.seg.Segmentation:
    """One segment per lesion (segment n = lesion n of the SR), segmenting `source`; a cine frame's
    references are then pointed at frame `frame_number` of `image`."""
    several = len(reading.lesions) > 1
    masks = np.stack([lesion.mask for lesion in reading.lesions], axis=-1).astype(np.uint8)
    score = reading.score
    made_by = (
        f"model {score.model_version}" if reading.clinician is None and score else f"revision {reading.key}"
    )
    seg = hd.seg.Segmentation(
        source_images=[source],
        pixel_array=masks[None] if several else masks[..., 0],
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=_segment_descriptions(reading, label),
        series_instance_uid=uids("seg-series", reading.frame_id),
        series_number=900,
        sop_instance_uid=uids("seg", reading.frame_id, reading.key),
        instance_number=int(reading.key) if reading.key.isdigit() else 1,
        manufacturer="c5desk",
        manufacturer_model_name="c5desk",
        software_versions=str(c5desk.__version__),
        device_serial_number="c5desk",
        content_label="LESION",
        content_description=f"{label} lesion, {made_by}"[:64],
    )
    if frame_number is not None:
        _point_at_frame(seg, image, frame_number)
    return seg


def _segment_descriptions(reading: Reading, label: str) -> list[hd.seg.SegmentDescription]:
    """Manual for a clinician's outline; automatic, with the model as algorithm, for a model's."""
    several = len(reading.lesions) > 1
    descriptions = []
    for number, lesion in enumerate(reading.lesions, 1):
        algorithm = None
        if reading.clinician is None and lesion.score is not None:
            algorithm = hd.AlgorithmIdentificationSequence(
                MODEL_ALGORITHM, codes.cid7162.ArtificialIntelligence, lesion.score.model_version
            )
        kind = (
            hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
            if algorithm
            else hd.seg.SegmentAlgorithmTypeValues.MANUAL
        )
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=f"{lesion.label or label} lesion" + (f" {number}" if several else ""),
                segmented_property_category=dc.FINDING_CATEGORY,
                segmented_property_type=dc.FINDING_TYPE,
                algorithm_type=kind,
                algorithm_identification=algorithm,
            )
        )
    return descriptions


def _point_at_frame(seg: hd.seg.Segmentation, image: pydicom.Dataset, frame_number: int) -> None:
    for group in seg.PerFrameFunctionalGroupsSequence:
        for derivation in group.DerivationImageSequence:
            for reference in derivation.SourceImageSequence:
                reference.ReferencedSOPClassUID = image.SOPClassUID
                reference.ReferencedFrameNumber = frame_number
    for series in seg.ReferencedSeriesSequence:
        for reference in series.ReferencedInstanceSequence:
            reference.ReferencedSOPClassUID = image.SOPClassUID
