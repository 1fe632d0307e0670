"""Lesion measurements from a mask: area, long and short axis, their ratio, orientation and margin shape.

Lengths are in mm when a calibration (mm per pixel along x and y, possibly different) is given, else in
pixels; areas in mm² or px². Every length is measured on physical coordinates, so anisotropic pixels give
the right answer. Coordinates of endpoints and contours follow c5desk.lesion.contours: (x, y) pixels,
pixel centre at integer coordinates.

Definitions (the ones sonographers use with calipers, taken from pixel edge to pixel edge):
- long axis: the maximum Feret diameter, the longest segment between two points of the lesion. Chords within
  half a pixel (at most 1 %) of the longest count as equally long, and the one nearest their mean direction
  is taken, so that the flat tips of a digitised ellipse do not tilt the axis (see _long_axis).
- short axis: the longest chord perpendicular to the long axis, where a chord spans the lesion outline from
  its first to its last crossing along that line (the widest perpendicular diameter, not the caliper width).
- orientation_deg: angle of the long axis to the horizontal (the skin line), in (-90, 90], counter-clockwise
  as displayed (positive when the axis rises to the right), on physical coordinates.
- taller_than_wide: physical height of the bounding box > its width (BI-RADS "not parallel").
- circularity 4πA/P², convexity hull perimeter / perimeter: both on the outline through boundary pixel
  centres smoothed by Douglas-Peucker (1 px) so that the pixel staircase does not count as irregular margin.
  An outline enclosing no area (one pixel, a 1-px line) has circularity 0 and, without length, convexity 1.
- solidity: pixel area / area of the convex hull of the pixel squares (1 for any convex digital shape).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from c5desk.lesion.contours import (
    MaskError,
    as_binary_mask,
    contours_by_area,
    find_components,
    largest_component,
    lesion_contours,
    outer_contour,
    outer_pixel_edges,
    pixel_square_hull,
)

MEASUREMENT_KEYS = (
    "area",
    "long_axis",
    "short_axis",
    "sl_ratio",
    "units",
    "calibrated",
    "orientation_deg",
    "taller_than_wide",
    "circularity",
    "solidity",
    "convexity",
    "n_components",
    "bbox_xywh",
)

Point = tuple[float, float]
# Douglas-Peucker tolerance (px) that removes the staircase of a digital outline but keeps spicules.
_SMOOTHING_PX = 1.0
# Above this many (edge, line) pairs the short axis is searched on a subset of lines (pathological outlines).
_MAX_CHORD_SAMPLES = 1_000_000

__all__ = [
    "MEASUREMENT_KEYS",
    "MaskError",
    "Measurements",
    "largest_component",
    "lesion_contours",
    "measure_mask",
    "validate_calibration",
]


@dataclass(frozen=True, eq=False)
class Measurements:
    """Measurements of one connected component of a lesion mask (see the module docstring for definitions).

    Lengths in `units` ("mm" or "px"), area in units²; endpoints, contours and bbox in pixel coordinates.
    contours holds the outer contours of all components, largest first; component_areas their pixel
    counts; component_rank which one was measured (0 = largest).
    """

    calibrated: bool
    units: str
    mm_per_px: tuple[float, float] | None
    area: float
    area_px: int
    long_axis: float
    long_axis_endpoints: tuple[Point, Point]
    short_axis: float
    short_axis_endpoints: tuple[Point, Point]
    sl_ratio: float
    orientation_deg: float
    width: float
    height: float
    taller_than_wide: bool
    perimeter: float
    circularity: float
    solidity: float
    convexity: float
    bbox_xywh: tuple[int, int, int, int]
    contour: np.ndarray
    contours: tuple[np.ndarray, ...]
    component_areas: tuple[int, ...]
    component_rank: int

    @property
    def n_components(self) -> int:
        return len(self.component_areas)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON/CSV-friendly values under MEASUREMENT_KEYS."""
        values = {key: getattr(self, key) for key in MEASUREMENT_KEYS}
        values["bbox_xywh"] = list(self.bbox_xywh)
        return values

    @staticmethod
    def empty_dict(mm_per_px: tuple[float, float] | None = None) -> dict[str, Any]:
        """The to_dict() row for a frame without a lesion: None everywhere except units, calibrated, count."""
        values: dict[str, Any] = dict.fromkeys(MEASUREMENT_KEYS)
        scale = validate_calibration(mm_per_px)
        values.update(units="mm" if scale else "px", calibrated=scale is not None, n_components=0)
        return values


def validate_calibration(mm_per_px: object) -> tuple[float, float] | None:
    """(x, y) mm per pixel as two finite positive floats, or None (uncalibrated); MaskError otherwise."""
    if mm_per_px is None:
        return None
    try:
        sx, sy = (float(v) for v in mm_per_px)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise MaskError(f"mm_per_px must be (x, y) mm per pixel or None; got {mm_per_px!r}") from None
    if not (math.isfinite(sx) and math.isfinite(sy) and sx > 0 and sy > 0):
        raise MaskError(f"mm_per_px must be finite and positive; got ({sx}, {sy})")
    return sx, sy


def measure_mask(
    mask: object, mm_per_px: tuple[float, float] | None = None, component: str | int = "largest"
) -> Measurements | None:
    """Measure one connected component of a binary mask; None when the mask has no foreground pixel.

    mask: (H, W) bool or integer 0/1 or 0/255 (see contours.as_binary_mask; floats are rejected).
    mm_per_px: (x, y) millimetres per pixel, or None to measure in pixels.
    component: "largest" or the rank by pixel count (0 = largest, 1 = second largest, ...).
    Raises MaskError (a C5Error and a ValueError) for bad input, naming what is wrong.
    """
    binary = as_binary_mask(mask)
    scale = validate_calibration(mm_per_px)
    rank = _component_rank(component)
    components = find_components(binary)
    if components.count == 0:
        return None
    if rank >= components.count:
        raise MaskError(f"component rank {rank} asked for, but the mask has {components.count} component(s)")
    crop, origin = components.crop(rank)
    contour = outer_contour(crop, origin)
    physical = np.asarray(scale or (1.0, 1.0))
    hull = pixel_square_hull(contour)
    long_axis, long_ends = _long_axis(hull, physical)
    direction = (long_ends[1] - long_ends[0]) * physical
    edges = outer_pixel_edges(crop, contour, origin)
    short_axis, short_ends = _widest_perpendicular_chord(*edges, direction, physical)
    x, y, w, h = (int(v) for v in components.boxes_xywh[rank])
    area_px = int(components.areas[rank])
    perimeter, circularity, convexity = _outline_shape(contour, physical)
    return Measurements(
        calibrated=scale is not None,
        units="mm" if scale else "px",
        mm_per_px=scale,
        area=float(area_px * physical[0] * physical[1]),
        area_px=area_px,
        long_axis=long_axis,
        long_axis_endpoints=_as_points(long_ends),
        short_axis=short_axis,
        short_axis_endpoints=_as_points(short_ends),
        sl_ratio=short_axis / long_axis,
        orientation_deg=_orientation_deg(direction),
        width=float(w * physical[0]),
        height=float(h * physical[1]),
        taller_than_wide=bool(h * physical[1] > w * physical[0]),
        perimeter=perimeter,
        circularity=circularity,
        solidity=min(1.0, area_px / cv2.contourArea(hull.astype(np.float32))),
        convexity=convexity,
        bbox_xywh=(x, y, w, h),
        contour=_read_only(contour),
        contours=tuple(_read_only(c) for c in contours_by_area(binary, components)),
        component_areas=tuple(int(a) for a in components.areas),
        component_rank=rank,
    )


def _component_rank(component: object) -> int:
    if component == "largest":
        return 0
    if isinstance(component, (int, np.integer)) and not isinstance(component, bool) and component >= 0:
        return int(component)
    raise MaskError(f"component must be 'largest' or a rank >= 0 (0 = largest); got {component!r}")


def _long_axis(hull: np.ndarray, physical: np.ndarray) -> tuple[float, np.ndarray]:
    """Long axis between hull corners, its physical length and its two endpoints in pixels (left one first).

    Digitising flattens the tips of a lesion into runs of pixels, so several chords are longest to within
    half a pixel and the strict maximum is the one across a run's corners, tilted by up to a few degrees.
    Chords that close count as equally long; of those, the one nearest their mean direction is the axis.
    """
    points = hull * physical
    # A digital hull has a few hundred corners at most: all pairs cost less than rotating calipers in Python.
    first, second = np.triu_indices(len(points), k=1)
    deltas = points[second] - points[first]
    lengths = np.hypot(deltas[:, 0], deltas[:, 1])
    tolerance = min(0.5 * physical.max(), 0.01 * lengths.max())  # half a pixel, less on tiny lesions
    near = np.flatnonzero(lengths >= lengths.max() - tolerance)
    doubled = 2 * np.arctan2(deltas[near, 1], deltas[near, 0])  # axial directions: average doubled angles
    mean = math.atan2(np.sin(doubled).sum(), np.cos(doubled).sum())
    best = near[int(np.argmax(np.cos(doubled - mean)))]
    ends = hull[[first[best], second[best]]]
    order = np.lexsort((ends[:, 1], ends[:, 0]))
    return float(lengths[best]), ends[order]


def _widest_perpendicular_chord(
    starts: np.ndarray, ends: np.ndarray, direction: np.ndarray, physical: np.ndarray
) -> tuple[float, np.ndarray]:
    """Longest chord of the pixel outline perpendicular to `direction` (physical), with endpoints in pixels.

    In (u along the axis, v across) coordinates the outline's extent max v - min v is piecewise linear in u
    between the u of the edge endpoints, so its maximum lies at one of them.
    """
    along = direction / np.hypot(*direction)
    across = np.array([-along[1], along[0]])
    a, b = starts * physical, ends * physical
    ua, ub, va, vb = a @ along, b @ along, a @ across, b @ across
    flip = ua > ub
    ua[flip], ub[flip], va[flip], vb[flip] = ub[flip], ua[flip], vb[flip], va[flip]
    candidates, slot, v = _edges_at_candidates(ua, ub, va, vb)
    top = np.full(candidates.size, -np.inf)
    bottom = np.full(candidates.size, np.inf)
    np.maximum.at(top, slot, v)
    np.minimum.at(bottom, slot, v)
    best = int(np.argmax(top - bottom))
    u = candidates[best]
    ends_physical = np.array([u * along + bottom[best] * across, u * along + top[best] * across])
    return float(top[best] - bottom[best]), ends_physical / physical


def _edges_at_candidates(
    ua: np.ndarray, ub: np.ndarray, va: np.ndarray, vb: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every edge (ua <= ub) evaluated at every candidate u in its range: (candidates, slot, v) samples."""
    candidates = np.unique(np.concatenate([ua, ub]))
    first = np.searchsorted(candidates, ua, side="left")
    last = np.searchsorted(candidates, ub, side="right")
    total = int((last - first).sum())
    if total > _MAX_CHORD_SAMPLES:
        candidates = candidates[:: total // _MAX_CHORD_SAMPLES + 1]
        first = np.searchsorted(candidates, ua, side="left")
        last = np.searchsorted(candidates, ub, side="right")
    counts = last - first
    edge = np.repeat(np.arange(ua.size), counts)
    slot = np.arange(edge.size) - np.repeat(np.cumsum(counts) - counts, counts) + first[edge]
    length = ub - ua
    t = np.divide(candidates[slot] - ua[edge], length[edge], out=np.zeros(edge.size), where=length[edge] > 0)
    # An edge perpendicular to the axis has both ends at one u: the interpolation above gave va, add vb.
    across_edges = np.flatnonzero((length == 0) & (counts > 0))
    slot = np.concatenate([slot, first[across_edges]])
    v = np.concatenate([va[edge] + t * (vb[edge] - va[edge]), vb[across_edges]])
    return candidates, slot, v


def _outline_shape(contour: np.ndarray, physical: np.ndarray) -> tuple[float, float, float]:
    """(perimeter, circularity, convexity) of the smoothed outline, in physical units."""
    smoothed = cv2.approxPolyDP(contour.astype(np.float32), _SMOOTHING_PX, closed=True).reshape(-1, 2)
    outline = smoothed.astype(np.float64) * physical
    perimeter = _closed_length(outline)
    if perimeter == 0:
        return 0.0, 0.0, 1.0
    area = abs(cv2.contourArea(outline.astype(np.float32)))
    hull = cv2.convexHull(outline.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    circularity = min(1.0, 4 * math.pi * area / perimeter**2)
    return perimeter, circularity, min(1.0, _closed_length(hull) / perimeter)


def _closed_length(points: np.ndarray) -> float:
    return float(np.hypot(*(np.roll(points, -1, axis=0) - points).T).sum())


def _orientation_deg(direction: np.ndarray) -> float:
    # Image y grows downwards; flip it so that positive angles rise to the right as displayed.
    angle = math.degrees(math.atan2(-direction[1], direction[0]))
    if angle > 90:
        angle -= 180
    elif angle <= -90:
        angle += 180
    return angle + 0.0  # no -0.0 in reports


def _as_points(ends: np.ndarray) -> tuple[Point, Point]:
    return (float(ends[0, 0]), float(ends[0, 1])), (float(ends[1, 0]), float(ends[1, 1]))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
