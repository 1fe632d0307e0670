"""Frames above 8 bits are shown through the file's own Modality and VOI LUTs, as pydicom applies them.

The expectation is always computed here from pydicom directly: Modality LUT, then VOI LUT, its output
range (the standard's: a VOI LUT's entry depth, else the modality output range) mapped to 0..255.
A file without a usable VOI is stretched over its own range; a bad one never fails the read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_helpers import dicom_dataset, dicom_sample, write_dicom
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.tag import Tag

from c5desk.io import open_source

# pydicom-data files: monochrome, more than 8 bits stored, a Window Center/Width.
WINDOWED = {
    "MR_small.dcm": "16 bits signed, no rescale",
    "MR_small_bigendian.dcm": "the same image, big endian",
    "693_UNCR.dcm": "14 bits signed, CT rescale (intercept -1024)",
    "MR2_UNCR.dcm": "12 bits unsigned, rescale slope 3.77",
    "MR-SIEMENS-DICOM-WithOverlays.dcm": "two windows: the first is the default",
    "RG3_UNCR.dcm": "MONOCHROME1, 10 bits",
}


def _voi_range(ds: Dataset) -> tuple[float, float]:
    """The VOI output range by PS3.3 C.11: a VOI LUT's entry depth; a window spans the modality output."""
    if ds.get("VOILUTSequence"):
        return 0.0, 2.0 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1
    if ds.get("ModalityLUTSequence"):
        low, high = 0, 2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1
    elif int(ds.PixelRepresentation) == 0:
        low, high = 0, 2 ** int(ds.BitsStored) - 1
    else:
        low, high = -(2 ** (int(ds.BitsStored) - 1)), 2 ** (int(ds.BitsStored) - 1) - 1
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        low = low * ds.RescaleSlope + ds.RescaleIntercept
        high = high * ds.RescaleSlope + ds.RescaleIntercept
    return float(low), float(high)


def _expected_grey(ds: Dataset, stored: np.ndarray) -> np.ndarray:
    """pydicom's Modality then VOI LUT mapped to 0..255 (rounding half up); MONOCHROME1 inverted."""
    low, high = _voi_range(ds)
    values = apply_voi_lut(apply_modality_lut(stored, ds), ds).astype(np.float64)
    grey = np.clip(np.floor((values - low) * (255.0 / (high - low)) + 0.5), 0, 255).astype(np.uint8)
    return 255 - grey if ds.PhotometricInterpretation == "MONOCHROME1" else grey


def _min_max(stored: np.ndarray) -> np.ndarray:
    data = stored.astype(np.float64)
    return np.floor((data - data.min()) * (255.0 / (data.max() - data.min())) + 0.5).astype(np.uint8)


def _ramp(rows: int = 16, cols: int = 20, top: int = 4095) -> np.ndarray:
    return np.linspace(0, top, rows * cols).reshape(rows, cols).round().astype(np.uint16)


def _twelve_bit(stored: np.ndarray, photometric: str = "MONOCHROME2", **attributes: object) -> Dataset:
    return dicom_dataset(stored, photometric, BitsStored=12, HighBit=11, **attributes)


def _read(tmp_path: Path, ds: Dataset, name: str = "voi.dcm") -> tuple[np.ndarray, dict]:
    with open_source(write_dicom(tmp_path / name, ds)) as source:
        return np.asarray(source.frame(0).grey), source.info()


def _raw(ds: Dataset, keyword: str, text: bytes) -> None:
    """Store `text` as the element's bytes, unchecked: how a broken scanner writes it."""
    tag = Tag(keyword)
    text += b" " * (len(text) % 2)
    ds[tag] = RawDataElement(tag, dictionary_VR(tag), len(text), text, 0, False, True)


# ---- pydicom-data files ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(WINDOWED))
def test_windowed_file_grey_is_pydicoms_voi(name: str) -> None:
    path = dicom_sample(name)
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array
    with open_source(path) as source:
        frame, info = source.frame(0), source.info()
    assert np.array_equal(frame.grey, _expected_grey(ds, stored)), WINDOWED[name]
    center = ds.WindowCenter[0] if ds["WindowCenter"].VM > 1 else ds.WindowCenter
    width = ds.WindowWidth[0] if ds["WindowWidth"].VM > 1 else ds.WindowWidth
    assert info["voi"] == f"window {float(center):g}/{float(width):g}"


def test_stored_pixels_are_kept() -> None:
    """Only the 8-bit grey changes: unsigned stored values stay as they are (MONOCHROME1 shown inverted)."""
    ds = pydicom.dcmread(dicom_sample("MR2_UNCR.dcm"))
    assert np.array_equal(open_source(dicom_sample("MR2_UNCR.dcm")).frame(0).pixels, ds.pixel_array)
    ds = pydicom.dcmread(dicom_sample("RG3_UNCR.dcm"))
    frame = open_source(dicom_sample("RG3_UNCR.dcm")).frame(0)
    assert frame.pixels.dtype == np.uint16 and np.array_equal(frame.pixels, 1023 - ds.pixel_array)


def test_monochrome1_file_is_inverted() -> None:
    ds = pydicom.dcmread(dicom_sample("RG3_UNCR.dcm"))
    grey = open_source(dicom_sample("RG3_UNCR.dcm")).frame(0).grey
    ds.PhotometricInterpretation = "MONOCHROME2"
    assert np.array_equal(grey, 255 - _expected_grey(ds, ds.pixel_array))


@pytest.mark.parametrize("name", ["CT_small.dcm", "emri_small.dcm"])
def test_file_without_voi_is_stretched_over_its_range(name: str) -> None:
    ds = pydicom.dcmread(dicom_sample(name))
    assert "WindowCenter" not in ds and "VOILUTSequence" not in ds
    with open_source(dicom_sample(name)) as source:
        grey, info = source.frame(0).grey, source.info()
    stored = ds.pixel_array if int(ds.get("NumberOfFrames", 1) or 1) == 1 else ds.pixel_array[0]
    assert grey.min() == 0 and grey.max() == 255
    assert np.abs(grey.astype(int) - _min_max(stored)).max() <= 1
    assert info["voi"] == "min-max"


def test_shared_functional_groups_give_the_window() -> None:
    """eCT_Supplemental.dcm (enhanced CT) keeps its rescale and window in the shared functional groups."""
    path = dicom_sample("eCT_Supplemental.dcm")
    ds = pydicom.dcmread(path)
    shared = ds.SharedFunctionalGroupsSequence[0]
    ds.update(shared.PixelValueTransformationSequence[0])
    ds.update(shared.FrameVOILUTSequence[0])
    with open_source(path) as source:
        greys, info = [source.frame(i).grey for i in range(len(source))], source.info()
    for index, grey in enumerate(greys):
        assert np.array_equal(grey, _expected_grey(ds, ds.pixel_array[index]))
    assert info["voi"] == "window 49/102"


def test_eight_bit_and_colour_files_are_unchanged() -> None:
    """vlut_04.dcm is 8-bit with a VOI LUT: shown as stored, as before."""
    ds = pydicom.dcmread(dicom_sample("vlut_04.dcm"))
    with open_source(dicom_sample("vlut_04.dcm")) as source:
        frame, info = source.frame(0), source.info()
    assert np.array_equal(frame.grey, ds.pixel_array) and info["voi"] is None
    assert open_source(dicom_sample("US1_UNCR.dcm")).info()["voi"] is None


# ---- synthetic: what the samples lack ----------------------------------------------------------------
def _lut_item(entries: int, bits: int, vr: str, count: int | None = None) -> Dataset:
    """A square-root LUT whose descriptor says `entries` (0: 65536) of `bits`; `count` entries stored."""
    count = count or entries or 65536
    table = (np.sqrt(np.linspace(0, 1, count)) * (2 ** min(bits, 16) - 1)).round().astype(np.uint16)
    item = Dataset()
    item.add(DataElement(0x00283002, "US", [entries, 0, bits]))
    value = table.astype("<u2").tobytes() if vr == "OW" else [int(v) for v in table]
    item.add(DataElement(0x00283006, vr, value))
    return item


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
@pytest.mark.parametrize("vr", ["OW", "US"])
def test_voi_lut_sequence_wins_over_the_window(tmp_path: Path, photometric: str, vr: str) -> None:
    stored = _ramp()
    ds = _twelve_bit(stored, photometric, WindowCenter=1000, WindowWidth=400)
    ds.VOILUTSequence = [_lut_item(4096, 16, vr)]
    grey, info = _read(tmp_path, ds)
    expected = _expected_grey(pydicom.dcmread(tmp_path / "voi.dcm"), stored)
    assert np.array_equal(grey, expected)
    assert len(np.unique(grey)) > 100  # the square root, not the narrow window
    assert info["voi"] == "VOI LUT (4096 entries, 16 bits)"


@pytest.mark.parametrize("function", ["SIGMOID", "LINEAR_EXACT"])
def test_voi_lut_function_is_honoured(tmp_path: Path, function: str) -> None:
    stored = _ramp()
    ds = _twelve_bit(stored, WindowCenter=1000, WindowWidth=401, VOILUTFunction=function)
    grey, info = _read(tmp_path, ds)
    assert np.array_equal(grey, _expected_grey(pydicom.dcmread(tmp_path / "voi.dcm"), stored))
    assert info["voi"] == f"window 1000/401 {function}"


def test_per_frame_functional_groups_window_each_frame(tmp_path: Path) -> None:
    stored = _ramp()
    ds = _twelve_bit(np.stack([stored] * 3), frames=3, WindowCenter=500, WindowWidth=100)
    rescale = Dataset()
    rescale.RescaleSlope, rescale.RescaleIntercept = 2, -100
    shared = Dataset()
    shared.PixelValueTransformationSequence = [rescale]
    ds.SharedFunctionalGroupsSequence = [shared]
    windows = [(2000, 800), (5000, 6000)]  # frame 2 has no per-frame item: the top-level window
    ds.PerFrameFunctionalGroupsSequence = []
    for center, width in windows:
        voi, group = Dataset(), Dataset()
        voi.WindowCenter, voi.WindowWidth = center, width
        group.FrameVOILUTSequence = [voi]
        ds.PerFrameFunctionalGroupsSequence.append(group)
    with open_source(write_dicom(tmp_path / "enhanced.dcm", ds)) as source:
        greys = [source.frame(i).grey for i in range(3)]
        assert source.info()["voi"] == "window 2000/800"
    for grey, (center, width) in zip(greys, [*windows, (500, 100)], strict=True):
        flat = _twelve_bit(
            stored, WindowCenter=center, WindowWidth=width, RescaleSlope=2, RescaleIntercept=-100
        )
        assert np.array_equal(grey, _expected_grey(flat, stored)), (center, width)
    assert not np.array_equal(greys[0], greys[1])


def test_several_windows_use_the_first(tmp_path: Path) -> None:
    stored = _ramp()
    several, _ = _read(
        tmp_path, _twelve_bit(stored, WindowCenter=[1000, 3000], WindowWidth=[400, 100]), "2.dcm"
    )
    single, _ = _read(tmp_path, _twelve_bit(stored, WindowCenter=1000, WindowWidth=400), "1.dcm")
    assert np.array_equal(several, single) and single.min() == 0 and single.max() == 255


BAD_WINDOWS = {
    "zero width": {"WindowCenter": b"1000", "WindowWidth": b"0"},
    "negative width": {"WindowCenter": b"1000", "WindowWidth": b"-5"},
    "LINEAR width under 1": {"WindowCenter": b"1000", "WindowWidth": b"0.5"},
    "NaN centre": {"WindowCenter": b"NaN", "WindowWidth": b"400"},
    "NaN width": {"WindowCenter": b"1000", "WindowWidth": b"NaN"},
    "infinite width": {"WindowCenter": b"1000", "WindowWidth": b"inf"},
    "missing centre": {"WindowWidth": b"400"},
    "empty centre": {"WindowCenter": b"", "WindowWidth": b"400"},
    "non-numeric centre": {"WindowCenter": b"abc", "WindowWidth": b"400"},
    "non-numeric first of two": {"WindowCenter": b"x\\1000", "WindowWidth": b"400\\400"},
    "unknown function": {"WindowCenter": b"1000", "WindowWidth": b"400", "VOILUTFunction": b"CUBIC"},
    "sigmoid of zero width": {"WindowCenter": b"1000", "WindowWidth": b"0", "VOILUTFunction": b"SIGMOID"},
}


@pytest.mark.parametrize("case", list(BAD_WINDOWS))
def test_bad_window_falls_back_to_min_max(tmp_path: Path, case: str) -> None:
    stored = _ramp(top=3000)
    ds = _twelve_bit(stored)
    for keyword, text in BAD_WINDOWS[case].items():
        _raw(ds, keyword, text)
    grey, info = _read(tmp_path, ds)
    assert np.array_equal(grey, _read(tmp_path, _twelve_bit(stored), "plain.dcm")[0])
    assert grey.min() == 0 and grey.max() == 255 and info["voi"] == "min-max"


@pytest.mark.parametrize(
    ("entries", "bits", "count"),
    [(4096, 16, 100), (4096, 16, 5000), (4096, 9, None), (4096, 17, None), (0, 16, 4096)],
    ids=["short", "long", "9 bits", "17 bits", "0 means 65536"],
)
def test_bad_voi_lut_falls_back_to_the_window_or_min_max(
    tmp_path: Path, entries: int, bits: int, count: int | None
) -> None:
    stored = _ramp()
    ds = _twelve_bit(stored)
    ds.VOILUTSequence = [_lut_item(entries, bits, "OW", count)]
    grey, info = _read(tmp_path, ds)
    assert np.array_equal(grey, _read(tmp_path, _twelve_bit(stored), "plain.dcm")[0])
    assert info["voi"] == "min-max"
    ds.WindowCenter, ds.WindowWidth = 1000, 400
    grey, info = _read(tmp_path, ds, "windowed.dcm")
    assert np.array_equal(grey, _read(tmp_path, _twelve_bit(stored, WindowCenter=1000, WindowWidth=400))[0])
    assert info["voi"] == "window 1000/400"


def test_bad_modality_lut_falls_back_to_min_max(tmp_path: Path) -> None:
    """A Modality LUT shorter than its descriptor: the window's units are unknown, so the range is used."""
    stored = _ramp()
    ds = _twelve_bit(stored, WindowCenter=1000, WindowWidth=400)
    ds.ModalityLUTSequence = [_lut_item(4096, 16, "OW", count=10)]
    grey, _ = _read(tmp_path, ds)
    assert np.array_equal(grey, _read(tmp_path, _twelve_bit(stored), "plain.dcm")[0])


def test_eight_bit_windows_are_ignored(tmp_path: Path) -> None:
    stored = np.arange(16 * 20, dtype=np.uint16).reshape(16, 20).astype(np.uint8)
    grey, info = _read(tmp_path, dicom_dataset(stored, "MONOCHROME2", WindowCenter=100, WindowWidth=20))
    assert np.array_equal(grey, stored) and info["voi"] is None


_TEXT = st.sampled_from(
    [b"", b"0", b"-1", b"1", b"0.5", b"NaN", b"-inf", b"1e308", b"abc", b"40\\400", b"\\"]
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    center=_TEXT, width=_TEXT, function=st.sampled_from([b"", b"LINEAR", b"SIGMOID", b"LINEAR_EXACT", b"?"])
)
def test_any_window_text_reads_without_error(
    tmp_path: Path, center: bytes, width: bytes, function: bytes
) -> None:
    stored = _ramp()
    ds = _twelve_bit(stored, RescaleSlope=1, RescaleIntercept=0)
    for keyword, text in (("WindowCenter", center), ("WindowWidth", width), ("VOILUTFunction", function)):
        _raw(ds, keyword, text)
    grey, info = _read(tmp_path, ds)
    assert grey.shape == stored.shape and grey.dtype == np.uint8 and isinstance(info["voi"], str)


def test_people_are_shown_the_scanner_s_window_not_the_raw_16_bits() -> None:
    """Frame.display is what the canvas, overlays and reports draw: the windowed grey above 8 bits."""
    with open_source(get_testdata_file("MR2_UNCR.dcm")) as source:  # 12-bit unsigned, windowed
        frame = source.frame(0)
    assert frame.pixels.dtype == np.uint16 and frame.display is frame.grey
    with open_source(get_testdata_file("US1_UNCR.dcm")) as source:
        colour = source.frame(0)
    assert colour.display is colour.pixels and colour.display.ndim == 3
