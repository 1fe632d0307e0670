"""The imaging area (c5desk.io.sector): found on synthetic sector and rectangle scans with burned-in text,
rulers and a logo in the surround, kept whole when there is no surround, and never cutting a real lesion."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from c5desk.io import open_source
from c5desk.io.frame import Frame, Region
from c5desk.io.sector import BLACK, frame_area, imaging_area, luminance
from c5desk.settings import data_root

H, W = 480, 640


def fan(apex=(320, -60), radii=(90, 520), half_angle=34.0) -> np.ndarray:
    """(N, 2) int32 polygon of a convex probe's sector, opening downwards."""
    angles = np.radians(np.linspace(-half_angle, half_angle, 60))
    outer = np.stack([apex[0] + radii[1] * np.sin(angles), apex[1] + radii[1] * np.cos(angles)], 1)
    inner = np.stack([apex[0] + radii[0] * np.sin(angles), apex[1] + radii[0] * np.cos(angles)], 1)[::-1]
    return np.round(np.concatenate([outer, inner])).astype(np.int32)


def scan(shape: str, seed: int = 0, surround: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A speckled scan in a black frame with text, a ruler and a logo around it: (grey, scan truth, marks)."""
    rng = np.random.default_rng(seed)
    speckle = np.clip(cv2.GaussianBlur(rng.rayleigh(45.0, (H, W)).astype(np.float32), (3, 3), 0) + 12, 0, 255)
    truth = np.zeros((H, W), np.uint8)
    if shape == "sector":
        cv2.fillPoly(truth, [fan()], 1)
    else:
        truth[60:440, 110:530] = 1
    if not surround:
        truth[:] = 1
    grey = np.where(truth > 0, speckle, 0).astype(np.uint8)
    cv2.ellipse(grey, (300, 250), (40, 28), 0, 0, 360, 18, cv2.FILLED)  # a dark lesion inside
    marks = np.zeros((H, W), np.uint8)
    if surround:
        cv2.putText(marks, "JANE DOE 1957", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 255, 2)
        cv2.putText(marks, "12/03/2024 14:22", (430, 470), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 1)
        for y in range(70, 420, 35):  # a depth ruler with ticks
            cv2.line(marks, (622, y), (632, y), 255, 1)
        cv2.line(marks, (627, 70), (627, 420), 255, 1)
        cv2.rectangle(marks, (12, 440), (34, 462), 200, cv2.FILLED)  # a small logo
        marks[truth > 0] = 0
        grey = np.maximum(grey, marks)
    return grey, truth > 0, marks > 0


@pytest.mark.parametrize("shape", ["sector", "rectangle"])
def test_the_scan_is_found_and_the_marks_around_it_are_outside(shape: str) -> None:
    grey, truth, marks = scan(shape)
    area = imaging_area(grey)
    assert area.source == "detected" and area.shape == shape
    assert not (area.mask & marks).any()  # no text, ruler or logo pixel inside
    assert (area.mask & truth).sum() / truth.sum() > 0.995  # the scan kept, edges included
    # and little else: a 2-px margin, plus for a sector the hull over its concave near-field arc
    assert (area.mask & ~truth).sum() / truth.sum() < (0.06 if shape == "sector" else 0.03)
    assert area.cut == pytest.approx(1 - area.mask.mean())


def test_a_frame_without_surround_is_kept_whole() -> None:
    grey, _truth, _marks = scan("rectangle", surround=False)
    area = imaging_area(grey)
    assert area.source == "whole frame" and area.shape == "frame" and area.mask.all()


def test_dark_tissue_around_a_scan_is_not_taken_for_background() -> None:
    """A scan whose surround is dark grey (not the scanner's black) keeps everything: errs towards tissue."""
    grey, truth, _marks = scan("sector")
    grey[~truth] = 20
    assert imaging_area(grey).mask.all()


def test_a_dicom_region_is_kept_and_its_sector_corners_cut() -> None:
    grey, truth, marks = scan("sector")
    box = cv2.boundingRect(fan())
    region = Region(box[0], max(0, box[1]), box[0] + box[2], min(H, box[1] + box[3]))
    area = imaging_area(grey, region)
    assert area.source == "dicom" and area.shape == "sector"
    outside = np.ones((H, W), bool)
    outside[region.y0 : region.y1, region.x0 : region.x1] = False
    assert not (area.mask & outside).any()
    assert (
        region.x0 <= area.box[0] < area.box[2] <= region.x1
        and region.y0 <= area.box[1] < area.box[3] <= region.y1
    )
    assert (area.mask & truth).sum() / truth.sum() > 0.995 and not (area.mask & marks).any()
    plain = imaging_area(np.full((H, W), 90, np.uint8), Region(10, 20, 300, 200))
    assert plain.shape == "rectangle" and plain.mask.sum() == 290 * 180


def test_colour_frames_use_their_brightest_channel() -> None:
    grey, truth, _marks = scan("sector")
    rgb = np.repeat(grey[..., None], 3, axis=2)
    green = np.zeros((H, W), np.uint8)
    cv2.putText(green, "GAIN 54 DR 60", (450, 50), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255, 2)
    rgb[green > 0] = (0, 220, 0)  # bright in one channel only: dark in a plain grey conversion
    frame = Frame(rgb, grey, 0, None, None, "x")
    assert (luminance(rgb, grey)[green > 0] == 220).all()  # the text counts as bright, not as background
    assert not (frame_area(frame).mask & (green > 0)).any()
    assert (frame_area(frame).mask & truth).sum() / truth.sum() > 0.995


def _real_rows(name: str, count: int) -> list[tuple[str, str]]:
    folder = data_root() / name
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"{name} not found under {data_root()} (set C5DESK_DATA to the shared data folder)")
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["label"] != "normal" or name == "hc18"]  # hc18: heads
    return [(str(folder / r["image"]), str(folder / r["mask"])) for r in rows[:: max(1, len(rows) // count)]]


@pytest.mark.parametrize("name", ["hc18", "breast_lesions_usg", "bus_uclm"])
def test_real_lesions_stay_inside_the_area(name: str) -> None:
    """Real frames (JPEG, no DICOM region): the reference mask stays inside; hc18's sectors are found."""
    found = 0
    for image, mask in _real_rows(name, 12):
        with open_source(image) as source:
            frame = source.frame(0)
        area = frame_area(frame)
        lesion = cv2.imread(mask, cv2.IMREAD_GRAYSCALE) > 127
        # references may run into the black below a scan (hc18's fitted ellipses, some hand outlines):
        # what must stay is the lesion's visible (non-black) part
        visible = lesion & (frame.grey > BLACK)
        assert (visible & area.mask).sum() / visible.sum() > 0.99, image
        assert (lesion & area.mask).sum() / lesion.sum() > 0.95, image
        found += area.source == "detected"
    if name == "hc18":
        assert found >= 6  # most fetal-head frames are sectors in a black frame
