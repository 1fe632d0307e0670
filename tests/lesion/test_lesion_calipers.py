"""Hand calipers: distances and polygon areas with anisotropic pixels, the scale from a depth ruler and its
refusals, three orthogonal diameters and the ellipsoid volume."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from c5desk.errors import C5Error, MaskError
from c5desk.lesion.calipers import (
    diameters_from_views,
    distance,
    format_length,
    polygon,
    scale_from_ruler,
    three_diameters,
)
from c5desk.lesion.measure import measure_mask


def test_distance_in_px_and_in_mm_with_anisotropic_pixels() -> None:
    assert distance((0, 0), (3, 4)).value == pytest.approx(5.0)
    assert distance((0, 0), (3, 4)).units == "px"
    # 0.2 mm across, 0.5 mm down: 3 px → 0.6 mm, 4 px → 2.0 mm
    length = distance((10, 10), (13, 14), (0.2, 0.5))
    assert length.units == "mm" and length.value == pytest.approx(math.hypot(0.6, 2.0))
    assert str(length) == "2.1 mm" and format_length(42.4, "px") == "42 px"


def test_polygon_area_and_perimeter() -> None:
    square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    assert polygon(square).area == pytest.approx(100.0) and polygon(square).perimeter == pytest.approx(40.0)
    measured = polygon(list(reversed(square)), (0.1, 0.3))  # either winding
    assert measured.units == "mm"
    assert measured.area == pytest.approx(1.0 * 3.0) and measured.perimeter == pytest.approx(8.0)
    triangle = polygon([(0, 0), (4, 0), (0, 3)], (0.5, 0.5))
    assert triangle.area == pytest.approx(0.5 * 2 * 1.5) and triangle.perimeter == pytest.approx(6.0)


def test_polygon_needs_three_finite_points_and_a_valid_scale() -> None:
    with pytest.raises(MaskError, match="at least 3 points"):
        polygon([(0, 0), (1, 1)])
    with pytest.raises(MaskError, match="finite"):
        distance((0, float("nan")), (1, 1))
    with pytest.raises(MaskError, match="finite and positive"):
        distance((0, 0), (1, 1), (0.0, 0.1))


def test_scale_from_a_vertical_ruler_is_square_and_ignores_a_slight_lean() -> None:
    assert scale_from_ruler((100, 50), (100, 250), 40.0) == pytest.approx((0.2, 0.2))
    # a hand-placed pair leaning 3 px over 200: only the vertical span counts
    assert scale_from_ruler((103, 250), (100, 50), 40.0) == pytest.approx((0.2, 0.2))
    assert scale_from_ruler((0, 0), (30, 40), 10.0, axis="along") == pytest.approx((0.2, 0.2))
    assert scale_from_ruler((20, 5), (220, 7), 20.0, axis="x") == pytest.approx((0.1, 0.1))


@pytest.mark.parametrize(
    ("p1", "mm", "axis", "message"),
    [
        ((100, 55), 1.0, "y", "at least 10 px apart"),
        ((100, 250), 0.0, "y", "positive number"),
        ((100, 250), float("inf"), "y", "positive number"),
        ((100, 250), "ten", "y", "must be a number"),
        ((100, 250), 1000.0, "y", "outside the plausible"),  # 5 mm per pixel
        ((100, 250), 0.1, "y", "outside the plausible"),  # 0.0005 mm per pixel
        ((200, 150), 10.0, "y", "not on a vertical ruler"),
        ((100, 250), 10.0, "diagonal", "axis must be one of"),
    ],
)
def test_scale_from_ruler_refuses_what_cannot_be_trusted(p1, mm, axis, message) -> None:
    with pytest.raises(MaskError, match=message) as caught:
        scale_from_ruler((100, 50), p1, mm, axis=axis)
    assert isinstance(caught.value, C5Error) and "\n" not in str(caught.value)


def test_three_diameters_and_ellipsoid_volume() -> None:
    d = three_diameters(20.0, 10.0, 15.0)
    assert d.sorted == (20.0, 15.0, 10.0)
    assert d.volume == pytest.approx(math.pi / 6 * 20 * 10 * 15)
    assert d.volume_ml == pytest.approx(math.pi / 6 * 3.0)
    assert str(d) == "20.0 × 15.0 × 10.0 mm, ellipsoid volume 1.57 mL"
    px = three_diameters(20, 10, 15, "px")
    assert px.volume_ml is None and "uncalibrated" in str(px)
    with pytest.raises(MaskError, match="short axis 1 must be a positive length"):
        three_diameters(20, 0, 15)


def test_diameters_from_the_measurements_of_two_views() -> None:
    transverse = np.zeros((200, 200), np.uint8)
    cv2.ellipse(transverse, (100, 100), (40, 10), 0, 0, 360, 255, -1)  # 81 px wide, 21 px deep
    sagittal = np.zeros((200, 200), np.uint8)
    cv2.ellipse(sagittal, (100, 100), (30, 12), 0, 0, 360, 255, -1)  # 61 px long
    scale = (0.1, 0.1)
    d = diameters_from_views(measure_mask(transverse, scale), measure_mask(sagittal, scale))
    assert (d.long_1, d.short_1, d.long_2) == pytest.approx((8.1, 2.1, 6.1), abs=0.1)
    assert d.units == "mm" and d.volume_ml == pytest.approx(math.pi / 6 * 8.1 * 2.1 * 6.1 / 1000, rel=0.05)
    with pytest.raises(MaskError, match="calibrate both views"):
        diameters_from_views(measure_mask(transverse, scale), measure_mask(sagittal))
