"""DICOM SR (TID 1500) per frame: built beside the SEG by the dicom-seg export and by dicom_results (the
node's entry point), read back with highdicom and with dcmtk's dsrdump; de-identified unless the original
image is given."""

from __future__ import annotations

import shutil
import subprocess
import warnings

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes
from store_helpers import blob_mask, synthetic_frame

from c5desk.cli import main
from c5desk.io import open_source
from c5desk.lesion import lexicon
from c5desk.lesion.measure import measure_mask
from c5desk.store import Store, StoreError, dicom_sr
from c5desk.store import dicom_codes as dc
from c5desk.store.dicom_results import dicom_results

pydicom_data = pytest.importorskip("pydicom.data")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # highdicom's style advice

DESCRIPTORS = {
    "shape": {"value": "irregular", "source": "clinician"},
    "margin": {"value": "spiculated", "source": "model"},
    "echo_pattern": {"value": "heterogeneous", "source": "model"},
}


def _srread(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hd.sr.srread(path)


def _items(group, value_type):
    return [item for item in group[0].ContentSequence if item.ValueType == value_type]


def _code(item):
    code = item.ConceptCodeSequence[0]
    return code.CodeValue, code.CodingSchemeDesignator


def _modifiers(item):
    """{concept name meaning: value} of a content item's concept modifiers."""
    found = {}
    for child in item.get("ContentSequence", []):
        name = child.ConceptNameCodeSequence[0].CodeMeaning
        found[name] = child.ConceptCodeSequence[0].CodeValue if child.ValueType == "CODE" else child.TextValue
    return found


def _tracking_uid(sr):
    (group,) = hd.sr.ComprehensiveSR.from_dataset(sr).content.get_planar_roi_measurement_groups()
    return group.tracking_uid


@pytest.fixture
def us_store(tmp_path):
    """A real ultrasound DICOM (uncalibrated, with a patient name, ID and dates) imported and annotated."""
    path = pydicom_data.get_testdata_file("US1_UNCR.dcm")
    folder = tmp_path / "store"
    assert main(["import", str(folder), path]) == 0
    with Store.open(folder) as store:
        with open_source(path) as source:
            frame = source.frame(0)
        frame_id = store.frame_id_for(frame.source_id)
        store.add_prediction(frame_id, "c5net-7", 0.83, 0.25, blob_mask(9, frame.shape, noise=0))
        mask = blob_mask(3, frame.shape, noise=0)
        store.save_annotation(
            frame_id,
            mask,
            "malignant",
            "BI-RADS 4a",
            "Łódź",
            model_version="c5net-7",
            descriptors=DESCRIPTORS,
        )
    return folder, frame_id, path


def test_deidentified_export_writes_an_sr_with_sizes_score_descriptors_and_category(us_store, tmp_path):
    folder, frame_id, path = us_store
    out = tmp_path / "out"
    assert main(["export", str(folder), "--format", "dicom-seg", "--out", str(out)]) == 0
    with Store.open(folder) as store:
        record = store.frame_record(frame_id)
        measured = measure_mask(store.mask(frame_id), None)
    base = out / record.case / record.stem
    capture, seg = pydicom.dcmread(f"{base}_sc.dcm"), pydicom.dcmread(f"{base}_seg.dcm")
    sr = _srread(f"{base}_sr.dcm")
    (group,) = sr.content.get_planar_roi_measurement_groups()
    assert group.tracking_identifier == "lesion 1"
    reference = group.referenced_segmentation_frame
    assert reference[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == seg.SOPInstanceUID
    assert reference[0].ReferencedSOPSequence[0].ReferencedSegmentNumber == 1
    assert reference[1].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == capture.SOPInstanceUID
    (long_axis,) = group.get_measurements(name=codes.SCT.LongAxis)
    assert long_axis.value == pytest.approx(measured.long_axis) and long_axis.unit.value == "{pixels}"
    (area,) = group.get_measurements(name=codes.SCT.AreaOfDefinedRegion)
    assert area.value == pytest.approx(measured.area_px) and area.unit.value == "{pixels}"
    (probability,) = group.get_measurements(name=dc.PROBABILITY)
    assert probability.value == pytest.approx(0.83)
    numbers = {item.ConceptNameCodeSequence[0].CodeMeaning: item for item in _items(group, "NUM")}
    algorithm = _modifiers(numbers["Probability of cancer"])
    assert algorithm["Algorithm Name"] == "c5desk C5-Net" and algorithm["Algorithm Version"] == "c5net-7"
    coded = {item.ConceptNameCodeSequence[0].CodeValue: item for item in _items(group, "CODE")}
    assert _code(coded["300842002"]) == ("49608001", "SCT")  # shape irregular
    assert _modifiers(coded["300842002"])["Descriptor provenance"] == "CLINICIAN"
    assert _code(coded["111037"]) == ("129742005", "SCT")  # margin spiculated
    assert _modifiers(coded["111037"])["Descriptor provenance"] == "MODEL"
    assert _modifiers(coded["111037"])["Algorithm Name"] == "c5desk descriptors"
    assert _code(coded["111360"]) == ("HETEROGENEOUS", "99C5DESK")
    assert _code(coded["111005"]) == ("BIRADS-4A", "99C5DESK")
    assert sr.CodingSchemeIdentificationSequence[-1].CodingSchemeDesignator == "99C5DESK"
    original = pydicom.dcmread(path, stop_before_pixels=True)
    raw = (out / record.case / f"{record.stem}_sr.dcm").read_bytes()
    for secret in (
        "CompressedSamples",
        original.PatientID,
        original.StudyDate,
        "BAPTIST",
        original.StudyInstanceUID,
    ):
        assert secret.encode() not in raw
    assert sr.PatientID == record.case and sr.PatientIdentityRemoved == "YES"
    assert sr.StudyInstanceUID == capture.StudyInstanceUID and "Łódź".encode() not in raw  # no free text


def test_keep_identity_results_reference_the_received_image(us_store):
    folder, frame_id, path = us_store
    original = pydicom.dcmread(path)
    with Store.open(folder) as store:
        seg, sr = dicom_results(store, frame_id, source=original)
        with pytest.raises(StoreError, match="not the one it was read from"):
            dicom_results(
                store, frame_id, source=pydicom.dcmread(pydicom_data.get_testdata_file("US1_J2KR.dcm"))
            )
        _, anonymous_seg, anonymous_sr = dicom_results(store, frame_id)
    assert seg.SOPClassUID == pydicom.uid.SegmentationStorage
    uids = {seg.SOPInstanceUID, seg.SeriesInstanceUID, sr.SOPInstanceUID, sr.SeriesInstanceUID}
    anonymous = {anonymous_seg.SOPInstanceUID, anonymous_seg.SeriesInstanceUID, anonymous_sr.SOPInstanceUID}
    assert not uids & (anonymous | {anonymous_sr.SeriesInstanceUID})  # nothing links the two
    tracking = {_tracking_uid(sr), _tracking_uid(anonymous_sr)}
    assert len(tracking) == 2
    assert sr.StudyInstanceUID == original.StudyInstanceUID and sr.PatientName == original.PatientName
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    referenced = {ref.ReferencedSOPInstanceUID for series in evidence for ref in series.ReferencedSOPSequence}
    assert referenced == {original.SOPInstanceUID, seg.SOPInstanceUID}


def test_a_cine_frame_is_referenced_by_number(tmp_path):
    path = pydicom_data.get_testdata_file("color3d_jpeg_baseline.dcm")
    folder = tmp_path / "store"
    assert main(["import", str(folder), path, "--max-frames", "3"]) == 0
    with Store.open(folder) as store, open_source(path) as source:
        frame = source.frame(2)
        frame_id = store.frame_id_for(frame.source_id)
        store.add_prediction(frame_id, "m1", 0.6, 0.2, blob_mask(2, frame.shape, noise=0))
        seg, sr = dicom_results(store, frame_id, source=pydicom.dcmread(path))
    (group,) = sr.ContentSequence[-1].ContentSequence
    (source_item,) = [item for item in group.ContentSequence if item.get("ValueType") == "IMAGE"][1:]
    assert source_item.ReferencedSOPSequence[0].ReferencedFrameNumber == 3
    assert (
        seg.PerFrameFunctionalGroupsSequence[0]
        .DerivationImageSequence[0]
        .SourceImageSequence[0]
        .ReferencedFrameNumber
        == 3
    )


def test_model_only_and_lesion_free_frames(tmp_path):
    with Store.create(tmp_path / "store") as store:
        model_only = store.add_frame(synthetic_frame(1, mm_per_px=(0.1, 0.2)))
        normal = store.add_frame(synthetic_frame(2))
        empty = store.add_frame(synthetic_frame(3))
        store.add_prediction(model_only, "m3", 0.2, 0.4, blob_mask(1), descriptors={"shape": "oval"})
        store.save_annotation(normal, np.zeros((48, 64), bool), "normal", "BI-RADS 1")
        capture, seg, sr = dicom_results(store, model_only)
        assert seg.SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC"
        assert sr.PreliminaryFlag == "PRELIMINARY" and capture.PatientIdentityRemoved == "YES"
        (group,) = hd.sr.ComprehensiveSR.from_dataset(sr).content.get_planar_roi_measurement_groups()
        (long_axis,) = group.get_measurements(name=codes.SCT.LongAxis)
        assert long_axis.unit.value == "mm"
        assert group.get_measurements(name=codes.SCT.AreaOfDefinedRegion)[0].unit.value == "mm2"
        shape = next(i for i in _items(group, "CODE") if i.ConceptNameCodeSequence[0].CodeMeaning == "Shape")
        assert _modifiers(shape)["Descriptor provenance"] == "MODEL"
        capture, sr = dicom_results(store, normal)  # no lesion: no SEG, an SR that says so
        (group,) = hd.sr.ComprehensiveSR.from_dataset(sr).content.get_image_measurement_groups()
        assert {_code(item) for item in _items(group, "CODE")} == {
            ("NO-LESION", "99C5DESK"),
            ("397140005", "SCT"),  # BI-RADS 1
        }
        with pytest.raises(StoreError, match="neither an annotation nor a model result"):
            dicom_results(store, empty)


def test_a_frame_the_model_found_no_lesion_on_is_reported_without_a_malignancy_score(tmp_path):
    with Store.create(tmp_path / "store") as store:
        frame = store.add_frame(synthetic_frame(1))
        store.add_prediction(frame, "m3", 0.7, 0.4, np.zeros((48, 64), bool), label="normal")
        assert store.prediction(frame).malignancy is None and store.prediction(frame).p_malignant == 0.7
        _capture, sr = dicom_results(store, frame)  # no lesion: no SEG, and no P(malignant) in the SR
        (group,) = hd.sr.ComprehensiveSR.from_dataset(sr).content.get_image_measurement_groups()
        assert {_code(item) for item in _items(group, "CODE")} == {("NO-LESION", "99C5DESK")}
        assert _items(group, "NUM") == []


def test_every_lexicon_term_and_category_has_a_code():
    for name, terms in lexicon.DESCRIPTORS.items():
        assert set(dc.DESCRIPTOR_VALUES[name]) == set(terms) and name in dc.DESCRIPTOR_NAMES
    for category in ("BI-RADS 0", "BI-RADS 5", "BI-RADS 4c", "BI-RADS 6", "TI-RADS 4a", "3"):
        code = dc.category_code(category)
        assert len(code.value) <= 16 and len(code.meaning) <= 64
    assert dc.category_code("BI-RADS 5").value == "397145000"
    assert dc.category_code("TI-RADS 4a").value == "TIRADS-4A"


def test_an_sr_that_does_not_read_back_publishes_nothing(us_store, tmp_path, monkeypatch, capsys):
    folder, _, _ = us_store

    def unreadable(path):
        raise ValueError("truncated")

    monkeypatch.setattr(dicom_sr.hd.sr, "srread", unreadable)
    assert main(["export", str(folder), "--format", "dicom-seg", "--out", str(tmp_path / "out")]) == 1
    assert "the DICOM SR cannot be read back (truncated)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(shutil.which("dsrdump") is None, reason="dcmtk's dsrdump is not installed")
def test_dsrdump_reads_the_sr(us_store, tmp_path):
    folder, frame_id, _ = us_store
    with Store.open(folder) as store:
        sr = dicom_results(store, frame_id)[-1]
    sr.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    result = subprocess.run(["dsrdump", str(tmp_path / "sr.dcm")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for text in (
        "Imaging Measurement Report",
        "Long axis",
        "Spiculated lesion",
        "Suggested by model",
        "c5net-7",
    ):
        assert text in result.stdout
