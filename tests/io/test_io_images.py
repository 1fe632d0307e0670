"""Still images: PNG, JPEG, BMP, TIFF in 8/16 bits, grey/RGB/RGBA, and the BUS-BRA frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from io_helpers import busbra_image
from PIL import Image

from c5desk.io import open_source


def _rgb_pattern(rows: int = 24, cols: int = 32) -> np.ndarray:
    """Distinct red, green and blue thirds, so a channel swap cannot pass."""
    rgb = np.zeros((rows, cols, 3), np.uint8)
    third = cols // 3
    rgb[:, :third, 0] = 220
    rgb[:, third : 2 * third, 1] = 180
    rgb[:, 2 * third :, 2] = 140
    return rgb


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".jpg"])
def test_colour_images_come_out_rgb(tmp_path: Path, suffix: str) -> None:
    rgb = _rgb_pattern()
    path = tmp_path / f"colour{suffix}"
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    with open_source(path) as source:
        frame, info = source.frame(0), source.info()
    assert frame.pixels.shape == (24, 32, 3) and frame.pixels.dtype == np.uint8
    tolerance = 12 if suffix == ".jpg" else 0
    assert np.abs(frame.pixels.astype(int) - rgb).mean() <= tolerance
    assert frame.pixels[:, 2, 0].mean() > 150 and frame.pixels[:, 2, 2].mean() < 40  # red stays red
    assert (len(source), info["display"], info["mm_per_px"], frame.region) == (1, "rgb", None, None)
    expected_grey = cv2.cvtColor(frame.pixels, cv2.COLOR_RGB2GRAY)
    assert np.array_equal(frame.grey, expected_grey)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_rgba_drops_alpha(tmp_path: Path, suffix: str) -> None:
    rgba = np.dstack([_rgb_pattern(), np.full((24, 32), 77, np.uint8)])
    path = tmp_path / f"alpha{suffix}"
    Image.fromarray(rgba, "RGBA").save(path)
    with open_source(path) as source:
        assert source.info()["colour_model"] == "rgba"
        assert np.array_equal(source.frame(0).pixels, rgba[..., :3])


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_grey_keeps_values_and_scales_grey_by_range(tmp_path: Path, suffix: str) -> None:
    stored = np.linspace(100, 3000, 20 * 30).reshape(20, 30).astype(np.uint16)  # 12-bit data in 16 bits
    path = tmp_path / f"grey16{suffix}"
    assert cv2.imwrite(str(path), stored)
    with open_source(path) as source:
        frame, info = source.frame(0), source.info()
    assert frame.pixels.dtype == np.uint16 and np.array_equal(frame.pixels, stored)
    assert frame.grey.min() == 0 and frame.grey.max() == 255
    assert (info["bits_stored"], info["display"]) == (16, "grey")


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_colour_is_not_truncated(tmp_path: Path, suffix: str) -> None:
    low_bits = np.arange(32, dtype=np.uint16)[:, None]  # distinct low bytes, lost if truncated to 8 bits
    rgb16 = _rgb_pattern().astype(np.uint16) * 257 + low_bits
    path = tmp_path / f"rgb16{suffix}"
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    with open_source(path) as source:
        frame, info = source.frame(0), source.info()
    assert frame.pixels.dtype == np.uint16 and np.array_equal(frame.pixels, rgb16)
    assert info["bits_stored"] == 16 and frame.grey.dtype == np.uint8


def test_palette_and_bilevel_images(tmp_path: Path) -> None:
    Image.fromarray(_rgb_pattern()).convert("P").save(tmp_path / "pal.png")
    Image.fromarray(np.eye(8, dtype=bool)).save(tmp_path / "bits.png")
    with open_source(tmp_path / "pal.png") as source:
        assert source.info()["colour_model"] == "palette"
        assert source.frame(0).pixels.shape == (24, 32, 3)
        assert source.frame(0).pixels[0, 0, 0] > 200
    with open_source(tmp_path / "bits.png") as source:
        assert np.array_equal(source.frame(0).grey, np.eye(8, dtype=np.uint8) * 255)


def test_multi_page_tiff_pages_are_frames(tmp_path: Path) -> None:
    pages = [Image.fromarray(np.full((10, 12), 50 * i, np.uint8)) for i in range(3)]
    path = tmp_path / "stack.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    with open_source(path) as source:
        assert len(source) == 3
        assert [int(frame.grey[0, 0]) for frame in source] == [0, 50, 100]
        assert len({frame.source_id for frame in source}) == 3


def test_busbra_png_is_one_uncalibrated_grey_frame() -> None:
    path = busbra_image()
    with open_source(path) as source:
        frame, info = source.frame(0), source.info()
    reference = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert (len(source), info["frames"], info["display"], info["colour_model"]) == (1, 1, "grey", "grey")
    assert frame.pixels.ndim == 2 and np.array_equal(frame.pixels, reference)
    assert np.array_equal(frame.grey, reference)
    assert frame.mm_per_px is None and not frame.calibrated and frame.region is None


def test_frames_are_read_only_and_cached(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.zeros((5, 5), np.uint8))
    with open_source(path) as source:
        frame = source.frame(0)
        assert source.frame(0) is frame
        with pytest.raises(ValueError):
            frame.grey[0, 0] = 1
