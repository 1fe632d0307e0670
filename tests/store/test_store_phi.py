"""PHI by construction: every pydicom-data ultrasound file (plus one with every identity field filled)
goes through `c5desk import`, is annotated, scored, autosaved and exported in every format; then every
byte of the store folder and of every export is searched for the files' identifying values and paths.

Identifying values are read from the files with pydicom: names, IDs, birth dates, accession numbers,
institutions, physicians and operators, station and device identifiers, study descriptions, every date
and time, and every non-standard UID. Values shorter than 4 characters are skipped (they would match by
chance); digits-only or date-like values must not appear as a whole number (not merely inside another
number, e.g. a measurement's decimals).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid
from store_helpers import blob_mask

from c5desk.cli import main
from c5desk.store import Store

pydicom_data = pytest.importorskip("pydicom.data")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ULTRASOUND_FILES = (
    "US1_UNCR", "US1_UNCI", "US1_J2KR", "US1_J2KI", "OBXXXX1A", "OBXXXX1A_2frame", "OBXXXX1A_expb",
    "OBXXXX1A_expb_2frame", "OBXXXX1A_rle", "OBXXXX1A_rle_2frame", "gdcm-US-ALOKA-16", "gdcm-US-ALOKA-16_big",
    "color-pl", "color-px", "color3d_jpeg_baseline", "JPGLosslessP14SV1_1s_1f_8b",
)  # fmt: skip
IDENTITY_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "PatientAddress",
    "PatientTelephoneNumbers", "OtherPatientIDs", "OtherPatientNames", "PatientMotherBirthName",
    "AccessionNumber", "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "ReferringPhysicianName", "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "PhysiciansOfRecord",
    "OperatorsName", "RequestingPhysician", "StationName", "DeviceSerialNumber", "StudyID",
    "StudyDescription", "SeriesDescription", "ProtocolName", "PerformedProcedureStepID",
    "PerformedProcedureStepDescription", "RequestedProcedureDescription", "AdditionalPatientHistory",
)  # fmt: skip
MIN_CHARS = 4


def _rich_identity_copy(folder: Path) -> Path:
    """US1_UNCR with every identity field the samples leave empty filled in, under an identifying name."""
    ds = pydicom.dcmread(pydicom_data.get_testdata_file("US1_UNCR.dcm"))
    ds.PatientName = "Doe^Jane^Quincy"
    ds.PatientID = "MRN-0048151623"
    ds.PatientBirthDate = "19580417"
    ds.OtherPatientIDs = "ALT-99887766"
    ds.PatientAddress = "17 Harbour Lane, Springfield"
    ds.AccessionNumber = "ACC20240117X"
    ds.InstitutionName = "Saint Elsewhere Hospital"
    ds.InstitutionAddress = "1 Hospital Way, Springfield"
    ds.ReferringPhysicianName = "House^Gregory"
    ds.PerformingPhysicianName = "Quinn^Michaela"
    ds.OperatorsName = "Sonographer^Sally"
    ds.StudyDescription = "Left breast lump follow-up"
    ds.StudyDate = ds.ContentDate = "20240117"
    ds.StudyTime = "093015"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = (generate_uid() for _ in range(3))
    path = folder / "Doe_Jane_MRN-0048151623" / "Doe_Jane_breast_2024-01-17.dcm"
    path.parent.mkdir(parents=True)
    ds.save_as(path)
    return path


def _phi_values(path: Path) -> set[str]:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    values: set[str] = set()
    for element in ds.iterall():
        keyword, vr = element.keyword, element.VR
        is_identity = keyword in IDENTITY_KEYWORDS or vr in ("DA", "DT", "TM")
        is_private_uid = vr == "UI" and not str(element.value).startswith("1.2.840.10008.")
        if not (is_identity or is_private_uid) or element.value in (None, ""):
            continue
        for value in element.value if element.VM > 1 else [element.value]:
            text = str(value).strip()
            values.add(text)
            if vr == "PN":
                values.update(part for part in re.split(r"[\^=]", text) if part)
            if vr == "DA" and re.fullmatch(r"\d{8}", text):
                values.add(f"{text[:4]}-{text[4:6]}-{text[6:]}")  # as an ISO date, too
    return {v for v in values if len(v) >= MIN_CHARS}


def _path_values(path: Path) -> set[str]:
    return {str(path), str(path.parent), path.name, path.stem, str(path.resolve())}


def _occurs(value: str, data: bytes) -> bool:
    needle = value.encode("utf-8")
    if needle not in data:  # the fast test; the pattern only decides the rare hits
        return False
    if re.fullmatch(r"[\d.:\-]+", value):  # numbers, dates, times, UIDs: not as part of a longer number
        return re.search(rb"(?<![\d.])" + re.escape(needle) + rb"(?![\d])", data) is not None
    if re.fullmatch(r"[A-Za-z]+", value):  # a word, not part of a longer one (the SR value type "PNAME")
        return re.search(rb"(?<![A-Za-z])" + re.escape(needle) + rb"(?![A-Za-z])", data) is not None
    return True


def _annotate_everything(store_dir: Path) -> int:
    with Store.open(store_dir) as store:
        frames = store.frames()
        store.register_model_version("c5net-test", metrics={"auc": 0.9})
        for number, record in enumerate(frames):
            mask = blob_mask(number, (record.height, record.width), noise=30)
            store.add_prediction(
                record.id, "c5net-test", 0.2 + 0.6 * (number % 2), 0.4, np.roll(mask, 3, axis=1)
            )
            label = ("benign", "malignant", "unsure")[number % 3]
            store.save_annotation(
                record.id, mask, label, "BI-RADS 4b", "margin irregular", model_version="c5net-test"
            )
        store.journal_write(
            frames[0].id, blob_mask(99, (frames[0].height, frames[0].width)), "benign", note="wip"
        )
        return len(frames)


def test_no_identity_or_path_reaches_the_store_or_any_export(tmp_path):
    inputs = tmp_path / "inputs"
    sources = [pydicom_data.get_testdata_file(f"{name}.dcm") for name in ULTRASOUND_FILES]
    assert all(sources), "pydicom-data lacks an ultrasound sample"
    sources = [Path(s) for s in sources]
    rich = _rich_identity_copy(inputs)
    copies = inputs / "Doe_Jane_all_exams"
    copies.mkdir()
    for source in sources:  # also read them from a folder whose name identifies the patient
        shutil.copyfile(source, copies / source.name)
    store_dir = tmp_path / "store"
    assert main(["import", str(store_dir), *map(str, sources), str(rich), "--max-frames", "2"]) == 0
    assert main(["import", str(store_dir), str(copies), "--max-frames", "2"]) == 0
    assert _annotate_everything(store_dir) >= 11  # variants of one SOP instance are one frame
    exports = tmp_path / "exports"
    exports.mkdir()  # an export does not create missing parent folders
    for fmt in ("masks", "coco", "csv", "labelled-folder", "report"):
        assert main(["export", str(store_dir), "--format", fmt, "--out", str(exports / fmt)]) == 0
    seg_args = ["export", str(store_dir), "--format", "dicom-seg", "--out", str(exports / "dicom-seg")]
    assert main([*seg_args, "--dicom-sources", str(inputs)]) == 0  # sources given, default still anonymous

    wanted: dict[str, str] = {}
    for path in [*sources, rich, *copies.iterdir()]:
        for value in _phi_values(path) | _path_values(path):
            wanted.setdefault(value, path.name)
    assert {"Quincy", "Jane", "MRN-0048151623", "CompressedSamples", "BAPTIST MED CTR", "20040826"} <= set(
        wanted
    )

    searched = [p for root in (store_dir, exports) for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite" for p in searched) and any(p.name.endswith("_seg.dcm") for p in searched)
    assert any(p.parent.name == "journal" for p in searched)
    leaks = []
    for path in searched:
        data = path.read_bytes()
        leaks += [
            f"{path.relative_to(tmp_path)}: {v!r} (from {wanted[v]})" for v in wanted if _occurs(v, data)
        ]
    assert leaks == [], "\n".join(leaks[:20])


def test_the_search_does_find_identity_when_it_is_there(tmp_path):
    """The same search, run on the identified export (--keep-identity), must find the patient."""
    rich = _rich_identity_copy(tmp_path / "inputs")
    store_dir, out = tmp_path / "store", tmp_path / "pacs"
    assert main(["import", str(store_dir), str(rich)]) == 0
    _annotate_everything(store_dir)
    args = ["export", str(store_dir), "--format", "dicom-seg", "--out", str(out), "--keep-identity"]
    assert main([*args, "--dicom-sources", str(rich.parent)]) == 0
    data = b"".join(p.read_bytes() for p in out.rglob("*.dcm"))
    found = {v for v in _phi_values(rich) if _occurs(v, data)}
    assert {"Doe^Jane^Quincy", "MRN-0048151623", "20240117"} <= found
