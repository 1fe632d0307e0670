"""BI-RADS lexicon descriptors of one lesion from its mask and the grey frame (the handcrafted route).

Radiomics-style features — outline geometry, margin sharpness, echoes inside against the surrounding tissue,
the column below the lesion against tissue beside it at the same depth — feed one small softmax model per
descriptor (c5desk.lesion.descriptor_model). Their parameters were fitted on the train split of
BrEaST-Lesions_USG only and live in resources/descriptors/ (refit with `python -m training descriptors
--fit-handcrafted`). Orientation needs no fit: it is geometric by definition, "not parallel" when the lesion
is taller than wide in physical units (measure.taller_than_wide). docs/DESCRIPTORS.md gives the features
and the agreement with experts.

This runs after every mask edit, so all pixel work is on a window around the lesion (a few ms per frame).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from c5desk.errors import MaskError
from c5desk.lesion.contours import as_binary_mask
from c5desk.lesion.descriptor_model import (
    ECHO,
    FEATURES,
    FITTED,
    MARGIN,
    OUTLINE,
    PARAMETERS_FILE,
    POSTERIOR,
    SoftmaxModel,
    load_parameters,
    read_parameters,
)
from c5desk.lesion.lexicon import DESCRIPTORS
from c5desk.lesion.measure import Measurements, measure_mask

# The model half lives in c5desk.lesion.descriptor_model; its public names are re-exported from here.
__all__ = [
    "ECHO",
    "FEATURES",
    "FITTED",
    "MARGIN",
    "OUTLINE",
    "PARAMETERS_FILE",
    "POSTERIOR",
    "SoftmaxModel",
    "describe_lesion",
    "lesion_features",
    "load_parameters",
    "read_parameters",
]
_SECTORS = 12  # margin contrast is compared around the outline in this many angular sectors
_OFFSET = 10.0  # grey levels added to denominators: speckle-free black would otherwise divide by ~0
# Echo and margin statistics are taken with the lesion at most this radius (px): cheap on big lesions, and
# speckle is averaged over a similar share of every lesion whatever its size on screen.
_MAX_RADIUS_PX = 24.0


def describe_lesion(
    grey: np.ndarray,
    mask: np.ndarray,
    mm_per_px: tuple[float, float] | None = None,
    models: Mapping[str, SoftmaxModel] | None = None,
) -> dict[str, str]:
    """{descriptor: BI-RADS term} for the main connected component of `mask`; {} when the mask is empty.

    grey: (H, W) uint8 frame; mask: (H, W) bool or integer 0/1 or 0/255; mm_per_px: (x, y) or None (square
    pixels assumed). models: fitted models (default: the shipped parameters). MaskError for bad input.
    """
    found = lesion_features(grey, mask, mm_per_px)
    if found is None:
        return {}
    values, measured = found
    models = load_parameters() if models is None else models
    terms = {name: models[name].predict(values) for name in FITTED}
    terms["orientation"] = "not parallel" if measured.taller_than_wide else "parallel"
    return {name: terms[name] for name in DESCRIPTORS}


def lesion_features(
    grey: np.ndarray, mask: np.ndarray, mm_per_px: tuple[float, float] | None = None
) -> tuple[dict[str, float], Measurements] | None:
    """(FEATURES values, measurements) of the mask's main component; None when the mask is empty."""
    image = _check_grey(grey)
    binary = as_binary_mask(mask)
    if binary.shape != image.shape:
        raise MaskError(f"mask shape {binary.shape} does not match the grey frame {image.shape}")
    measured = measure_mask(binary, mm_per_px)
    if measured is None:
        return None
    window = _Window.around(image, measured)
    values = _outline_features(window, measured)
    reduced = window.reduced(_MAX_RADIUS_PX)
    values.update(_margin_and_echo(reduced))
    values.update(_posterior(reduced))
    return values, measured


def _check_grey(grey: object) -> np.ndarray:
    if not isinstance(grey, np.ndarray) or grey.dtype != np.uint8 or grey.ndim != 2 or grey.size == 0:
        what = f"{grey.dtype} array of shape {grey.shape}" if isinstance(grey, np.ndarray) else type(grey)
        raise MaskError(f"grey frame must be a non-empty (H, W) uint8 array; got a {what}")
    return grey


@dataclass(frozen=True)
class _Window:
    """The frame around the lesion: grey (uint8, or float32 once reduced), the lesion (uint8 0/1) and its
    box (x, y, w, h) inside it, the pixel size (x, y) for geometry."""

    grey: np.ndarray
    lesion: np.ndarray
    box: tuple[int, int, int, int]
    scale: tuple[float, float]

    @staticmethod
    def around(image: np.ndarray, measured: Measurements) -> _Window:
        # One lesion width either side (the lateral tissue) and one height above and below (posterior column).
        x, y, w, h = measured.bbox_xywh
        x0, y0 = max(0, x - w), max(0, y - h)
        x1, y1 = min(image.shape[1], x + 2 * w), min(image.shape[0], y + 2 * h)
        lesion = np.zeros((y1 - y0, x1 - x0), np.uint8)
        outline = np.rint(measured.contour - (x0, y0)).astype(np.int32)
        cv2.drawContours(lesion, [outline], -1, 1, thickness=cv2.FILLED)
        return _Window(image[y0:y1, x0:x1], lesion, (x - x0, y - y0, w, h), measured.mm_per_px or (1.0, 1.0))

    def reduced(self, max_radius: float) -> _Window:
        """This window in float32, shrunk (area-averaged) so that the lesion's equivalent radius is at most
        max_radius."""
        factor = max_radius / math.sqrt(self.lesion.sum() / math.pi)
        if factor >= 1:
            return _Window(self.grey.astype(np.float32), self.lesion, self.box, self.scale)
        size = (max(1, round(self.grey.shape[1] * factor)), max(1, round(self.grey.shape[0] * factor)))
        grey = cv2.resize(self.grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        share = cv2.resize(self.lesion * np.uint8(255), size, interpolation=cv2.INTER_AREA)
        lesion = (share >= 128).astype(np.uint8)
        if not lesion.any():  # a thin outline can vanish: keep the most covered pixel
            lesion.flat[int(np.argmax(share))] = 1
        box = tuple(round(v * factor) for v in self.box)
        return _Window(grey, lesion, box, self.scale)  # type: ignore[arg-type]


def _outline_features(window: _Window, measured: Measurements) -> dict[str, float]:
    lesion = window.lesion
    area = float(lesion.sum())
    radius = math.sqrt(area / math.pi)
    moments = cv2.moments(lesion, binaryImage=True)
    sx, sy = window.scale
    cross = moments["mu11"] * sx * sy
    physical = np.array([[moments["mu20"] * sx * sx, cross], [cross, moments["mu02"] * sy * sy]])
    low, high = np.linalg.eigvalsh(physical)  # second moments in mm: the aspect of the patient's lesion
    found, _ = cv2.findContours(lesion, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(found, key=len)
    depths = _defect_depths(contour) / radius
    return {
        "aspect": math.sqrt(max(low, 0.0) / high) if high > 0 else 1.0,
        "solidity": measured.solidity,
        "circularity": measured.circularity,
        "convexity": measured.convexity,
        "ellipse_misfit": _ellipse_misfit(lesion, moments),
        "roughness": _roughness(contour.reshape(-1, 2).astype(np.float64), radius),
        "max_defect": float(depths.max(initial=0.0)),
        "n_defects": float(np.sum(depths > 0.1)),
    }


def _ellipse_misfit(lesion: np.ndarray, moments: Mapping[str, float]) -> float:
    """1 - IoU of the lesion with the ellipse of equal second moments (0 for an ellipse, more when lobed)."""
    area = moments["m00"]
    cov = np.array([[moments["mu20"], moments["mu11"]], [moments["mu11"], moments["mu02"]]]) / area
    values, vectors = np.linalg.eigh(cov)
    if values[0] <= 0:  # a line or a pixel: nothing to compare
        return 0.0
    centre = (moments["m10"] / area, moments["m01"] / area)
    axes = (4 * math.sqrt(values[1]), 4 * math.sqrt(values[0]))  # full axes: a uniform ellipse has var a²/4
    angle = math.degrees(math.atan2(vectors[1, 1], vectors[0, 1]))
    ellipse = np.zeros_like(lesion)
    cv2.ellipse(ellipse, (centre, axes, angle), 1, thickness=cv2.FILLED)
    union = np.count_nonzero(lesion | ellipse)
    return 1.0 - np.count_nonzero(lesion & ellipse) / union


def _roughness(points: np.ndarray, radius: float) -> float:
    """Mean deviation of the centre distance along the outline from its running mean, per radius: spicules
    and microlobules add high-frequency wiggle that a smooth oval has not."""
    if len(points) < 8:
        return 0.0
    distance = np.hypot(*(points - points.mean(axis=0)).T)
    width = max(3, len(points) // 12)
    padded = np.concatenate([distance[-width:], distance, distance[:width]])
    smooth = np.convolve(padded, np.ones(width) / width, mode="same")[width:-width]
    return float(np.mean(np.abs(distance - smooth)) / radius)


def _defect_depths(contour: np.ndarray) -> np.ndarray:
    """Depths (px) of the outline's concavities below its convex hull."""
    if len(contour) < 4:
        return np.zeros(0)
    try:
        hull = cv2.convexHull(contour, returnPoints=False)
        defects = cv2.convexityDefects(contour, hull)
    except cv2.error:  # OpenCV refuses some self-touching outlines; they have no measurable defect
        return np.zeros(0)
    return np.zeros(0) if defects is None else defects[:, 0, 3] / 256.0


def _margin_and_echo(window: _Window) -> dict[str, float]:
    grey, lesion = window.grey, window.lesion.astype(bool)
    radius = math.sqrt(lesion.sum() / math.pi)
    inside_distance = cv2.distanceTransform(window.lesion, cv2.DIST_L2, 3)
    outside_distance = cv2.distanceTransform(1 - window.lesion, cv2.DIST_L2, 3)
    band = float(np.clip(0.15 * radius, 2.0, 10.0))  # the margin zone, either side of the outline
    far = float(np.clip(0.75 * radius, band + 3.0, 60.0))
    inner = lesion & (inside_distance <= band)
    outer = ~lesion & (outside_distance <= band)
    rows = np.arange(grey.shape[0])[:, None]
    bottom = window.box[1] + window.box[3]
    # Surrounding tissue: beside and above the lesion, not below it (posterior features would bias it).
    around = ~lesion & (outside_distance > band) & (outside_distance <= far) & (rows < bottom)
    surround = grey[around] if around.any() else grey[~lesion] if (~lesion).any() else grey[lesion]
    inside = grey[lesion]
    level, spread = float(np.median(surround)), float(surround.std())
    norm = spread + _OFFSET
    histogram = np.bincount(inside.astype(np.int64) // 16, minlength=16) / inside.size
    nonzero = histogram[histogram > 0]
    return {
        "edge_step": (_mean(grey[outer], level) - _mean(grey[inner], level)) / norm,
        "edge_gradient": _edge_gradient(grey, outside_distance, lesion) / norm,
        "edge_uneven": _sector_contrast_spread(grey, inner, outer, lesion) / norm,
        "echo_contrast": (float(np.median(inside)) - level) / (level + _OFFSET),
        "dark_part": float(np.mean(inside < 0.5 * level)),
        "bright_part": float(np.mean(inside > level)),
        "inside_cv": float(inside.std() / (inside.mean() + _OFFSET)),
        "texture_ratio": math.log((float(inside.std()) + 1.0) / (spread + 1.0)),
        "inside_entropy": float(-(nonzero * np.log2(nonzero)).sum() / 4.0),  # of 4 bits at most
    }


def _edge_gradient(grey: np.ndarray, outside_distance: np.ndarray, lesion: np.ndarray) -> float:
    """Mean grey-level gradient on the pixels just outside the outline (a sharp, circumscribed margin)."""
    smooth = cv2.GaussianBlur(grey, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    rim = ~lesion & (outside_distance <= 1.5)
    return float(np.hypot(gx[rim], gy[rim]).mean()) if rim.any() else 0.0


def _sector_contrast_spread(
    grey: np.ndarray, inner: np.ndarray, outer: np.ndarray, lesion: np.ndarray
) -> float:
    """Spread of the outer-minus-inner contrast over angular sectors: an indistinct margin fades in places."""
    rows, cols = np.nonzero(lesion)
    centre = np.array([cols.mean(), rows.mean()])
    steps = []
    for part in (outer, inner):
        y, x = np.nonzero(part)
        sector = ((np.arctan2(y - centre[1], x - centre[0]) + math.pi) / (2 * math.pi) * _SECTORS).astype(int)
        sector = np.minimum(sector, _SECTORS - 1)
        counts = np.bincount(sector, minlength=_SECTORS)
        sums = np.bincount(sector, weights=grey[y, x], minlength=_SECTORS)
        steps.append(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))
    contrast = steps[0] - steps[1]
    contrast = contrast[np.isfinite(contrast)]
    return float(contrast.std()) if contrast.size > 1 else 0.0


def _posterior(window: _Window) -> dict[str, float]:
    """The column below the lesion (its central 60 %, one lesion height deep) against the tissue beside it
    at the same depth: brighter is enhancement, darker shadowing, both in parts a combined pattern."""
    grey = window.grey
    x, y, w, h = window.box
    top, bottom = y + h, min(grey.shape[0], y + h + max(h, 4))
    trim, gap = round(0.2 * w), round(0.1 * w)
    below = grey[top:bottom, x + trim : x + w - trim] if w - 2 * trim > 0 else grey[top:bottom, x : x + w]
    left = grey[top:bottom, max(0, x - w) : max(0, x - gap)]
    right = grey[top:bottom, x + w + gap : x + 2 * w]
    lateral = np.concatenate([left.ravel(), right.ravel()])
    if below.size == 0 or lateral.size == 0:  # at the bottom or side of the frame: nothing to compare
        return dict.fromkeys(POSTERIOR, 0.0)
    level = float(lateral.mean()) + _OFFSET
    near = below[: max(1, below.shape[0] // 3)]
    thirds = [float(part.mean()) for part in np.array_split(below, min(3, below.shape[1]), axis=1)]
    return {
        "posterior_contrast": (float(below.mean()) + _OFFSET - level) / level,
        "posterior_near": (float(near.mean()) + _OFFSET - level) / level,
        "posterior_spread": (max(thirds) - min(thirds)) / level,
    }


def _mean(values: np.ndarray, default: float) -> float:
    return float(values.mean()) if values.size else default
