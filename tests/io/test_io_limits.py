"""Memory limits: Number of Frames is checked against the pixel data, and every decode path checks the
memory one frame will take, from its header, before decoding it."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from io_helpers import dicom_dataset, dicom_sample, write_dicom
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames

import c5desk.io.dicom as dicom_module
import c5desk.io.dicom_header as header_module
import c5desk.io.limits as limits
import c5desk.io.source as source_module
from c5desk.errors import ReadError
from c5desk.io import open_source

BOMBS = [2**31 - 1, 100_000]
# JPEG 2000 (the 150 KB file of the report), JPEG baseline cine, RLE, native single- and multi-frame.
BOMB_FILES = [
    "US1_J2KR.dcm",
    "color3d_jpeg_baseline.dcm",
    "OBXXXX1A_rle_2frame.dcm",
    "US1_UNCR.dcm",
    "emri_small.dcm",
]


def _read_error(path: Path) -> str:
    with pytest.raises(ReadError) as caught, open_source(path) as source:
        source.frame(0)
    message = str(caught.value)
    assert message.startswith(path.name) and "\n" not in message and len(message) < 300
    return message


def _with_frames(name: str, frames: int, out: Path) -> Path:
    """A real pydicom-data file whose Number of Frames is set to `frames`, pixel data untouched."""
    ds = pydicom.dcmread(dicom_sample(name))
    ds.NumberOfFrames = frames
    ds.save_as(out)
    return out


def _no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded although the header was refused")

    monkeypatch.setattr(dicom_module, "pixel_array", must_not_decode)
    monkeypatch.setattr(dicom_module, "decode_isolated", must_not_decode)


# --- Number of Frames against the pixel data present --------------------------------------------------


@pytest.mark.parametrize("frames", BOMBS)
@pytest.mark.parametrize("name", BOMB_FILES)
def test_number_of_frames_bomb_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, frames: int
) -> None:
    path = _with_frames(name, frames, tmp_path / f"bomb-{name}")
    _no_decoding(monkeypatch)
    message = _read_error(path)
    assert f"Number of Frames is {frames} but the pixel data holds" in message


def test_bomb_found_count_is_named(tmp_path: Path) -> None:
    message = _read_error(_with_frames("emri_small.dcm", 2**31 - 1, tmp_path / "bomb.dcm"))
    assert message.endswith("holds 10 frames")  # 10 native 64x64 frames really there
    message = _read_error(_with_frames("US1_J2KR.dcm", 100_000, tmp_path / "j2k.dcm"))
    assert message.endswith("holds 3 fragments")  # one frame in three fragments, no offset table


_BOUNDED_SCORING = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from c5desk.errors import ReadError
from c5desk.io import open_source
rows = 0
try:
    with open_source(sys.argv[1]) as source:
        frames = list(range(len(source)))  # what `c5desk score --frames all` does first
        for index in frames:
            try:
                source.frame(index)
            except ReadError:
                pass
            rows += 1
except ReadError as exc:
    rows += 1
    print(exc)
print("rows", rows)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
@pytest.mark.parametrize("name", ["US1_J2KR.dcm", "US1_UNCR.dcm"])
def test_bomb_is_read_within_3_gb(tmp_path: Path, name: str) -> None:
    """The report: reading this file for scoring grew past 23 GB; now one error row, under a 3 GB cap."""
    path = _with_frames(name, 2**31 - 1, tmp_path / f"bomb-{name}")
    done = subprocess.run(
        [sys.executable, "-c", _BOUNDED_SCORING, str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "rows 1"
    assert "Number of Frames is 2147483647" in done.stdout


def test_truncated_native_cine_keeps_its_whole_frames(tmp_path: Path) -> None:
    """An interrupted transfer of uncompressed frames: the whole ones are read, info() says what was due."""
    original = dicom_sample("emri_small.dcm")  # 10 frames of 64x64 16-bit = 8192 bytes each
    data = original.read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) - 4 * 8192 - 100])
    with open_source(tmp_path / "cut.dcm") as cut, open_source(original) as whole:
        assert len(cut) == 5
        assert cut.info()["frames"] == 5 and cut.info()["metadata"]["declared_frames"] == 10
        assert np.array_equal(cut.frame(4).pixels, whole.frame(4).pixels)
        with pytest.raises(IndexError):
            cut.frame(5)


def test_truncated_bomb_is_clamped_to_what_arrived(tmp_path: Path) -> None:
    path = _with_frames("emri_small.dcm", 2**31 - 1, tmp_path / "bomb.dcm")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 8192])  # the file now ends inside its pixel data
    with open_source(path) as source:
        assert len(source) == 9
        assert source.info()["metadata"]["declared_frames"] == 2**31 - 1


def _jpeg2000_frames() -> tuple[pydicom.Dataset, list[bytes]]:
    ds = pydicom.dcmread(dicom_sample("emri_small_jpeg_2k_lossless.dcm"))  # 10 frames, one fragment each
    return ds, list(generate_frames(ds.PixelData, number_of_frames=10))


def _with_basic_table(path: Path, frames: int) -> Path:
    ds, encoded = _jpeg2000_frames()
    ds.PixelData = encapsulate(encoded, has_bot=True)
    ds.NumberOfFrames = frames
    ds.save_as(path)
    return path


def test_basic_offset_table_with_fewer_frames_is_refused(tmp_path: Path) -> None:
    with open_source(_with_basic_table(tmp_path / "ok.dcm", 10)) as source:
        assert len(source) == 10
        source.frame(9)
    message = _read_error(_with_basic_table(tmp_path / "bomb.dcm", 100_000))
    assert message.endswith("Number of Frames is 100000 but the pixel data holds 10 frames")


def test_truncated_basic_offset_table_file_keeps_whole_frames(tmp_path: Path) -> None:
    path = _with_basic_table(tmp_path / "cut.dcm", 2**31 - 1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    with open_source(path) as source, open_source(dicom_sample("emri_small_jpeg_2k_lossless.dcm")) as whole:
        assert 1 <= len(source) < 10
        last = len(source) - 1
        assert np.array_equal(source.frame(last).pixels, whole.frame(last).pixels)


def test_extended_offset_table_is_checked(tmp_path: Path) -> None:
    ds, encoded = _jpeg2000_frames()
    ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = encapsulate_extended(encoded)
    ds["PixelData"].VR = "OB"
    ds.save_as(tmp_path / "ok.dcm")
    with open_source(tmp_path / "ok.dcm") as source:
        assert len(source) == 10
    ds.NumberOfFrames = 2**31 - 1
    ds.save_as(tmp_path / "bomb.dcm")
    assert _read_error(tmp_path / "bomb.dcm").endswith("holds 10 frames")


def test_frame_count_limit(tmp_path: Path) -> None:
    frames = limits.MAX_FRAMES_PER_FILE + 1  # one 1x1 pixel each: a 1 MB file
    ds = dicom_dataset(np.zeros((frames, 1, 1), np.uint8), "MONOCHROME2", frames=frames)
    message = _read_error(write_dicom(tmp_path / "many.dcm", ds))
    assert f"{frames} frames is over the {limits.MAX_FRAMES_PER_FILE} frame limit" in message


# --- the decode memory budget, on every path ------------------------------------------------------------


def _png_header(path: Path, width: int, height: int, depth: int = 8, colour: int = 0) -> Path:
    """A valid 1x1 PNG whose IHDR (CRC fixed) claims other dimensions, bit depth and colour type."""
    _ok, encoded = cv2.imencode(".png", np.zeros((1, 1), np.uint8))
    data = bytearray(encoded.tobytes())
    data[16:26] = struct.pack(">IIBB", width, height, depth, colour)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def test_100_megapixel_png_is_refused(tmp_path: Path) -> None:
    """Allowed before (2-3 GB to decode); the pixel limit is now 50 MP."""
    message = _read_error(_png_header(tmp_path / "big.png", 10_000, 10_000))
    assert "(100 MP) is over the 50 MP limit" in message


@pytest.mark.parametrize(
    ("width", "height", "depth", "colour"),
    [(4_000, 4_000, 16, 0), (7_000, 6_000, 8, 2), (3_500, 3_000, 16, 2)],  # 16-bit grey, RGB, 16-bit RGB
)
def test_wide_png_under_the_pixel_limit_is_held_by_the_decode_limit(
    tmp_path: Path, width: int, height: int, depth: int, colour: int
) -> None:
    message = _read_error(_png_header(tmp_path / "wide.png", width, height, depth, colour))
    assert "over the 512 MB decode limit" in message


def test_large_8_bit_grey_png_is_still_allowed(tmp_path: Path) -> None:
    path = _png_header(tmp_path / "grey.png", 8_000, 5_000)  # 40 MP grey: about 280 MB to decode
    with open_source(path) as source:  # opens (the header is within limits); the data is not there
        assert source.info()["rows"] == 5_000
        with pytest.raises(ReadError, match="truncated or corrupt"):
            source.frame(0)


def test_wide_dicom_is_held_by_the_decode_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = dicom_dataset(np.zeros((4, 4), np.uint16), "MONOCHROME2", BitsStored=12)
    ds.Rows, ds.Columns = 4_000, 4_000  # 16 MP of 16-bit: under the pixel limit, over the memory one
    _no_decoding(monkeypatch)
    assert "decode limit" in _read_error(write_dicom(tmp_path / "wide.dcm", ds))


def test_video_checks_the_decode_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for value in range(3):
        writer.write(np.full((48, 64, 3), value * 60, np.uint8))
    writer.release()
    with open_source(path) as source:
        assert len(source) == 3
    monkeypatch.setattr(limits, "MAX_DECODE_BYTES", 64 * 48 * 10)  # below what one frame needs
    assert "decode limit" in _read_error(path)


def test_tiff_pages_are_each_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pages = [np.zeros((8, 8), np.uint8), np.zeros((64, 64), np.uint16)]
    cv2.imwritemulti(str(tmp_path / "pages.tif"), pages)
    monkeypatch.setattr(limits, "MAX_DECODE_BYTES", 64 * 64 * 10)  # page 0 fits, page 1 does not
    with open_source(tmp_path / "pages.tif") as source:
        source.frame(0)
        with pytest.raises(ReadError, match="decode limit"):
            source.frame(1)


def test_frame_cache_is_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_module, "FRAME_CACHE_BYTES", 1)
    with open_source(dicom_sample("OBXXXX1A_rle_2frame.dcm")) as source:
        first = source.frame(0)
        source.frame(1)
        assert list(source._cache) == [1]  # only the newest kept
        assert np.array_equal(source.frame(0).pixels, first.pixels)


_PEAK = """
import gc, sys
from c5desk.io import open_source
def status(key):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith(key))
source = open_source(sys.argv[1])
gc.collect()
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # resets the peak (VmHWM) to the current RSS
frame = source.frame(0)
print(status("VmHWM") - base)
"""


def _peak_bytes(path: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(
    sys.platform != "linux" or not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc"
)
def test_the_estimate_covers_what_decoding_takes(tmp_path: Path) -> None:
    """The measurement behind the constants in limits.py, on the widest cases, at 4 MP."""
    rng = np.random.default_rng(0)
    grey16 = rng.integers(0, 4096, (2_000, 2_000), dtype=np.uint16)
    rgb = rng.integers(0, 255, (2_000, 2_000, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "g16.png"), grey16)
    cv2.imwrite(str(tmp_path / "rgb16.png"), np.stack([grey16] * 3, axis=-1))
    cv2.imwrite(str(tmp_path / "rgb.jpg"), rgb)
    write_dicom(
        tmp_path / "g16.dcm",
        dicom_dataset(grey16, "MONOCHROME2", BitsStored=12, WindowCenter=2000, WindowWidth=3000),
    )
    cases = {
        "g16.png": limits.FrameLayout(2_000, 2_000, itemsize=2),
        "rgb16.png": limits.FrameLayout(2_000, 2_000, samples=3, itemsize=2),
        "rgb.jpg": limits.FrameLayout(2_000, 2_000, samples=3),
        "g16.dcm": limits.FrameLayout(2_000, 2_000, itemsize=2, mapped=True),
    }
    for name, layout in cases.items():
        peak = _peak_bytes(tmp_path / name)
        assert 0 < peak <= layout.decode_bytes(), (name, peak / 4e6, layout.decode_bytes() / 4e6)


def test_deflate_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deflated DICOM is inflated whole in memory; its inflated size is measured in bounded chunks first."""
    original = dicom_sample("image_dfl.dcm")
    with open_source(original) as source:
        source.frame(0)
    monkeypatch.setattr(header_module, "MAX_IMAGE_FILE_BYTES", 1000)  # the real file inflates to ~260 KB
    assert "deflated data inflates to over the" in _read_error(original)


def test_a_single_frame_of_many_fragments_cut_short_is_refused_before_decoding(tmp_path, monkeypatch):
    # US1_J2KR.dcm holds its one frame in 64 KB fragments: an interrupted transfer keeps whole fragments
    # but never the whole frame, which `info` must say rather than describe the file as fine.
    data = Path(dicom_sample("US1_J2KR.dcm")).read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    _no_decoding(monkeypatch)
    with pytest.raises(ReadError, match="truncated"):
        open_source(cut)
