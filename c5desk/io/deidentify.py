"""Pixel de-identification (DICOM's Clean Pixel Data): blank what scanners burn into the picture.

Ultrasound frames carry burned-in text: the institution, the patient's name or age, dates and times,
often around the image and sometimes over it. We keep the imaging region (the DICOM ultrasound region,
else the scan sector found in the pixels by c5desk.io.sector) and set everything around it to 0, then
blank the lines of text found inside it. Detection errs towards keeping tissue: a region that cannot be
found keeps the whole frame, and text boxes inside it may cover at most MAX_TEXT_SHARE of it.

Text is found without OCR: glyphs are small, thin strokes much brighter than their surround and of one
colour, and they stand in rows on a common baseline; bright speckle and colour flow are graded, and
their blobs rarely line up, so a row needs three glyphs (two crisp ones on a plain background).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from c5desk.io.frame import Frame, Region
from c5desk.io.sector import find_sector

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), like Region

MAX_TEXT_SHARE = 0.12  # of the imaging region: more "text" than this is tissue mistaken for text
GLYPH_HEIGHT = (4, 40)  # pixels: small print to large titles
PAD = 2  # pixels around each text box, for anti-aliased edges
_TOPHAT = 15  # kernel wider than any stroke, so strokes stand out from their background
_MIN_CONTRAST = 60  # a stroke is this much brighter than its surround
_MIN_BRIGHT = 120
_GLYPH_CONTRAST = 70  # mean stroke contrast of a glyph
_CRISP_CONTRAST = 120  # a crisp glyph: exactly one colour and far brighter than its surround
_UNIFORM = 0.5  # share of a glyph's pixels within _TOLERANCE of its typical value
_TOLERANCE = 40


@dataclass(frozen=True)
class CleanResult:
    """Cleaned pixels and grey, plus what was kept and blanked (for the frame's provenance)."""

    pixels: np.ndarray
    grey: np.ndarray
    region: Box  # bounding box of the imaging area kept
    region_source: str  # "dicom" | "detected" | "whole frame"
    text_boxes: tuple[Box, ...]  # lines of text blanked inside the region
    blanked: float  # share of the frame set to 0 by cleaning

    def provenance(self) -> dict[str, Any]:
        """JSON-ready summary kept with the frame: how its pixels were cleaned."""
        return {
            "region": list(self.region),
            "region_source": self.region_source,
            "text_boxes": [list(box) for box in self.text_boxes],
            "blanked": round(self.blanked, 4),
        }


def clean_frame(frame: Frame) -> tuple[Frame, CleanResult]:
    """The frame with identifying pixels blanked (pixels and grey alike), and what was done."""
    result = clean_pixels(frame.pixels, frame.grey, frame.region)
    return replace(frame, pixels=result.pixels, grey=result.grey), result


def clean_pixels(pixels: np.ndarray, grey: np.ndarray, region: Region | None = None) -> CleanResult:
    """Blank everything outside the imaging region and the text inside it; inputs are not modified.

    pixels: (H, W) or (H, W, 3), uint8 or uint16; grey: (H, W) uint8, the same picture as displayed.
    region: the DICOM ultrasound region when the file has one; else the sector is found in the pixels.
    """
    lum = _luminance(pixels, grey)
    keep, box, source = imaging_area(lum, region)
    boxes = text_boxes(pixels, lum, keep)
    blank = ~keep
    for x0, y0, x1, y1 in boxes:
        blank[y0:y1, x0:x1] = True
    cleaned, cleaned_grey = np.array(pixels, copy=True), np.array(grey, copy=True)
    cleaned[blank] = 0
    cleaned_grey[blank] = 0
    return CleanResult(cleaned, cleaned_grey, box, source, tuple(boxes), float(blank.mean()))


def _luminance(pixels: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Brightest channel for 8-bit colour (so green or yellow text is as bright as white), else grey."""
    if pixels.ndim == 3 and pixels.dtype == np.uint8:
        return np.asarray(pixels.max(axis=2))
    return np.asarray(grey)


def imaging_area(lum: np.ndarray, region: Region | None) -> tuple[np.ndarray, Box, str]:
    """Mask of the pixels to keep, its bounding box and where it came from."""
    height, width = lum.shape
    keep = np.zeros((height, width), bool)
    if region is not None and region.width > 0 and region.height > 0:
        box = (max(0, region.x0), max(0, region.y0), min(width, region.x1), min(height, region.y1))
        keep[box[1] : box[3], box[0] : box[2]] = True
        return keep, box, "dicom"
    hull = find_sector(lum)
    if hull is None:
        keep[:] = True
        return keep, (0, 0, width, height), "whole frame"
    cv2.fillConvexPoly(keep.view(np.uint8), hull, 1)
    x, y, w, h = cv2.boundingRect(hull)
    return keep, (x, y, x + w, y + h), "detected"


def text_boxes(pixels: np.ndarray, lum: np.ndarray, keep: np.ndarray) -> list[Box]:
    """Padded boxes of the lines of text inside `keep`, surest first until MAX_TEXT_SHARE of it."""
    glyphs = _glyphs(pixels, lum, keep)
    height, width = lum.shape
    budget = MAX_TEXT_SHARE * max(1, int(keep.sum()))
    chosen: list[Box] = []
    for members in sorted(_rows(glyphs), key=len, reverse=True):
        x0, y0, x1, y1 = _row_box(glyphs, members)
        box = (max(0, x0 - PAD), max(0, y0 - PAD), min(width, x1 + PAD), min(height, y1 + PAD))
        area = (box[2] - box[0]) * (box[3] - box[1])
        if area <= budget:
            chosen.append(box)
            budget -= area
    return sorted(chosen, key=lambda b: (b[1], b[0]))


def _glyphs(pixels: np.ndarray, lum: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """(N, 6) int rows x, y, w, h, contrast, crisp of the glyph-like strokes inside `keep`: glyph-sized,
    thin, much brighter than their surround, of one colour. crisp: exactly one colour, high contrast."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (_TOPHAT, _TOPHAT))
    tophat = cv2.morphologyEx(lum, cv2.MORPH_TOPHAT, kernel)
    strokes = ((tophat >= _MIN_CONTRAST) & (lum >= _MIN_BRIGHT) & keep).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    thickness = cv2.distanceTransform(strokes, cv2.DIST_L2, 3)
    colour = _colour_planes(pixels, lum)
    found = []
    for label in np.flatnonzero(_glyph_sized(stats)):
        x, y, w, h, _ = stats[label]
        window = np.s_[y : y + h, x : x + w]
        own = labels[window] == label
        if thickness[window][own].max() > max(3.0, 0.25 * h):
            continue  # thicker than a pen stroke: a reflector or a colour-flow blob
        contrast = float(tophat[window][own].mean())
        exact = _one_colour(colour[window][own])
        if contrast >= _GLYPH_CONTRAST and exact is not None:
            found.append((x, y, w, h, contrast, exact and contrast >= _CRISP_CONTRAST))
    return np.array(found, np.int64).reshape(-1, 6)


def _glyph_sized(stats: np.ndarray) -> np.ndarray:
    heights, widths = stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_WIDTH]
    sized = (heights >= GLYPH_HEIGHT[0]) & (heights <= GLYPH_HEIGHT[1]) & (widths <= 2 * GLYPH_HEIGHT[1])
    sized &= stats[:, cv2.CC_STAT_AREA] >= 6
    sized[0] = False  # the background
    return sized


def _colour_planes(pixels: np.ndarray, lum: np.ndarray) -> np.ndarray:
    """(H, W, C) int32 values compared for uniformity: the 8-bit colour, else the luminance."""
    if pixels.ndim == 3 and pixels.dtype == np.uint8:
        return pixels.astype(np.int32)
    return lum.astype(np.int32)[..., None]


def _one_colour(values: np.ndarray) -> bool | None:
    """True: the glyph is one exact colour (rendered text); False: roughly one (blurred, resampled
    text); None: graded, like speckle or colour flow. Coloured glyphs must be exact: colour flow is
    bright and sharp too."""
    typical = np.percentile(values, 75, axis=0)
    distance = np.abs(values - typical).max(axis=1)
    exact = bool(np.mean(distance <= _TOLERANCE // 4) >= 0.8)
    if exact or (np.ptp(typical) <= _TOLERANCE and np.mean(distance <= _TOLERANCE) >= _UNIFORM):
        return exact
    return None


def _rows(glyphs: np.ndarray) -> list[list[int]]:
    """Glyphs chained along a common baseline, of similar height, close together: lines of text.
    A line needs 3 glyphs, or 2 crisp ones (rendered text on a plain background); neighbours off the
    baseline (descenders, punctuation) then join the line they touch."""
    x, y, w, h, crisp = glyphs[:, 0], glyphs[:, 1], glyphs[:, 2], glyphs[:, 3], glyphs[:, 5]
    group = np.arange(len(glyphs))
    for i in range(len(glyphs)):
        tall = np.maximum(h, h[i])
        near = (np.maximum(x, x[i]) - np.minimum(x + w, x[i] + w[i])) <= 1.2 * tall
        similar = near & (np.minimum(h, h[i]) * 1.6 >= tall)
        aligned = similar & (np.abs(y + h - y[i] - h[i]) <= np.maximum(1, tall // 8))
        group[np.isin(group, group[aligned])] = group[i]  # merge every group i is aligned with
    sizes = np.bincount(group, minlength=len(glyphs))
    lines = [
        list(np.flatnonzero(group == g))
        for g in np.unique(group)
        if sizes[g] >= 3 or (sizes[g] == 2 and crisp[group == g].all())
    ]
    for members in lines:
        for i in list(members):  # one step only, so a line never creeps through speckle
            overlap = np.minimum(y + h, y[i] + h[i]) - np.maximum(y, y[i])
            near = (np.maximum(x, x[i]) - np.minimum(x + w, x[i] + w[i])) <= 0.6 * h[i]
            members.extend(j for j in np.flatnonzero(near & (overlap >= 0.5 * h[i])) if j not in members)
    return lines


def _row_box(glyphs: np.ndarray, members: list[int]) -> Box:
    """The row's box, grown to the glyphs it crosses (descenders, slashes, taller capitals)."""
    x0 = int(glyphs[members, 0].min())
    x1 = int((glyphs[members, 0] + glyphs[members, 2]).max())
    y0 = int(glyphs[members, 1].min())
    y1 = int((glyphs[members, 1] + glyphs[members, 3]).max())
    x, y, w, h = glyphs[:, 0], glyphs[:, 1], glyphs[:, 2], glyphs[:, 3]
    crossing = (x < x1) & (x + w > x0) & (y < y1) & (y + h > y0)
    crossing &= h <= 1.5 * np.median(h[members])  # a slash or a descender, not a bright structure
    return (
        min(x0, int(x[crossing].min())),
        min(y0, int(y[crossing].min())),
        max(x1, int((x + w)[crossing].max())),
        max(y1, int((y + h)[crossing].max())),
    )
