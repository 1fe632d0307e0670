"""Hand-drawn calipers: a distance, a closed polygon's area and perimeter, the scale set from a depth ruler,
and a lesion's three orthogonal diameters from two linked views. Qt-free (the window draws, this measures).

Points are (x, y) frame pixel coordinates, as the canvas gives them. Lengths are in mm when a calibration
(x, y mm per pixel, possibly different) is given, else in px; every length is taken on physical
coordinates, so anisotropic pixels give the right answer.

Setting the scale from a ruler (scale_from_ruler): the user marks two ticks of the scanner's depth ruler
and types the distance between them. A depth ruler is vertical, so by default only the vertical span of
the two points counts (a slightly slanted pair of clicks does not shrink the scale). Pixels are assumed
square, as every B-mode scan converter produces them: the x scale is the y scale. This is what clinicians
expect of "calibrate from the ruler", and it is what a single typed distance can honestly tell.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from c5desk.errors import MaskError
from c5desk.lesion.measure import validate_calibration

Point = tuple[float, float]
Scale = tuple[float, float]

MIN_RULER_PX = 10.0  # two clicks closer than this cannot give a trustworthy scale
SCALE_RANGE_MM = (0.005, 2.0)  # plausible mm per pixel for ultrasound (5 µm .. 2 mm)
MAX_SLANT_DEG = 10.0  # a "vertical" ruler mark may lean this much
AXES = ("y", "x", "along")


@dataclass(frozen=True)
class Length:
    value: float
    units: str  # "mm" or "px"

    def __str__(self) -> str:
        return format_length(self.value, self.units)


@dataclass(frozen=True)
class PolygonMeasure:
    area: float  # units²
    perimeter: float  # units
    units: str

    def __str__(self) -> str:
        return f"{format_area(self.area, self.units)} (perimeter {format_length(self.perimeter, self.units)})"


def format_length(value: float, units: str) -> str:
    return f"{value:.1f} {units}" if units == "mm" else f"{value:.0f} {units}"


def format_area(value: float, units: str) -> str:
    return f"{value:.1f} {units}²" if units == "mm" else f"{value:.0f} {units}²"


def _physical(mm_per_px: object) -> tuple[Scale, str]:
    scale = validate_calibration(mm_per_px)
    return (scale, "mm") if scale is not None else ((1.0, 1.0), "px")


def _point(point: object) -> Point:
    try:
        x, y = (float(v) for v in point)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise MaskError(f"a caliper point is (x, y) pixels; got {point!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise MaskError(f"a caliper point must be finite; got ({x}, {y})")
    return x, y


def distance(p0: Sequence[float], p1: Sequence[float], mm_per_px: Scale | None = None) -> Length:
    """The length between two points: mm when calibrated, else px."""
    (sx, sy), units = _physical(mm_per_px)
    (x0, y0), (x1, y1) = _point(p0), _point(p1)
    return Length(math.hypot((x1 - x0) * sx, (y1 - y0) * sy), units)


def polygon(points: Sequence[Sequence[float]], mm_per_px: Scale | None = None) -> PolygonMeasure:
    """Area (shoelace) and perimeter of the closed polygon through `points` (at least 3)."""
    (sx, sy), units = _physical(mm_per_px)
    corners = [_point(p) for p in points]
    if len(corners) < 3:
        raise MaskError(f"an area needs at least 3 points; got {len(corners)}")
    physical = [(x * sx, y * sy) for x, y in corners]
    closed = [*physical, physical[0]]
    twice = sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(closed))
    perimeter = sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(closed))
    return PolygonMeasure(abs(twice) / 2, perimeter, units)


def scale_from_ruler(p0: Sequence[float], p1: Sequence[float], distance_mm: float, axis: str = "y") -> Scale:
    """(mm_per_px_x, mm_per_px_y) from two marked ruler points `distance_mm` apart (square pixels).

    axis "y": a vertical depth ruler (only the vertical span counts; the pair may lean MAX_SLANT_DEG);
    "x": a horizontal ruler; "along": the straight distance between the points, in any direction.
    MaskError when the points are too close, lean too much, the distance is not a positive number or
    the scale it gives is implausible for ultrasound (outside SCALE_RANGE_MM).
    """
    if axis not in AXES:
        raise MaskError(f"axis must be one of {', '.join(AXES)}; got {axis!r}")
    (x0, y0), (x1, y1) = _point(p0), _point(p1)
    mm = _distance_mm(distance_mm)
    dx, dy = abs(x1 - x0), abs(y1 - y0)
    span = {"y": dy, "x": dx, "along": math.hypot(dx, dy)}[axis]
    if span < MIN_RULER_PX:
        raise MaskError(f"the two ruler points are {span:.0f} px apart; mark points at least "
                        f"{MIN_RULER_PX:.0f} px apart (farther apart is more precise)")  # fmt: skip
    if axis != "along":
        across = dx if axis == "y" else dy
        lean = math.degrees(math.atan2(across, span))
        if lean > MAX_SLANT_DEG:
            direction = "vertical" if axis == "y" else "horizontal"
            raise MaskError(f"the two points are not on a {direction} ruler (they lean {lean:.0f}°)")
    per_px = mm / span
    low, high = SCALE_RANGE_MM
    if not low <= per_px <= high:
        raise MaskError(
            f"{mm:g} mm over {span:.0f} px is {per_px:.4g} mm per pixel, outside the plausible "
            f"{low:g}–{high:g} mm/px: check the distance typed and the points marked"
        )
    return per_px, per_px


def _distance_mm(value: object) -> float:
    try:
        mm = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MaskError(f"the distance must be a number of mm; got {value!r}") from None
    if not math.isfinite(mm) or mm <= 0:
        raise MaskError(f"the distance must be a positive number of mm; got {value!r}")
    return mm


@dataclass(frozen=True)
class Diameters:
    """A lesion's three orthogonal diameters and its ellipsoid volume (π/6·a·b·c), from two linked views.

    long_1, short_1: long and short axis on view 1 (e.g. transverse: width and depth); long_2: the long axis
    on the orthogonal view 2 (e.g. sagittal: length). volume in units³ (mm³; volume_ml when in mm).
    """

    long_1: float
    short_1: float
    long_2: float
    units: str

    @property
    def sorted(self) -> tuple[float, float, float]:
        return tuple(sorted((self.long_1, self.short_1, self.long_2), reverse=True))  # type: ignore[return-value]

    @property
    def volume(self) -> float:
        return math.pi / 6 * self.long_1 * self.short_1 * self.long_2

    @property
    def volume_ml(self) -> float | None:
        return self.volume / 1000 if self.units == "mm" else None

    def __str__(self) -> str:
        a, b, c = self.sorted
        text = f"{a:.1f} × {b:.1f} × {c:.1f} {self.units}"
        if self.volume_ml is not None:
            return f"{text}, ellipsoid volume {self.volume_ml:.2f} mL"
        return f"{text}, ellipsoid volume {self.volume:.0f} {self.units}³ (uncalibrated)"


def three_diameters(long_1: float, short_1: float, long_2: float, units: str = "mm") -> Diameters:
    """Diameters from view 1's long and short axes and view 2's long axis, all in one unit."""
    values = []
    for name, value in (("long axis 1", long_1), ("short axis 1", short_1), ("long axis 2", long_2)):
        number = float(value)
        if not math.isfinite(number) or number <= 0:
            raise MaskError(f"{name} must be a positive length; got {value!r}")
        values.append(number)
    if units not in ("mm", "px"):
        raise MaskError(f"units must be mm or px; got {units!r}")
    return Diameters(*values, units=units)


def diameters_from_views(view_1: object, view_2: object) -> Diameters:
    """Three diameters from the Measurements of one lesion on two orthogonal views (same units: both
    calibrated or neither, since mm and px cannot be mixed)."""
    units_1, units_2 = getattr(view_1, "units", None), getattr(view_2, "units", None)
    if units_1 != units_2:
        raise MaskError(f"the two views are measured in {units_1} and {units_2}: calibrate both views first")
    return three_diameters(view_1.long_axis, view_1.short_axis, view_2.long_axis, str(units_1))  # type: ignore[attr-defined]
