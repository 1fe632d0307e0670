"""Synthetic DICOM: colour models, bit depths and calibration cases the real samples do not cover."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from io_helpers import dicom_dataset, write_dicom
from pydicom.dataset import Dataset
from pydicom.pixels import convert_color_space

from c5desk.io import open_source


def _ramp(rows: int, cols: int, top: int, dtype: type) -> np.ndarray:
    return np.linspace(0, top, rows * cols).reshape(rows, cols).round().astype(dtype)


def _region(x0: int, y0: int, x1: int, y1: int, fmt: int, dtype: int, units: int, delta: float) -> Dataset:
    item = Dataset()
    item.RegionSpatialFormat, item.RegionDataType = fmt, dtype
    item.RegionLocationMinX0, item.RegionLocationMinY0 = x0, y0
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x1, y1
    item.PhysicalUnitsXDirection = item.PhysicalUnitsYDirection = units
    item.PhysicalDeltaX, item.PhysicalDeltaY = delta, -delta  # the sign only gives the direction
    return item


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    stored = _ramp(16, 20, 255, np.uint8)
    path = write_dicom(tmp_path / "m1.dcm", dicom_dataset(stored, "MONOCHROME1"))
    frame = open_source(path).frame(0)
    assert np.array_equal(frame.pixels, 255 - stored)
    assert np.array_equal(frame.grey, 255 - stored)


def test_twelve_bit_grey_is_stretched_by_its_range_not_shifted(tmp_path: Path) -> None:
    stored = _ramp(16, 20, 4095, np.uint16)
    path = write_dicom(tmp_path / "g12.dcm", dicom_dataset(stored, "MONOCHROME2", BitsStored=12, HighBit=11))
    with open_source(path) as source:
        frame, info = source.frame(0), source.info()
    assert frame.pixels.dtype == np.uint16 and np.array_equal(frame.pixels, stored)  # kept as stored
    assert frame.grey.min() == 0 and frame.grey.max() == 255  # >>8 would stop at 15
    assert np.all(np.diff(frame.grey.ravel().astype(int)) >= 0)
    assert info["bits_stored"] == 12 and info["display"] == "grey"


def test_voi_window_drives_the_grey_image(tmp_path: Path) -> None:
    stored = _ramp(16, 20, 4095, np.uint16)
    ds = dicom_dataset(stored, "MONOCHROME2", BitsStored=12, HighBit=11, WindowCenter=1000, WindowWidth=400)
    frame = open_source(write_dicom(tmp_path / "win.dcm", ds)).frame(0)
    assert np.all(frame.grey[stored <= 800] == 0)
    assert np.all(frame.grey[stored >= 1200] == 255)
    middle = frame.grey[(stored > 850) & (stored < 1150)]
    assert middle.min() > 0 and middle.max() < 255


def test_signed_pixels_become_displayable(tmp_path: Path) -> None:
    stored = _ramp(16, 20, 2000, np.int32).astype(np.int16) - 1000
    ds = dicom_dataset(stored.view(np.uint16), "MONOCHROME2", PixelRepresentation=1)
    frame = open_source(write_dicom(tmp_path / "signed.dcm", ds)).frame(0)
    assert frame.pixels.dtype == np.uint8
    assert frame.grey[0, 0] == 0 and frame.grey[-1, -1] == 255


def test_native_ybr_full_is_converted_to_rgb(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(30, 220, size=(12, 16, 3), dtype=np.uint8)
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    frame = open_source(write_dicom(tmp_path / "ybr.dcm", dicom_dataset(ybr, "YBR_FULL"))).frame(0)
    assert np.abs(frame.pixels.astype(int) - rgb).max() <= 2


def test_native_ybr_full_422_is_upsampled_and_converted(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rgb = np.repeat(rng.integers(30, 220, size=(12, 8, 3), dtype=np.uint8), 2, axis=1)  # pairs share colour
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    pairs = ybr.reshape(12, 8, 2, 3)
    packed = np.stack([pairs[:, :, 0, 0], pairs[:, :, 1, 0], pairs[:, :, 0, 1], pairs[:, :, 0, 2]], axis=-1)
    ds = dicom_dataset(rgb, "RGB")
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = packed.astype(np.uint8).tobytes()
    frame = open_source(write_dicom(tmp_path / "ybr422.dcm", ds)).frame(0)
    assert frame.pixels.shape == (12, 16, 3)
    assert np.abs(frame.pixels.astype(int) - rgb).max() <= 2


def _palette_dataset(stored: np.ndarray, depth: int, first: int) -> Dataset:
    ds = dicom_dataset(stored, "PALETTE COLOR")
    entries = 256
    ramp = np.arange(entries)
    luts = {"Red": ramp, "Green": 255 - ramp, "Blue": (ramp * 7) % 256}
    for colour, lut in luts.items():
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [entries, first, depth])
        data = lut.astype(np.uint8) if depth == 8 else (lut * 257).astype("<u2")
        setattr(ds, f"{colour}PaletteColorLookupTableData", data.tobytes())
    return ds


@pytest.mark.parametrize("depth", [8, 16])
def test_palette_lookup_tables_of_8_and_16_bits(tmp_path: Path, depth: int) -> None:
    stored = _ramp(10, 12, 255, np.uint8)
    path = write_dicom(tmp_path / "pal.dcm", _palette_dataset(stored, depth, first=0))
    frame = open_source(path).frame(0)
    assert frame.pixels.dtype == np.uint8 and frame.pixels.shape == (10, 12, 3)
    assert np.array_equal(frame.pixels[..., 0], stored)
    assert np.array_equal(frame.pixels[..., 1], 255 - stored)
    assert np.array_equal(frame.pixels[..., 2], (stored.astype(int) * 7 % 256).astype(np.uint8))


def test_palette_values_outside_the_table_take_its_end_entries(tmp_path: Path) -> None:
    stored = np.array([[0, 5, 10, 11], [200, 255, 255, 20]], np.uint8)
    frame = open_source(write_dicom(tmp_path / "p.dcm", _palette_dataset(stored, 8, first=10))).frame(0)
    red = frame.pixels[..., 0].astype(int)
    assert red[0, :3].tolist() == [0, 0, 0]  # below first mapped value -> first entry
    assert red[0, 3] == 1 and red[1, 3] == 10
    assert red[1, 1] == 245  # 255 - 10


def test_multi_frame_native_decodes_each_frame(tmp_path: Path) -> None:
    frames = np.stack([np.full((8, 10), 40 * i, np.uint8) for i in range(5)])
    path = write_dicom(tmp_path / "cine.dcm", dicom_dataset(frames, "MONOCHROME2", frames=5, FrameTime=25))
    with open_source(path) as source:
        assert len(source) == 5
        assert [int(source.frame(i).pixels[0, 0]) for i in (3, 0, 4)] == [120, 0, 160]
        assert [f.index for f in source] == [0, 1, 2, 3, 4]
        assert source.frame(-1).index == 4
        with pytest.raises(IndexError):
            source.frame(5)
        assert source.info()["metadata"]["frame_time_ms"] == 25


def test_file_without_meta_header_opens(tmp_path: Path) -> None:
    stored = _ramp(8, 8, 200, np.uint8)
    ds = dicom_dataset(stored, "MONOCHROME2")
    path = tmp_path / "raw.dcm"
    del ds.file_meta
    ds.save_as(path, enforce_file_format=False, implicit_vr=True, little_endian=True)
    assert path.read_bytes()[128:132] != b"DICM"
    assert np.array_equal(open_source(path).frame(0).pixels, stored)


def test_pixel_spacing_is_the_fallback_calibration(tmp_path: Path) -> None:
    ds = dicom_dataset(_ramp(8, 8, 200, np.uint8), "MONOCHROME2", PixelSpacing=[0.2, 0.1])
    with open_source(write_dicom(tmp_path / "ps.dcm", ds)) as source:
        assert source.frame(0).mm_per_px == pytest.approx((0.1, 0.2))  # (x = column, y = row)
        assert source.info()["calibration"] == "pixel_spacing"
    ds = dicom_dataset(_ramp(8, 8, 200, np.uint8), "MONOCHROME2", ImagerPixelSpacing=[0.3, 0.3])
    with open_source(write_dicom(tmp_path / "ips.dcm", ds)) as source:
        assert source.frame(0).mm_per_px == pytest.approx((0.3, 0.3))
        assert source.info()["calibration"] == "imager_pixel_spacing"


def test_analysis_region_is_the_tissue_region_holding_the_centre(tmp_path: Path) -> None:
    ds = dicom_dataset(np.zeros((100, 200), np.uint8), "MONOCHROME2", PixelSpacing=[0.5, 0.5])
    ds.SequenceOfUltrasoundRegions = [
        _region(150, 0, 199, 20, fmt=0, dtype=14, units=0, delta=0.0),  # colour bar
        _region(0, 0, 60, 99, fmt=1, dtype=1, units=3, delta=0.05),  # small tissue view, off centre
        _region(60, 10, 149, 89, fmt=1, dtype=1, units=3, delta=0.02),  # tissue view holding the centre
        _region(90, 30, 120, 60, fmt=1, dtype=2, units=3, delta=0.02),  # colour-flow box inside it
        _region(0, 90, 199, 99, fmt=2, dtype=1, units=4, delta=0.01),  # M-mode strip in seconds
    ]
    with open_source(write_dicom(tmp_path / "regions.dcm", ds)) as source:
        frame, info = source.frame(0), source.info()
    assert (frame.region.x0, frame.region.y0, frame.region.x1, frame.region.y1) == (60, 10, 150, 90)
    assert frame.mm_per_px == pytest.approx((0.2, 0.2))  # 0.02 cm, not PixelSpacing's 0.5 mm
    assert info["calibration"] == "ultrasound_regions"
    kinds = [r["kind"] for r in info["regions"]]
    assert kinds == ["color_bar", "tissue", "tissue", "color_flow", "m_mode"]
    assert info["regions"][4]["mm_per_px"] is None  # seconds are not a length


def test_regions_without_length_units_leave_the_frame_uncalibrated(tmp_path: Path) -> None:
    ds = dicom_dataset(np.zeros((50, 50), np.uint8), "MONOCHROME2")
    ds.SequenceOfUltrasoundRegions = [_region(0, 0, 49, 49, fmt=1, dtype=1, units=0, delta=0.1)]
    with open_source(write_dicom(tmp_path / "nounits.dcm", ds)) as source:
        frame = source.frame(0)
    assert frame.mm_per_px is None and frame.region is not None and frame.region.mm_per_px_x is None


def test_laterality_and_view_reach_the_meta_for_grouping_views(tmp_path: Path) -> None:
    ds = dicom_dataset(
        _ramp(8, 8, 200, np.uint8), "MONOCHROME2", ImageLaterality="L", ViewPosition="CC", PatientName="Doe^J"
    )
    with open_source(write_dicom(tmp_path / "lat.dcm", ds)) as source:
        meta = source.frame(0).meta
    assert (meta["image_laterality"], meta["view_position"]) == ("L", "CC")
    assert "Doe" not in repr(meta)  # only the description of the view, never the patient
