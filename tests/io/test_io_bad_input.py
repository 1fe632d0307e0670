"""Bad input of every kind gives a one-line ReadError, never a crash or another exception type."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pydicom.pixels.decoders.base as decoder_base
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_helpers import dicom_dataset, dicom_sample, write_dicom

import c5desk.io.dicom as dicom_module
from c5desk.errors import ReadError
from c5desk.io import open_source

FUZZ = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _open_first_frame(path: Path) -> None:
    with open_source(path) as source:
        source.frame(0)


def _read_error(path: Path) -> str:
    with pytest.raises(ReadError) as caught:
        _open_first_frame(path)
    message = str(caught.value)
    assert message and "\n" not in message and len(message) < 300
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _read_error(tmp_path / "absent.dcm")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    assert "is a folder" in _read_error(tmp_path)


@pytest.mark.parametrize("name", ["empty.png", "empty.dcm", "empty.mp4", "empty"])
def test_zero_bytes(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    assert "empty" in _read_error(tmp_path / name)


@pytest.mark.parametrize("name", ["notes.png", "notes.jpg", "notes.txt", "notes"])
def test_text_is_not_an_image(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("Patient said the probe was cold.\n" * 10)
    assert "not an image" in _read_error(tmp_path / name)


def test_text_named_dcm_is_not_dicom(tmp_path: Path) -> None:
    (tmp_path / "notes.dcm").write_text("Patient said the probe was cold.\n" * 10)
    assert "DICOM" in _read_error(tmp_path / "notes.dcm")


def test_dicom_without_pixel_data() -> None:
    assert "no pixel data" in _read_error(dicom_sample("rtplan.dcm"))


def test_truncated_native_dicom_is_caught_from_the_header(tmp_path: Path) -> None:
    data = dicom_sample("US1_UNCR.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) - 5000])
    assert "truncated" in _read_error(tmp_path / "cut.dcm")


def test_truncated_cine_keeps_its_readable_frames(tmp_path: Path) -> None:
    """An interrupted transfer: the header and the first frames are there, the last ones are not."""
    data = dicom_sample("color3d_jpeg_baseline.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) // 2])
    with open_source(tmp_path / "cut.dcm") as source:
        assert len(source) == 59  # the frames that arrived whole, not the 120 the header promises
        info = source.info()
        assert (info["frames"], info["metadata"]["declared_frames"]) == (59, 120)
        assert source.frame(0).pixels.shape == (480, 640, 3)
        assert source.frame(58).pixels.shape == (480, 640, 3)
        with pytest.raises(IndexError):
            source.frame(59)


def test_unknown_transfer_syntax(tmp_path: Path) -> None:
    ds = dicom_dataset(np.zeros((8, 8), np.uint8), "MONOCHROME2")
    ds.file_meta.TransferSyntaxUID = "1.2.826.0.1.3680043.9.9999.1"  # private, nobody decodes it
    ds.save_as(tmp_path / "private.dcm", enforce_file_format=True, implicit_vr=False, little_endian=True)
    message = _read_error(tmp_path / "private.dcm")
    assert "1.2.826.0.1.3680043.9.9999.1" in message and "cannot be decoded" in message


def test_missing_decoder_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    path = dicom_sample("JPEGLSNearLossless_08.dcm")
    _open_first_frame(path)  # decodes with what is installed
    monkeypatch.setattr(decoder_base.Decoder, "is_available", property(lambda self: False))
    message = _read_error(path)
    assert "JPEG-LS" in message and "python-gdcm" in message and "pylibjpeg-libjpeg" in message


def test_huge_dicom_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = dicom_dataset(np.zeros((4, 4), np.uint8), "MONOCHROME2")
    ds.Rows = ds.Columns = 20_000  # header claims 400 MP; the data is 16 bytes
    path = write_dicom(tmp_path / "huge.dcm", ds)

    def must_not_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded despite the pixel limit")

    monkeypatch.setattr(dicom_module, "pixel_array", must_not_decode)
    assert "MP limit" in _read_error(path)


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A valid 1x1 PNG whose IHDR (CRC fixed) claims other dimensions."""
    _ok, encoded = cv2.imencode(".png", np.zeros((1, 1), np.uint8))
    data = bytearray(encoded.tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("width", "height"), [(12_000, 10_000), (40_000, 40_000)])
def test_huge_png_header_is_refused(tmp_path: Path, width: int, height: int) -> None:
    assert "MP limit" in _read_error(_png_claiming(tmp_path / "bomb.png", width, height))


def test_png_within_limit_but_truncated(tmp_path: Path) -> None:
    _ok, encoded = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    (tmp_path / "cut.png").write_bytes(encoded.tobytes()[:300])
    assert "cut.png" in _read_error(tmp_path / "cut.png")


# --- fuzzing: random bytes, truncations and corruptions of real files --------------------------------


def _only_read_errors(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        _open_first_frame(path)
    except ReadError as exc:
        assert "\n" not in str(exc)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def real_files(fuzz_dir: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    picture = cv2.GaussianBlur(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), (5, 5), 0)
    return {
        ".png": cv2.imencode(".png", picture)[1].tobytes(),
        ".jpg": cv2.imencode(".jpg", picture)[1].tobytes(),
        ".dcm": dicom_sample("OBXXXX1A_rle.dcm").read_bytes(),
        ".j2k.dcm": dicom_sample("US1_J2KI.dcm").read_bytes(),
    }


@FUZZ
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".png", ".jpg", ".dcm", ".tif", ""]))
def test_random_bytes(fuzz_dir: Path, data: bytes, suffix: str) -> None:
    _only_read_errors(fuzz_dir / f"random{suffix}", data)


@FUZZ
@given(kind=st.sampled_from([".png", ".jpg", ".dcm", ".j2k.dcm"]), fraction=st.floats(0.0, 1.0))
def test_truncated_real_files(
    fuzz_dir: Path, real_files: dict[str, bytes], kind: str, fraction: float
) -> None:
    data = real_files[kind]
    _only_read_errors(fuzz_dir / f"cut{kind}", data[: int(len(data) * fraction)])


@FUZZ
@given(
    kind=st.sampled_from([".png", ".jpg", ".dcm", ".j2k.dcm"]),
    position=st.floats(0.0, 1.0),
    junk=st.binary(min_size=1, max_size=64),
)
def test_corrupted_real_files(
    fuzz_dir: Path, real_files: dict[str, bytes], kind: str, position: float, junk: bytes
) -> None:
    data = bytearray(real_files[kind])
    start = int((len(data) - 1) * position * position)  # favour the header, where parsing happens
    data[start : start + len(junk)] = junk
    _only_read_errors(fuzz_dir / f"bad{kind}", bytes(data))


def test_a_decoder_crash_is_contained(tmp_path: Path) -> None:
    """Zeroing the JPEG comment marker makes python-gdcm abort its process; only a helper process dies."""
    data = bytearray(dicom_sample("JPGLosslessP14SV1_1s_1f_8b.dcm").read_bytes())
    comment = data.find(b"\xff\xfe", data.find(b"\xff\xd8"))
    data[comment : comment + 4] = bytes(4)
    (tmp_path / "crash.dcm").write_bytes(bytes(data))
    assert "crashed" in _read_error(tmp_path / "crash.dcm")
    _open_first_frame(dicom_sample("JPGLosslessP14SV1_1s_1f_8b.dcm"))  # a fresh helper decodes again


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_a_pipe_is_not_read_forever(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    assert "not a regular file" in _read_error(tmp_path / "pipe.png")
