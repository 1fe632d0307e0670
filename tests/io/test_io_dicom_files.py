"""Every ultrasound file of pydicom-data opens with the right frame count, size and colours."""

from __future__ import annotations

import json
import tracemalloc

import cv2
import numpy as np
import pydicom
import pydicom.pixels.decoders.base as decoder_base
import pytest
from io_helpers import EXPECTED, US_FILES, dicom_sample
from pydicom.encaps import get_frame

from c5desk.io import open_source
from c5desk.io.source import FRAME_CACHE_SIZE


def test_expected_table_covers_every_ultrasound_file() -> None:
    for name in US_FILES:
        assert pydicom.dcmread(dicom_sample(name), stop_before_pixels=True).Modality == "US"


@pytest.mark.parametrize("name", US_FILES)
def test_ultrasound_file_opens_with_right_shape_and_colours(name: str) -> None:
    frames, rows, cols, colour_model = EXPECTED[name]
    with open_source(dicom_sample(name)) as source:
        info = source.info()
        last = source.frame(len(source) - 1)
        first = source.frame(0)
    assert len(source) == info["frames"] == frames
    assert (info["rows"], info["cols"], info["colour_model"]) == (rows, cols, colour_model)
    grey_file = colour_model.startswith("MONOCHROME")
    assert first.pixels.shape == ((rows, cols) if grey_file else (rows, cols, 3))
    assert first.grey.shape == (rows, cols) and first.grey.dtype == np.uint8
    assert (first.index, last.index) == (0, frames - 1)
    assert first.source_id != last.source_id or frames == 1
    assert first.pixels.std() > 5, "decoded frame is flat: wrong decoding"
    json.dumps(info)  # serialisable


def _pixels(name: str, index: int = 0) -> np.ndarray:
    with open_source(dicom_sample(name)) as source:
        return source.frame(index).pixels.astype(np.int32)


def test_jpeg2000_lossless_matches_uncompressed() -> None:
    assert np.array_equal(_pixels("US1_J2KR.dcm"), _pixels("US1_UNCR.dcm"))


def test_jpeg2000_lossy_is_close_to_its_uncompressed_source() -> None:
    assert np.abs(_pixels("US1_J2KI.dcm") - _pixels("US1_UNCI.dcm")).mean() < 2.0


def test_planar_and_interleaved_rgb_are_identical() -> None:
    assert np.array_equal(_pixels("color-pl.dcm"), _pixels("color-px.dcm"))


@pytest.mark.parametrize("index", [0, 60])
def test_jpeg_baseline_ybr_is_converted_once_to_rgb(index: int) -> None:
    """Reference: the frame's own JPEG decoded by OpenCV (JFIF YCbCr -> RGB). A missing or doubled
    conversion would give green/purple frames."""
    path = dicom_sample("color3d_jpeg_baseline.dcm")
    ds = pydicom.dcmread(path)
    jpeg = get_frame(ds.PixelData, index, number_of_frames=int(ds.NumberOfFrames))
    reference = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    ours = _pixels("color3d_jpeg_baseline.dcm", index)
    assert np.abs(ours - reference.astype(np.int32)).mean() < 1.0
    red, green, blue = ours.reshape(-1, 3).mean(axis=0)
    assert green < red + 10 and green < blue + 10, "green cast: YBR shown as RGB"


def test_palette_files_agree_across_encodings() -> None:
    """Little/big endian and RLE encode the same palette image; pydicom alone gets big-endian LUTs wrong."""
    reference = _pixels("OBXXXX1A.dcm")
    for name in ("OBXXXX1A_expb.dcm", "OBXXXX1A_rle.dcm", "OBXXXX1A_2frame.dcm"):
        assert np.array_equal(_pixels(name), reference), name
    assert np.array_equal(_pixels("gdcm-US-ALOKA-16_big.dcm"), _pixels("gdcm-US-ALOKA-16.dcm"))


def test_palette_colours_match_the_lookup_table() -> None:
    path = dicom_sample("OBXXXX1A.dcm")
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array
    red_lut = np.frombuffer(ds.RedPaletteColorLookupTableData, "<u2")
    blue_lut = np.frombuffer(ds.BluePaletteColorLookupTableData, "<u2")
    ours = _pixels("OBXXXX1A.dcm")
    assert np.array_equal(ours[..., 0], red_lut[stored] >> 8)
    assert np.array_equal(ours[..., 2], blue_lut[stored] >> 8)
    assert ours.max() > 200  # 16-bit LUT entries scaled to the full 8-bit display range


@pytest.mark.parametrize(
    ("name", "cm_per_px"),
    [("JPGLosslessP14SV1_1s_1f_8b.dcm", 0.02548), ("gdcm-US-ALOKA-16.dcm", 0.03827)],
)
def test_known_calibrations(name: str, cm_per_px: float) -> None:
    with open_source(dicom_sample(name)) as source:
        frame, info = source.frame(0), source.info()
    assert frame.mm_per_px == pytest.approx((cm_per_px * 10, cm_per_px * 10), abs=5e-4)
    assert info["calibration"] == "ultrasound_regions"
    assert frame.region is not None and frame.region.kind == "tissue"
    assert frame.region.contains(frame.shape[1] / 2 - 1, frame.shape[0] / 2)


def test_dual_view_takes_the_region_holding_the_centre() -> None:
    """ALOKA holds two side-by-side tissue regions and a grey bar; the left one holds the centre."""
    with open_source(dicom_sample("gdcm-US-ALOKA-16.dcm")) as source:
        region, info = source.frame(0).region, source.info()
    assert (region.x0, region.y0, region.x1, region.y1) == (32, 24, 336, 416)  # DICOM max 335/415 inclusive
    assert len(info["regions"]) == 3
    assert [r["kind"] for r in info["regions"]] == ["tissue", "tissue", "grey_bar"]


def test_files_without_regions_are_uncalibrated() -> None:
    with open_source(dicom_sample("US1_UNCR.dcm")) as source:
        frame = source.frame(0)
    assert frame.mm_per_px is None and frame.region is None and not frame.calibrated


def test_frame_zero_of_a_long_cine_decodes_only_that_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[int] = []
    original = decoder_base.DecodeRunner._decode_frame

    def counting(self: decoder_base.DecodeRunner, src: bytes) -> bytes | bytearray:
        decoded.append(1)
        return original(self, src)

    monkeypatch.setattr(decoder_base.DecodeRunner, "_decode_frame", counting)
    with open_source(dicom_sample("color3d_jpeg_baseline.dcm")) as source:
        assert decoded == []  # opening decodes nothing
        source.frame(0)
        assert len(decoded) == 1
        source.frame(0)  # cached
        source.frame(119)
    assert len(decoded) == 2


def test_stepping_through_a_cine_keeps_memory_bounded() -> None:
    """30 decoded RGB frames (pixels + grey) take over 36 MB; stepping must hold only a few at a time."""
    tracemalloc.start()
    try:
        with open_source(dicom_sample("color3d_jpeg_baseline.dcm")) as source:
            for index in range(30):
                assert source.frame(index).pixels.shape == (480, 640, 3)
                assert len(source._cache) <= FRAME_CACHE_SIZE
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 25e6


def test_metadata_has_no_patient_data() -> None:
    path = dicom_sample("US1_UNCR.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    with open_source(path) as source:
        text = json.dumps(source.info()) + json.dumps(source.frame(0).meta) + source.frame(0).source_id
    secrets = [
        str(ds.get(k))
        for k in (
            "PatientName",
            "PatientID",
            "StudyDate",
            "SOPInstanceUID",
            "StudyInstanceUID",
            "InstitutionName",
        )
        if ds.get(k)
    ]
    assert secrets, "the test file should carry identifying data to check"
    for secret in secrets:
        assert secret not in text
    meta = source.frame(0).meta
    assert meta["modality"] == "US" and meta["manufacturer"] and meta["rows"] == 480
