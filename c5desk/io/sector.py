"""The imaging area of a frame: the scan sector or rectangle, without the black surround around it.

A DICOM file may say where its scan is (the Sequence of Ultrasound Regions, Frame.region); a PNG, JPEG or
screen capture never does, and its frame holds the scan plus a black surround with burned-in text, rulers,
grey/colour bars and logos. Nothing there is tissue, so the model's outline must never reach it
(c5desk.inference.predictor zeroes its probability map outside `ImagingArea.mask`) and de-identification
blanks it (c5desk.io.deidentify).

The scan is found without a model: it is the largest solid, non-black area once thin marks (text, lines,
calipers) are opened away, and its convex hull is the area (sectors and rectangles are both convex, so dark
tissue inside, such as an anechoic cyst or fluid, stays in). Detection errs towards keeping tissue: when no
clear scan area stands out of an empty (near-black) surround, the whole frame (or DICOM region) is kept.
The search runs on a copy at most DETECT_SIDE pixels on its long side (a few ms), its hull scaled back.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from c5desk.io.frame import Frame, Region

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), like Region

DETECT_SIDE = 320  # long side of the copy searched: sectors are large, thin marks vanish anyway
BLACK = 4  # the empty background around a scan (JPEG noise included)
EMPTY_SHARE = 0.9  # of a scan's surround is background; the rest is text and graphics (dark tissue is not)
MIN_AREA = 0.1  # of the frame: a smaller "scan" is a logo or a bar, not found rather than guessed
RECTANGLE_FILL = 0.96  # hull area / bounding box area above this: a linear probe's rectangle, not a sector


@dataclass(frozen=True)
class ImagingArea:
    """Where the scan is: a (H, W) bool mask, its bounding box, where it came from and its shape."""

    mask: np.ndarray
    box: Box
    source: str  # "dicom" (the file's region) | "detected" | "whole frame"
    shape: str  # "sector" | "rectangle" (the DICOM region or a detected one) | "frame"

    @property
    def cut(self) -> float:
        """Share of the frame outside the imaging area."""
        return float(1.0 - self.mask.mean())


def luminance(pixels: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Brightest channel for 8-bit colour (so green or yellow text is as bright as white), else grey."""
    if pixels.ndim == 3 and pixels.dtype == np.uint8:
        return np.asarray(pixels.max(axis=2))
    return np.asarray(grey)


def frame_area(frame: Frame) -> ImagingArea:
    """The imaging area of a decoded frame (its DICOM region when it has one, refined to the sector in it)."""
    return imaging_area(luminance(frame.pixels, frame.grey), frame.region)


def imaging_area(lum: np.ndarray, region: Region | None = None) -> ImagingArea:
    """The scan inside `region` (the DICOM ultrasound region's box, else the whole frame).

    A DICOM region of a sector probe is the sector's bounding box: its black corners are cut away too.
    """
    height, width = lum.shape[:2]
    box, source = (0, 0, width, height), "whole frame"
    if region is not None and region.width > 0 and region.height > 0:
        clipped = (max(0, region.x0), max(0, region.y0), min(width, region.x1), min(height, region.y1))
        if clipped[2] - clipped[0] >= 8 and clipped[3] - clipped[1] >= 8:  # as preprocess.crop_box
            box, source = clipped, "dicom"
    x0, y0, x1, y1 = box
    mask = np.zeros((height, width), bool)
    hull = find_sector(np.ascontiguousarray(lum[y0:y1, x0:x1]))
    if hull is None:
        mask[y0:y1, x0:x1] = True
        return ImagingArea(mask, box, source, "rectangle" if source == "dicom" else "frame")
    inner = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(inner, hull, 1)
    mask[y0:y1, x0:x1] = inner > 0
    x, y, w, h = cv2.boundingRect(cv2.findNonZero(inner))  # the hull may reach past the box: clipped
    filled = float(inner.sum()) / max(1, w * h)
    shape = "rectangle" if filled >= RECTANGLE_FILL else "sector"
    found = (x0 + x, y0 + y, x0 + x + w, y0 + y + h)
    return ImagingArea(mask, found, "detected" if source != "dicom" else source, shape)


def find_sector(lum: np.ndarray) -> np.ndarray | None:
    """Convex hull (int32 (N, 1, 2) points, full resolution) of the scan area, grown by about two pixels of
    the searched copy to keep its own edge; None when it is (nearly) the whole image or no clear scan area
    stands out of an empty surround."""
    height, width = lum.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(height, width))
    small = lum if scale == 1.0 else cv2.resize(lum, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    hull = _largest_solid_hull(small)
    if hull is None:
        return None
    grown = np.zeros(small.shape[:2], np.uint8)
    cv2.fillConvexPoly(grown, hull, 1)
    grown = cv2.dilate(grown, np.ones((3, 3), np.uint8))  # keep the sector's own edge
    surround = small[grown == 0]
    if grown.mean() > 0.97 or np.mean(surround <= BLACK) < EMPTY_SHARE:
        return None  # no surround, or dark tissue rather than the scanner's empty background
    hull = cv2.convexHull(cv2.findNonZero(grown)).astype(np.float64)
    centre = hull.mean(axis=0)
    hull = (hull - centre) * (1 + 1 / max(small.shape[:2])) + centre  # half a pixel more for the resampling
    return np.round((hull + 0.5) / scale - 0.5).astype(np.int32)


def _largest_solid_hull(lum: np.ndarray) -> np.ndarray | None:
    """Hull of the largest lit area left after opening with a disc of ~5 % of the short side."""
    height, width = lum.shape[:2]
    size = max(3, min(height, width) // 40 * 2 + 1)  # odd
    lit = (cv2.medianBlur(np.ascontiguousarray(lum, np.uint8), 5) > 8).astype(np.uint8)
    solid = cv2.morphologyEx(lit, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    # closed inside a black margin: at the image's edge OpenCV's erosion would keep what dilation added,
    # flattening a sector's arc into a band along the edge (and taking in text near it)
    solid = cv2.morphologyEx(np.pad(solid, size), cv2.MORPH_CLOSE, np.ones((size, size), np.uint8))
    solid = np.ascontiguousarray(solid[size:-size, size:-size])
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    if count < 2:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[largest, cv2.CC_STAT_AREA] < MIN_AREA * height * width:
        return None  # no clear scan area: keep everything rather than guess
    return cv2.convexHull(cv2.findNonZero((labels == largest).astype(np.uint8)))
