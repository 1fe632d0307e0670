"""DICOM SEG export: de-identified Secondary Capture + SEG by default; with --keep-identity, a SEG that
references the original DICOM image and frame, found again by recomputing salted source ids."""

from __future__ import annotations

import warnings

import highdicom as hd
import numpy as np
import pydicom
import pytest
from store_helpers import blob_mask, synthetic_frame

from c5desk.cli import main
from c5desk.io import open_source
from c5desk.store import Store
from c5desk.store.identity import index_dicom_sources

pydicom_data = pytest.importorskip("pydicom.data")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # highdicom's style advice


def _read_seg(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hd.seg.segread(path)


def test_default_export_is_a_deidentified_capture_and_seg(tmp_path):
    folder = tmp_path / "store"
    with Store.create(folder) as store:
        grey = store.add_frame(synthetic_frame(1))
        colour = store.add_frame(synthetic_frame(2, rgb=True))
        normal = store.add_frame(synthetic_frame(3))
        store.save_annotation(grey, blob_mask(1), "malignant")
        store.save_annotation(colour, blob_mask(2), "benign")
        store.save_annotation(normal, np.zeros((48, 64), bool), "normal")
    assert main(["export", str(folder), "--format", "dicom-seg", "--out", str(tmp_path / "out")]) == 0
    with Store.open(folder) as store:
        for frame_id in (grey, colour):
            record = store.frame_record(frame_id)
            base = tmp_path / "out" / record.case / record.stem
            capture = pydicom.dcmread(f"{base}_sc.dcm")
            seg = _read_seg(f"{base}_seg.dcm")
            assert np.array_equal(capture.pixel_array, store.frame_image(frame_id))
            pixels = seg.get_pixels_by_source_instance([capture.SOPInstanceUID], segment_numbers=[1])
            assert np.array_equal(pixels[0, ..., 0] > 0, store.mask(frame_id))
            assert str(seg.PatientName) == f"{record.case}^" and seg.PatientID == record.case
            assert seg.StudyInstanceUID == capture.StudyInstanceUID and seg.PatientIdentityRemoved == "YES"
            assert seg.StudyDate == "" and "InstitutionName" not in seg
        assert not list((tmp_path / "out").glob(f"*/{store.frame_record(normal).stem}*"))


def test_source_ids_recomputed_from_headers_match_the_readers(tmp_path):
    cine = pydicom_data.get_testdata_file("OBXXXX1A_2frame.dcm")
    still = pydicom_data.get_testdata_file("US1_J2KR.dcm")
    index = index_dicom_sources([cine, still, tmp_path])
    for path in (cine, still):
        with open_source(path) as source:
            for frame in source:
                ref = index[frame.source_id]
                assert (str(ref.path), ref.frame_index, ref.number_of_frames) == (
                    path,
                    frame.index,
                    len(source),
                )


def test_keep_identity_references_the_original_image_and_cine_frame(tmp_path, capsys):
    still = pydicom_data.get_testdata_file("US1_UNCR.dcm")
    cine = pydicom_data.get_testdata_file("color3d_jpeg_baseline.dcm")
    folder = tmp_path / "store"
    assert main(["import", str(folder), still, cine, "--max-frames", "3"]) == 0
    with Store.open(folder) as store:
        targets = {}
        for path, index in ((still, 0), (cine, 2)):
            with open_source(path) as source:
                frame = source.frame(index)
            frame_id = store.frame_id_for(frame.source_id)
            store.save_annotation(frame_id, blob_mask(index, frame.shape, noise=40), "malignant")
            targets[frame_id] = (path, index)
        records = {frame_id: store.frame_record(frame_id) for frame_id in targets}
    sources = tmp_path / "sources"
    sources.mkdir()
    for path, _ in targets.values():
        (sources / path.rsplit("/", 1)[-1]).symlink_to(path)
    out = tmp_path / "pacs"
    args = ["export", str(folder), "--format", "dicom-seg", "--out", str(out), "--keep-identity"]
    assert main([*args, "--dicom-sources", str(sources)]) == 0
    with Store.open(folder) as store:
        for frame_id, (path, index) in targets.items():
            original = pydicom.dcmread(path, stop_before_pixels=True)
            record = records[frame_id]
            seg = _read_seg(out / record.case / f"{record.stem}_seg.dcm")
            assert (
                seg.PatientName == original.PatientName and seg.StudyInstanceUID == original.StudyInstanceUID
            )
            if int(original.get("NumberOfFrames", 1)) > 1:
                pixels = seg.get_pixels_by_source_frame(
                    original.SOPInstanceUID, [index + 1], segment_numbers=[1]
                )
                reference = (
                    seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
                )
                assert reference.ReferencedFrameNumber == index + 1
                assert reference.ReferencedSOPClassUID == original.SOPClassUID
            else:
                pixels = seg.get_pixels_by_source_instance([original.SOPInstanceUID], segment_numbers=[1])
            assert np.array_equal(pixels[0, ..., 0] > 0, store.mask(frame_id))
        assert not list(out.glob("*/*_sc.dcm"))  # the originals are referenced, not copied
    assert main([*args[:5], str(tmp_path / "no-sources"), "--keep-identity"]) == 1
    assert "--keep-identity needs --dicom-sources" in capsys.readouterr().err
    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    (unrelated / "x.dcm").symlink_to(pydicom_data.get_testdata_file("OBXXXX1A.dcm"))
    assert (
        main([*args[:5], str(tmp_path / "other"), "--keep-identity", "--dicom-sources", str(unrelated)]) == 0
    )
    assert capsys.readouterr().out.count("no matching DICOM file") == 2
