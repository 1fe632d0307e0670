"""DICOM SR: one TID 1500 Measurement Report (Comprehensive SR, highdicom) per frame, one measurement group
per lesion, so that PACS viewers and dcmtk's dsrdump can read what c5desk found.

Each lesion is a TID 1410 Planar ROI group: a tracking identifier ("lesion n") and UID, the ROI as segment n
of the frame's SEG (with the image it segments), long axis, short axis and area (units: dicom_codes),
P(malignant) and the model's uncertainty as measurements carrying the model as Algorithm Identification
(TID 4019: "c5desk C5-Net", the model version), the BI-RADS descriptors and the clinician's category as
qualitative evaluations. Codes: see dicom_codes.

Provenance of a descriptor is a concept modifier on its evaluation: "Descriptor provenance" (99C5DESK) =
"Suggested by model" or "Confirmed by clinician"; a suggestion also carries the algorithm that made it
(TID 4019, "c5desk descriptors", the c5desk version). Who read the frame is the document's observer
context: the c5desk device always, a person too when a clinician saved the outline (an AI-only result
has none and is marked preliminary).

A frame without a lesion gets a TID 1501 group on the image instead: Finding = "No lesion outlined", with
the category and score when there are any (a model that found no lesion gives no malignancy score), so a
received image is never left without an answer. The clinician's free-text note never enters the SR (it may
name anyone).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

import c5desk
from c5desk.lesion import lexicon
from c5desk.lesion.measure import Measurements
from c5desk.store import dicom_codes as dc
from c5desk.store.records import StoreError

MODEL_ALGORITHM = "c5desk C5-Net"
DESCRIBER_ALGORITHM = "c5desk descriptors"
SR_SERIES_NUMBER = 902


@dataclass(frozen=True)
class Score:
    p_malignant: float
    uncertainty: float
    model_version: str


@dataclass(frozen=True)
class Lesion:
    """One lesion of a frame: its own mask (segment n of the SEG), sizes, descriptors, category and score."""

    mask: np.ndarray
    measurements: Measurements
    descriptors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # lexicon form
    category: str | None = None
    score: Score | None = None  # the frame's score (the model scores a frame, not each lesion)
    label: str | None = None  # benign, malignant or unsure: the segment's name


@dataclass(frozen=True)
class Reading:
    """What one SR reports: the lesions of one frame, who found them, and the frame's category and score
    (reported on the image when there is no lesion). `key` names the reading's version in UIDs."""

    frame_id: int
    key: str
    lesions: list[Lesion]
    clinician: str | None  # the reader's name as written, or None for a model-only result
    category: str | None
    score: Score | None


def measurement_report(
    reading: Reading,
    image: pydicom.Dataset,
    seg: pydicom.Dataset | None,
    frame_number: int | None,
    uids: Callable[..., str],
) -> hd.sr.ComprehensiveSR:
    """The SR of `reading` referencing `image` (frame `frame_number` of a cine) and its `seg`."""
    if reading.lesions and seg is None:
        raise StoreError(f"frame {reading.frame_id}: lesions to report but no SEG to reference")
    if reading.lesions:
        groups = [
            _lesion_group(reading, n, lesion, _segment(seg, n, image, frame_number), uids)
            for n, lesion in enumerate(reading.lesions, 1)
        ]
    else:
        groups = [_image_group(reading, image, frame_number, uids)]
    report = hd.sr.MeasurementReport(
        observation_context=_observers(reading, uids),
        procedure_reported=dc.PROCEDURE,
        imaging_measurements=groups,
    )
    sr = hd.sr.ComprehensiveSR(
        evidence=[image] if seg is None else [image, seg],
        content=report[0],
        series_instance_uid=uids("sr-series", reading.frame_id),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=uids("sr", reading.frame_id, reading.key),
        instance_number=1,
        manufacturer="c5desk",
        is_complete=True,
        is_final=reading.clinician is not None,
        series_description="c5desk lesion report",
    )
    sr.SoftwareVersions = str(c5desk.__version__)
    schemes = list(sr.get("CodingSchemeIdentificationSequence", []))
    sr.CodingSchemeIdentificationSequence = [*schemes, dc.coding_scheme_identification()]
    return sr


def _observers(reading: Reading, uids: Callable[..., str]) -> hd.sr.ObservationContext:
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=uids("device"), name="c5desk", manufacturer_name="c5desk", model_name="c5desk"
        ),
    )
    person = None
    if reading.clinician is not None:
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=reading.clinician),
        )
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def _tracking(reading: Reading, number: int, uids: Callable[..., str]) -> hd.sr.TrackingIdentifier:
    """Stable across revisions of the frame: the same lesion keeps its UID in every report."""
    return hd.sr.TrackingIdentifier(
        uid=uids("lesion", reading.frame_id, number), identifier=f"lesion {number}"
    )


def _segment(
    seg: pydicom.Dataset, number: int, image: pydicom.Dataset, frame_number: int | None
) -> hd.sr.ReferencedSegmentationFrame:
    """Segment `number` of the SEG (its frames) with the image it segments (highdicom's from_segmentation
    misses a segment identified in the shared functional groups, as a one-segment SEG has it)."""
    shared = seg.SharedFunctionalGroupsSequence[0].get("SegmentIdentificationSequence")
    frames = [
        index
        for index, group in enumerate(seg.PerFrameFunctionalGroupsSequence, 1)
        if (group.get("SegmentIdentificationSequence") or shared)[0].ReferencedSegmentNumber == number
    ]
    source = hd.sr.SourceImageForSegmentation(
        image.SOPClassUID, image.SOPInstanceUID, [frame_number] if frame_number is not None else None
    )
    return hd.sr.ReferencedSegmentationFrame(
        seg.SOPClassUID, seg.SOPInstanceUID, frames[0] if len(frames) == 1 else frames, number, source
    )


def _lesion_group(
    reading: Reading,
    number: int,
    lesion: Lesion,
    segment: hd.sr.ReferencedSegmentationFrame,
    uids: Callable[..., str],
) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=_tracking(reading, number, uids),
        referenced_segment=segment,
        finding_type=dc.FINDING_TYPE,
        finding_category=dc.FINDING_CATEGORY,
        algorithm_id=_model(lesion.score) if reading.clinician is None and lesion.score else None,
        measurements=[*_sizes(lesion.measurements), *_score(lesion.score)],
        qualitative_evaluations=[*_descriptors(lesion.descriptors), *_category(lesion.category)],
    )


def _image_group(
    reading: Reading, image: pydicom.Dataset, frame_number: int | None, uids: Callable[..., str]
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    frames = [frame_number] if frame_number is not None else None
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=uids("no-lesion", reading.frame_id), identifier="frame"
        ),
        measurements=_score(reading.score) or None,
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(dc.FINDING, dc.NO_LESION),
            *_category(reading.category),
        ],
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(image, frames)],
    )


def _sizes(measured: Measurements) -> list[hd.sr.Measurement]:
    length, area = (dc.MM, dc.MM2) if measured.calibrated else (dc.PIXELS, dc.PIXELS)
    return [
        hd.sr.Measurement(name=dc.LONG_AXIS, value=float(measured.long_axis), unit=length),
        hd.sr.Measurement(name=dc.SHORT_AXIS, value=float(measured.short_axis), unit=length),
        hd.sr.Measurement(name=dc.AREA, value=float(measured.area), unit=area),
    ]


def _model(score: Score) -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(
        name=MODEL_ALGORITHM, version=score.model_version, manufacturer="c5desk"
    )


def _score(score: Score | None) -> list[hd.sr.Measurement]:
    if score is None:
        return []
    return [
        hd.sr.Measurement(dc.PROBABILITY, float(score.p_malignant), dc.NO_UNITS, algorithm_id=_model(score)),
        hd.sr.Measurement(dc.UNCERTAINTY, float(score.uncertainty), dc.NO_UNITS, algorithm_id=_model(score)),
    ]


def _descriptors(descriptors: Mapping[str, Mapping[str, str]]) -> list[hd.sr.QualitativeEvaluation]:
    evaluations = []
    for name in lexicon.DESCRIPTORS:  # the lexicon's order, whatever order they were stored in
        if name not in descriptors:
            continue
        entry = descriptors[name]
        evaluation = hd.sr.QualitativeEvaluation(
            dc.DESCRIPTOR_NAMES[name], dc.DESCRIPTOR_VALUES[name][entry["value"]]
        )
        by_model = entry.get("source", "model") == "model"
        modifiers = hd.sr.ContentSequence(
            [
                hd.sr.CodeContentItem(
                    name=dc.PROVENANCE,
                    value=dc.SUGGESTED if by_model else dc.CONFIRMED,
                    relationship_type=hd.sr.RelationshipTypeValues.HAS_CONCEPT_MOD,
                )
            ]
        )
        if by_model:
            modifiers.extend(hd.sr.AlgorithmIdentification(DESCRIBER_ALGORITHM, str(c5desk.__version__)))
        evaluation[0].ContentSequence = modifiers
        evaluations.append(evaluation)
    return evaluations


def _category(category: str | None) -> list[hd.sr.QualitativeEvaluation]:
    return [] if not category else [hd.sr.QualitativeEvaluation(dc.ASSESSMENT, dc.category_code(category))]


def check_sr(path: Path, reading: Reading) -> None:
    """Read the written SR back with highdicom: one group per lesion, the right sizes, or StoreError."""
    try:
        back = hd.sr.srread(path)
        report = back.content
        groups = report.get_planar_roi_measurement_groups()
        if not reading.lesions:
            groups = report.get_image_measurement_groups()
        expected = max(1, len(reading.lesions))
        ok = len(groups) == expected
        for group, lesion in zip(groups, reading.lesions, strict=False):
            (long_axis,) = group.get_measurements(name=dc.LONG_AXIS)
            ok = ok and np.isclose(long_axis.value, lesion.measurements.long_axis)
    except (ValueError, AttributeError, TypeError, KeyError, IndexError) as exc:
        raise StoreError(f"{path.name}: the DICOM SR cannot be read back ({exc})") from exc
    if not ok:
        raise StoreError(f"{path.name}: the DICOM SR read back does not hold the lesions written")
