"""Pixel de-identification: burned-in text never survives cleaning, the tissue does.

Text pixels are located independently of the cleaner (no OCR): in the real files as the near-white
pixels inside rectangles checked by eye on renderings of the frames, in synthetic frames as exactly the
pixels cv2.putText drew. Every one of them must be 0 after cleaning, while nearly all of the imaging
region stays as it was.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
from io_helpers import busbra_image, dicom_sample

from c5desk.io import open_source
from c5desk.io.deidentify import MAX_TEXT_SHARE, clean_frame, clean_pixels
from c5desk.io.frame import Frame, Region

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# Burned-in text of the pydicom-data ultrasound files, (x0, y0, x1, y1), checked on renderings.
REAL_TEXT = {
    "US1_UNCR.dcm": {
        "BAPTIST MED CTR, ids, clock, probe": (0, 0, 640, 104),
        "LYMPH NODE": (240, 355, 370, 380),
        "TIS MI AO": (390, 452, 640, 480),
        "PWR labels inside the image": (9, 137, 39, 151),
        "PWR right": (599, 137, 631, 151),
    },
    "US1_J2KR.dcm": {
        "BAPTIST MED CTR, ids, clock, probe": (0, 0, 640, 104),
        "LYMPH NODE": (240, 355, 370, 380),
    },
    "OBXXXX1A.dcm": {
        "PHILIPS, date, time": (0, 0, 800, 58),
        "presets left of the image": (0, 60, 120, 260),
        "+ Cist Mag 1.06 cm, inside the region": (122, 84, 308, 106),
    },
    "gdcm-US-ALOKA-16.dcm": {
        "*WESTWAY MEDICAL*, date, time": (0, 0, 640, 22),
        "127/128 20Hz, inside the region": (248, 32, 334, 63),
        "bottom line": (0, 440, 640, 480),
    },
}
TISSUE = {  # a rectangle of each scan that is tissue only (a sector's bounding box holds black corners)
    "US1_UNCR.dcm": (50, 110, 590, 330),
    "US1_J2KR.dcm": (50, 110, 590, 330),
    "OBXXXX1A.dcm": (120, 60, 800, 519),
    "gdcm-US-ALOKA-16.dcm": (32, 24, 336, 416),
}


def _first_frame(name: str) -> Frame:
    with warnings.catch_warnings(), open_source(dicom_sample(name)) as source:
        warnings.simplefilter("ignore")
        return source.frame(0)


def _white(pixels: np.ndarray) -> np.ndarray:
    """Near-white, colourless pixels: how these scanners draw their text."""
    values = pixels.astype(np.int32).reshape(*pixels.shape[:2], -1)
    return (values.min(axis=2) >= 150) & (np.ptp(values, axis=2) <= 30)


def _unchanged(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return (before == after).reshape(*before.shape[:2], -1).all(axis=2)


@pytest.mark.parametrize("name", list(REAL_TEXT))
def test_burned_in_text_of_real_files_is_blanked_and_tissue_kept(name):
    frame = _first_frame(name)
    clean, result = clean_frame(frame)
    white = _white(frame.pixels)
    for what, (x0, y0, x1, y1) in REAL_TEXT[name].items():
        text = white[y0:y1, x0:x1]
        assert text.sum() >= 100, f"{what}: the rectangle holds no text to test"
        assert not clean.pixels[y0:y1, x0:x1][text].any(), f"{what} survived cleaning"
        assert not clean.grey[y0:y1, x0:x1][text].any(), f"{what} survived in the grey image"
    x0, y0, x1, y1 = TISSUE[name]
    assert _unchanged(frame.pixels, clean.pixels)[y0:y1, x0:x1].mean() >= 0.95
    assert result.blanked < 0.7 and result.region_source in ("dicom", "detected")
    assert np.array_equal(frame.pixels, _first_frame(name).pixels)  # the input is not modified


def test_outside_the_dicom_region_everything_is_blank():
    frame = _first_frame("color3d_jpeg_baseline.dcm")
    region = frame.region
    assert region is not None
    clean, result = clean_frame(frame)
    outside = np.ones(frame.shape, bool)
    outside[region.y0 : region.y1, region.x0 : region.x1] = False
    assert frame.pixels[outside].any() and not clean.pixels[outside].any() and not clean.grey[outside].any()
    assert result.region == (region.x0, region.y0, region.x1, region.y1) and result.region_source == "dicom"
    assert clean.region == region and clean.source_id == frame.source_id  # geometry and identity kept


# ---- synthetic scans: a speckled sector with names and dates around it and over it -----------------
OUTSIDE_TEXT = [("DOE^JANE", (8, 24)), ("DOB 1961-03-12", (560, 24)), ("ST ELSEWHERE HOSP", (8, 585))]
INSIDE_TEXT = [("JOHN SMITH", (330, 200)), ("04/05/2023 14:22", (300, 350))]
APEX, RADIUS = (400, 50), 500


def _sector(shape: tuple[int, int] = (600, 800)) -> np.ndarray:
    fan = np.zeros(shape, np.uint8)
    cv2.ellipse(fan, APEX, (RADIUS, RADIUS), 90, -35, 35, 1, -1)  # a fan opening downwards
    return fan.astype(bool)


def _scan(seed: int, colour: tuple[int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pixels, text mask, sector mask): speckle in a fan, text drawn around and over it."""
    rng = np.random.default_rng(seed)
    sector = _sector()
    speckle = cv2.GaussianBlur(rng.rayleigh(30, sector.shape).astype(np.float32), (3, 3), 0)
    grey = np.where(sector, np.clip(speckle, 1, 200), 0).astype(np.uint8)
    pixels = grey if colour is None else np.repeat(grey[..., None], 3, axis=2)
    text = np.zeros(sector.shape, np.uint8)
    for words, origin in OUTSIDE_TEXT + INSIDE_TEXT:
        for target, value in ((pixels, (255, 255, 255)), (text, 255)):
            aa = cv2.LINE_AA if origin[1] == 350 else cv2.LINE_8  # anti-aliased too, as some scanners draw
            cv2.putText(target, words, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.55, value, 1, aa)
    if colour is not None:  # one line in a scanner's colour
        words, origin = INSIDE_TEXT[0]
        cv2.putText(pixels, words, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, 1, cv2.LINE_8)
    return pixels, text > 0, sector


def _grey(pixels: np.ndarray) -> np.ndarray:
    return pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)


@pytest.mark.parametrize(
    ("colour", "dicom_region"),
    [(None, False), (None, True), ((40, 255, 40), False), ((255, 230, 0), True)],
    ids=["grey-found", "grey-dicom", "green-found", "yellow-dicom"],
)
def test_synthetic_names_and_dates_are_blanked_inside_and_outside_the_sector(colour, dicom_region):
    pixels, text, sector = _scan(1, colour)
    region = None
    if dicom_region:
        x, y, w, h = cv2.boundingRect(sector.astype(np.uint8))
        region = Region(x, y, x + w, y + h, 0.2, 0.2, "tissue")
    result = clean_pixels(pixels, _grey(pixels), region)
    assert text.sum() > 1000 and (text & sector).sum() > 300  # text both outside and over the tissue
    assert not result.pixels[text].any() and not result.grey[text].any()
    kept = _unchanged(pixels, result.pixels)[sector & ~text]
    assert kept.mean() >= 0.95
    assert len(result.text_boxes) >= len(INSIDE_TEXT)
    assert result.region_source == ("dicom" if dicom_region else "detected")


def test_found_sector_blanks_its_whole_surround_and_keeps_its_edge():
    pixels, _, sector = _scan(2)
    result = clean_pixels(pixels, pixels)
    grown = cv2.dilate(sector.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert not result.pixels[~grown].any()  # nothing around the sector survives, text or not
    rim = sector & ~cv2.erode(sector.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert _unchanged(pixels, result.pixels)[rim].mean() >= 0.95  # the sector's own edge is kept


def test_sixteen_bit_pixels_are_cleaned_through_their_grey_image():
    grey, text, sector = _scan(3)
    pixels = grey.astype(np.uint16) * 257
    result = clean_pixels(pixels, grey)
    assert result.pixels.dtype == np.uint16 and not result.pixels[text].any()
    assert _unchanged(pixels, result.pixels)[sector & ~text].mean() >= 0.95


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (48, 64), (200, 300)])
def test_frames_without_text_or_sector_keep_every_pixel(shape):
    """Plain noise (no surround, no glyph rows), a black frame and tiny frames are left exactly as
    they are."""
    rng = np.random.default_rng(4)
    for pixels in (rng.integers(0, 256, shape, dtype=np.uint8), np.zeros(shape, np.uint8)):
        result = clean_pixels(pixels, pixels)
        assert np.array_equal(result.pixels, pixels) and result.text_boxes == ()
        assert result.region_source == "whole frame" and result.blanked == 0.0


def test_text_boxes_never_take_more_than_their_share_of_the_region():
    """A page of text over the whole region: blanking stops at MAX_TEXT_SHARE, the rest is kept."""
    pixels = np.full((300, 400), 40, np.uint8)
    for row in range(20, 300, 16):
        cv2.putText(pixels, "DOE JANE 1961", (4, row), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 255, 1)
    result = clean_pixels(pixels, pixels, Region(0, 0, 400, 300))
    assert result.text_boxes and 0 < result.blanked <= MAX_TEXT_SHARE + 1e-9


@pytest.mark.parametrize("name", ["bus_0001-l.png", "bus_0404-l.png", "bus_0629-l.png", "bus_1026-r.png"])
def test_pre_cropped_busbra_frames_lose_little(name):
    with open_source(busbra_image(name)) as source:
        frame = source.frame(0)
    clean, result = clean_frame(frame)
    assert result.region_source == "whole frame"  # already cropped to the scan: no surround to blank
    assert result.blanked <= 0.05
    assert _unchanged(frame.pixels, clean.pixels).mean() >= 0.95


def test_provenance_is_plain_json():
    pixels, _, _ = _scan(5)
    provenance = clean_pixels(pixels, pixels).provenance()
    assert set(provenance) == {"region", "region_source", "text_boxes", "blanked"}
    assert all(isinstance(v, int) for box in provenance["text_boxes"] for v in box)
