"""Helpers for the c5desk.io tests: real files from pydicom-data and BUS-BRA, synthetic DICOM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundImageStorage, generate_uid

from c5desk import settings

# Every file of pydicom-data whose Modality is US: name -> (frames, rows, cols, colour model as stored).
EXPECTED = {
    "US1_UNCR.dcm": (1, 480, 640, "RGB"),
    "US1_UNCI.dcm": (1, 480, 640, "RGB"),
    "US1_J2KR.dcm": (1, 480, 640, "YBR_RCT"),
    "US1_J2KI.dcm": (1, 480, 640, "YBR_ICT"),
    "OBXXXX1A.dcm": (1, 600, 800, "PALETTE COLOR"),
    "OBXXXX1A_2frame.dcm": (2, 600, 800, "PALETTE COLOR"),
    "OBXXXX1A_expb.dcm": (1, 600, 800, "PALETTE COLOR"),
    "OBXXXX1A_expb_2frame.dcm": (2, 600, 800, "PALETTE COLOR"),
    "OBXXXX1A_rle.dcm": (1, 600, 800, "PALETTE COLOR"),
    "OBXXXX1A_rle_2frame.dcm": (2, 600, 800, "PALETTE COLOR"),
    "gdcm-US-ALOKA-16.dcm": (1, 480, 640, "PALETTE COLOR"),
    "gdcm-US-ALOKA-16_big.dcm": (1, 480, 640, "PALETTE COLOR"),
    "color-pl.dcm": (1, 120, 256, "RGB"),
    "color-px.dcm": (1, 120, 256, "RGB"),
    "color3d_jpeg_baseline.dcm": (120, 480, 640, "YBR_FULL_422"),
    "JPGLosslessP14SV1_1s_1f_8b.dcm": (1, 768, 1024, "MONOCHROME2"),
}
US_FILES = list(EXPECTED)


def dicom_sample(name: str) -> Path:
    """A pydicom test file, never downloaded (skip when pydicom-data is not installed)."""
    found = get_testdata_file(name, download=False)
    if not found:
        pytest.skip(f"{name} not available: install the test dependency pydicom-data")
    return Path(found)


def busbra_image(name: str = "bus_0001-l.png") -> Path:
    path = settings.data_root() / "busbra" / "Images" / name
    if not path.is_file():
        pytest.skip(f"BUS-BRA data not found at {path}")
    return path


def dicom_dataset(pixels: np.ndarray, photometric: str, frames: int = 1, **attributes: object) -> Dataset:
    """A minimal ultrasound DICOM dataset holding `pixels` natively, little endian; (frames, rows, cols[, 3])
    when frames > 1. Carries a patient name and ID so tests can check they never leak."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UltrasoundImageStorage
    ds.SOPClassUID = UltrasoundImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "US"
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "SECRET-ID-123"
    ds.Rows, ds.Columns = pixels.shape[1:3] if frames > 1 else pixels.shape[:2]
    ds.SamplesPerPixel = 3 if photometric in ("RGB", "YBR_FULL") else 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if ds.SamplesPerPixel == 3:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def write_dicom(path: Path, ds: Dataset) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path
