"""Lesion measurements: exact geometry where rasterisation allows, independent references elsewhere."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.errors import C5Error
from c5desk.lesion.contours import as_binary_mask, find_components, outer_contour, outer_pixel_edges
from c5desk.lesion.measure import (
    MEASUREMENT_KEYS,
    MaskError,
    Measurements,
    largest_component,
    lesion_contours,
    measure_mask,
)


def ellipse_mask(a: int, b: int, angle: float = 0, size: int = 400) -> np.ndarray:
    """cv2's filled ellipse: extent 2a+1 by 2b+1 pixels; `angle` turns it clockwise as displayed."""
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, (size // 2, size // 2), (a, b), angle, 0, 360, 255, -1)
    return mask


def star_mask(spikes: int = 8, outer: int = 80, inner: int = 35) -> np.ndarray:
    angles = np.arange(2 * spikes) * np.pi / spikes
    radii = np.where(np.arange(2 * spikes) % 2 == 0, outer, inner)
    points = np.stack([100 + radii * np.cos(angles), 100 + radii * np.sin(angles)], axis=1)
    mask = np.zeros((200, 200), np.uint8)
    cv2.fillPoly(mask, [np.rint(points).astype(np.int32)], 1)
    return mask


def rectangle_mask(width: int, height: int) -> np.ndarray:
    mask = np.zeros((height + 40, width + 40), bool)
    mask[20 : 20 + height, 20 : 20 + width] = True
    return mask


def physical_distance(p: tuple[float, float], q: tuple[float, float], scale: tuple[float, float]) -> float:
    return math.hypot((p[0] - q[0]) * scale[0], (p[1] - q[1]) * scale[1])


# --- shapes with known answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [8, 40, 150])
def test_circle_axes_are_its_diameter_and_it_is_round(radius: int) -> None:
    m = measure_mask(ellipse_mask(radius, radius))
    diameter = 2 * radius + 1  # pixel edge to pixel edge
    assert abs(m.long_axis - diameter) <= 1.0
    assert abs(m.short_axis - diameter) <= 1.0
    assert m.sl_ratio > 0.97
    small = radius < 10  # the pixel staircase weighs more on a small disc
    assert m.circularity > (0.9 if small else 0.97)
    assert m.solidity > (0.9 if small else 0.97) and m.convexity > 0.98
    assert m.area == np.count_nonzero(ellipse_mask(radius, radius))
    assert m.units == "px" and not m.calibrated and m.mm_per_px is None


def test_axis_aligned_ellipse() -> None:
    m = measure_mask(ellipse_mask(120, 40))
    assert m.long_axis == pytest.approx(241, abs=0.5)
    assert m.short_axis == pytest.approx(81, abs=0.5)
    assert m.sl_ratio == pytest.approx(81 / 241, abs=0.005)
    assert m.orientation_deg == pytest.approx(0, abs=0.5)
    assert (m.width, m.height) == (241, 81) and m.bbox_xywh == (80, 160, 241, 81)
    assert not m.taller_than_wide


@pytest.mark.parametrize("angle", [-60, -30, 30, 45, 90])
def test_rotated_ellipse_keeps_its_axes_and_reports_its_angle(angle: float) -> None:
    m = measure_mask(ellipse_mask(120, 40, angle))
    assert m.long_axis == pytest.approx(241, abs=1.0)
    assert m.short_axis == pytest.approx(81, abs=1.5)
    # cv2 turns clockwise on screen; orientation_deg is counter-clockwise as displayed, in (-90, 90].
    assert m.orientation_deg == pytest.approx(-angle if angle != 90 else 90, abs=1.0)
    assert m.taller_than_wide == (abs(angle) > 45)


def test_rectangle_is_measured_exactly_corner_to_corner() -> None:
    m = measure_mask(rectangle_mask(100, 50))
    diagonal = math.hypot(100, 50)
    assert m.long_axis == pytest.approx(diagonal, rel=1e-12)
    # Widest chord perpendicular to the diagonal passes through the other two corners.
    assert m.short_axis == pytest.approx(50 * diagonal / 100, rel=1e-12)
    assert abs(m.orientation_deg) == pytest.approx(math.degrees(math.atan2(50, 100)), abs=1e-9)
    assert m.area == 5000 and m.solidity == 1.0 and m.convexity == pytest.approx(1.0)
    # Outline through boundary pixel centres: a 99 x 49 rectangle.
    assert m.circularity == pytest.approx(4 * math.pi * 99 * 49 / (2 * (99 + 49)) ** 2, rel=1e-6)
    assert m.perimeter == pytest.approx(2 * (99 + 49))


def test_anisotropic_calibration_measures_in_mm() -> None:
    scale = (0.1, 0.2)
    horizontal = measure_mask(rectangle_mask(100, 1), scale)
    vertical = measure_mask(rectangle_mask(1, 100), scale)
    assert horizontal.long_axis == pytest.approx(10.0, abs=0.01)
    assert vertical.long_axis == pytest.approx(20.0, abs=0.01)
    assert horizontal.area == pytest.approx(100 * 0.02) and vertical.area == pytest.approx(100 * 0.02)
    assert horizontal.units == vertical.units == "mm" and horizontal.calibrated
    # 50 x 50 pixels are 5 x 10 mm: taller than wide although square on screen.
    square = measure_mask(rectangle_mask(50, 50), scale)
    assert square.long_axis == pytest.approx(math.hypot(5, 10), rel=1e-12)
    assert square.short_axis == pytest.approx(5 * math.hypot(5, 10) / 10, rel=1e-12)
    assert square.taller_than_wide and (square.width, square.height) == pytest.approx((5, 10))
    assert square.orientation_deg == pytest.approx(
        math.degrees(math.atan2(10, 5)) * np.sign(square.orientation_deg)
    )


def test_rotating_the_mask_with_its_calibration_changes_no_length() -> None:
    mask = star_mask(spikes=5, outer=70, inner=40)
    upright = measure_mask(mask, (0.08, 0.13))
    turned = measure_mask(np.rot90(mask), (0.13, 0.08))
    for key in ("long_axis", "short_axis", "area", "solidity", "circularity", "convexity"):
        assert getattr(turned, key) == pytest.approx(getattr(upright, key), rel=1e-6), key
    assert turned.taller_than_wide != upright.taller_than_wide or upright.width == upright.height


def test_taller_than_wide_follows_the_extents() -> None:
    assert measure_mask(ellipse_mask(30, 60)).taller_than_wide
    assert not measure_mask(ellipse_mask(60, 30)).taller_than_wide
    tall = measure_mask(ellipse_mask(30, 60))
    assert tall.height > tall.width and tall.orientation_deg == pytest.approx(90)


def test_spiculated_margin_scores_lower_than_an_ellipse() -> None:
    star, smooth = measure_mask(star_mask()), measure_mask(ellipse_mask(80, 50))
    assert star.solidity < 0.6 < 0.95 < smooth.solidity
    assert star.convexity < 0.75 < 0.98 < smooth.convexity
    assert star.circularity < 0.3 < 0.85 < smooth.circularity


def test_ring_area_excludes_the_hole_but_axes_span_it() -> None:
    ring = ellipse_mask(40, 40)
    ring[ellipse_mask(30, 30) > 0] = 0
    m = measure_mask(ring)
    assert m.area == np.count_nonzero(ring)
    assert abs(m.long_axis - 81) <= 1.0 and abs(m.short_axis - 81) <= 1.0
    assert m.solidity < 0.5
    disc = measure_mask(ellipse_mask(40, 40))
    assert (m.long_axis, m.short_axis) == (disc.long_axis, disc.short_axis)
    # Only the outer outline bounds a chord: the hole adds no edges to search.
    assert np.array_equal(outline_edges(ring), outline_edges(ellipse_mask(40, 40)))


def outline_edges(mask: np.ndarray) -> np.ndarray:
    crop, origin = find_components(as_binary_mask(mask)).crop(0)
    starts, ends = outer_pixel_edges(crop, outer_contour(crop, origin), origin)
    return np.unique(np.hstack([starts, ends]), axis=0)


def test_short_axis_is_a_chord_not_the_caliper_width() -> None:
    # A slanted parallelogram: its width across the long diagonal is set by two corners at different places
    # along it, while a sonographer's perpendicular diameter is one chord: 10 * sqrt(17) here.
    mask = np.zeros((60, 180), np.uint8)
    cv2.fillPoly(mask, [np.array([[10, 10], [110, 10], [170, 50], [70, 50]], np.int32)], 1)
    m = measure_mask(mask)
    along = np.subtract(*m.long_axis_endpoints[::-1])
    across = np.array([-along[1], along[0]]) / np.hypot(*along)
    ys, xs = np.nonzero(mask)
    corners = np.concatenate([np.stack([xs + dx, ys + dy], 1) for dx in (-0.5, 0.5) for dy in (-0.5, 0.5)])
    caliper_width = np.ptp(corners @ across)
    assert m.short_axis == pytest.approx(10 * math.sqrt(17), abs=1.5)
    assert m.short_axis < caliper_width - 5
    assert m.short_axis == pytest.approx(supersampled_chord(mask, m, (1.0, 1.0)), abs=0.4)


# --- against independent references on random blobs --------------------------------------------------------


def random_blob(rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((140, 140), np.uint8)
    for _ in range(rng.integers(1, 5)):
        centre = tuple(int(v) for v in rng.integers(45, 95, size=2))
        axes = tuple(int(v) for v in rng.integers(4, 40, size=2))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return mask


def supersampled_chord(mask: np.ndarray, m: Measurements, scale: tuple[float, float], k: int = 8) -> float:
    """Widest chord perpendicular to the measured long axis, from sub-pixel samples binned along the axis."""
    ys, xs = np.nonzero(largest_component(mask))
    offsets = (np.arange(k) + 0.5) / k - 0.5
    sx = (xs[:, None, None] + offsets[None, None, :]).repeat(k, 1).ravel() * scale[0]
    sy = (ys[:, None, None] + offsets[None, :, None]).repeat(k, 2).ravel() * scale[1]
    (x0, y0), (x1, y1) = m.long_axis_endpoints
    along = np.array([(x1 - x0) * scale[0], (y1 - y0) * scale[1]])
    along /= np.hypot(*along)
    u = sx * along[0] + sy * along[1]
    v = -sx * along[1] + sy * along[0]
    bins = np.floor(u / (min(scale) / k)).astype(np.int64)
    order = np.argsort(bins, kind="stable")
    starts = np.flatnonzero(np.diff(bins[order], prepend=bins[order][0] - 1))
    spans = np.maximum.reduceat(v[order], starts) - np.minimum.reduceat(v[order], starts)
    return float(spans.max() + max(scale) / k)  # sample centres sit half a sub-pixel inside each edge


@pytest.mark.parametrize("seed", range(12))
def test_random_blobs_match_brute_force_references(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = random_blob(rng)
    scale = (1.0, 1.0) if seed % 2 == 0 else (float(rng.uniform(0.05, 0.2)), float(rng.uniform(0.05, 0.2)))
    m = measure_mask(mask, scale)
    lesion = largest_component(mask)
    ys, xs = np.nonzero(lesion)
    assert m.area == pytest.approx(xs.size * scale[0] * scale[1])
    # Long axis: all pairs of hull points of every pixel corner (not only the contour's).
    corners = np.concatenate([np.stack([xs + dx, ys + dy], 1) for dx in (-0.5, 0.5) for dy in (-0.5, 0.5)])
    hull = cv2.convexHull(corners.astype(np.float32)).reshape(-1, 2) * np.asarray(scale)
    longest = np.sqrt(((hull[:, None] - hull[None]) ** 2).sum(-1)).max()
    assert longest - 0.5 * max(scale) - 1e-6 <= m.long_axis <= longest + 1e-6
    assert physical_distance(*m.long_axis_endpoints, scale) == pytest.approx(m.long_axis)
    assert m.short_axis == pytest.approx(supersampled_chord(mask, m, scale), abs=0.4 * max(scale))
    assert physical_distance(*m.short_axis_endpoints, scale) == pytest.approx(m.short_axis)
    long_vec = np.subtract(*m.long_axis_endpoints) * scale
    short_vec = np.subtract(*m.short_axis_endpoints) * scale
    assert abs(long_vec @ short_vec) <= 1e-6 * m.long_axis * m.short_axis  # perpendicular in mm
    pixel_hull = (hull / np.asarray(scale)).astype(np.float32)
    assert m.solidity == pytest.approx(xs.size / cv2.contourArea(pixel_hull), rel=1e-5)
    assert 0 < m.sl_ratio <= 1 and 0 <= m.circularity <= 1 and 0 < m.convexity <= 1


def test_ragged_outline_falls_back_to_fewer_lines_and_stays_close(monkeypatch: pytest.MonkeyPatch) -> None:
    noise = np.random.default_rng(7).random((120, 160)) < 0.62
    exact = measure_mask(noise, (0.1, 0.13))
    monkeypatch.setattr("c5desk.lesion.measure._MAX_CHORD_SAMPLES", 2_000)
    coarse = measure_mask(noise, (0.1, 0.13))
    assert coarse.long_axis == exact.long_axis
    assert exact.short_axis - 0.5 <= coarse.short_axis <= exact.short_axis
    # Down to a single line: the end edges of a bar, perpendicular to its axis, lie beyond it.
    monkeypatch.setattr("c5desk.lesion.measure._MAX_CHORD_SAMPLES", 1)
    assert measure_mask(rectangle_mask(50, 1)).short_axis == pytest.approx(1.0)


# --- components, degenerate and bad input -----------------------------------------------------------------


def test_two_components_measure_the_largest_and_report_both() -> None:
    mask = ellipse_mask(50, 30)
    mask[10:30, 10:30] = 255
    m = measure_mask(mask)
    assert m.n_components == 2 and m.component_areas[1] == 400
    assert m.area == m.component_areas[0] == np.count_nonzero(ellipse_mask(50, 30))
    assert len(m.contours) == 2 and np.array_equal(m.contours[0], m.contour)
    assert m.contours[1][:, 0].min() == 10 and m.contours[1][:, 1].max() == 29
    small = measure_mask(mask, component=1)
    assert small.area == 400 and small.bbox_xywh == (10, 10, 20, 20) and small.component_rank == 1
    with pytest.raises(MaskError, match="rank 2"):
        measure_mask(mask, component=2)
    with pytest.raises(MaskError, match="component"):
        measure_mask(mask, component="smallest")


def test_components_are_8_connected_and_may_nest() -> None:
    touching = np.zeros((30, 30), bool)
    touching[5:10, 5:10] = touching[10:15, 10:15] = True  # corners touch diagonally
    assert measure_mask(touching).n_components == 1 and measure_mask(touching).area == 50
    # A thin ring around a bigger disc lying in its hole: two components, the disc is the lesion.
    nested = ellipse_mask(60, 60, size=160)
    nested[ellipse_mask(58, 58, size=160) > 0] = 0
    nested[ellipse_mask(50, 50, size=160) > 0] = 255
    m = measure_mask(nested)
    assert m.n_components == 2 and m.area == np.count_nonzero(ellipse_mask(50, 50, size=160))
    assert abs(m.long_axis - 101) <= 1.0 and len(m.contours) == 2
    assert np.array_equal(m.contours[0], m.contour) and m.contours[1][:, 0].min() == 20


def test_lesion_contours_and_largest_component() -> None:
    mask = np.zeros((60, 80), bool)
    mask[5:10, 5:10] = True
    mask[20:50, 30:70] = True
    contours = lesion_contours(mask)
    assert [c.shape[1] for c in contours] == [2, 2]
    assert contours[0][:, 0].min() == 30 and contours[0][:, 0].max() == 69
    assert all(mask[c[:, 1].astype(int), c[:, 0].astype(int)].all() for c in contours)
    largest = largest_component(mask)
    assert largest.dtype == bool and largest.sum() == 1200 and largest[20:50, 30:70].all()
    assert not largest_component(np.zeros((5, 5), bool)).any()
    assert lesion_contours(np.zeros((5, 5), bool)) == []


def test_empty_mask_gives_none_and_an_empty_row() -> None:
    assert measure_mask(np.zeros((30, 40), np.uint8), (0.1, 0.1)) is None
    row = Measurements.empty_dict((0.1, 0.1))
    assert tuple(row) == MEASUREMENT_KEYS
    assert row["units"] == "mm" and row["calibrated"] is True and row["n_components"] == 0
    assert row["long_axis"] is None and row["area"] is None
    assert Measurements.empty_dict()["units"] == "px"


def test_single_pixel_and_thin_lines_do_not_crash() -> None:
    dot = np.zeros((9, 9), bool)
    dot[4, 4] = True
    m = measure_mask(dot)
    assert (
        m.area == 1
        and m.long_axis == pytest.approx(math.sqrt(2))
        and m.short_axis == pytest.approx(math.sqrt(2))
    )
    assert m.circularity == 0.0 and m.solidity == 1.0 and m.convexity == 1.0
    line = rectangle_mask(50, 1)
    m = measure_mask(line)
    # The diagonal is longer by 0.01 px only, so the axis runs along the line (see _long_axis).
    assert (m.long_axis, m.short_axis, m.orientation_deg) == pytest.approx((50, 1, 0))
    assert m.circularity == 0.0 and m.area == 50
    diagonal = np.zeros((80, 80), np.uint8)
    cv2.line(diagonal, (5, 5), (70, 45), 1, 1)
    m = measure_mask(diagonal)
    assert m.n_components == 1 and m.long_axis >= math.hypot(65, 40) and m.short_axis < 2.5
    edge = np.zeros((10, 10), bool)
    edge[:, 0] = True  # touching the frame border
    assert measure_mask(edge).long_axis == pytest.approx(10)


def test_binary_encodings_agree_and_others_are_rejected() -> None:
    base = star_mask() > 0
    reference = measure_mask(base).to_dict()
    for encoded in (base.astype(np.uint8), base.astype(np.uint8) * 255, base.astype(np.int64), base * 7):
        assert measure_mask(encoded).to_dict() == reference
    assert measure_mask(np.asfortranarray(base)).to_dict() == reference
    with pytest.raises(MaskError, match="threshold"):
        measure_mask(base.astype(np.float32) * 0.9)
    grey = base.astype(np.uint8) * 255
    grey[0, 0] = 128
    with pytest.raises(MaskError, match="distinct values"):
        measure_mask(grey)
    with pytest.raises(MaskError, match="negative"):
        measure_mask(-base.astype(np.int16))
    with pytest.raises(MaskError, match="not supported"):
        measure_mask(base.astype(complex))


@pytest.mark.parametrize("shape", [(20, 20, 3), (20, 20, 1), (20,), ()])
def test_wrong_dimensions_raise_a_clear_value_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="must be 2-D") as caught:
        measure_mask(np.ones(shape, bool))
    assert isinstance(caught.value, C5Error) and str(shape) in str(caught.value)
    with pytest.raises(MaskError, match="no pixels"):
        measure_mask(np.zeros((0, 5), bool))


@pytest.mark.parametrize("bad", [(0, 0.1), (0.1, -1), (float("nan"), 0.1), (0.1,), "ab", 0.1])
def test_bad_calibration_is_rejected(bad: object) -> None:
    with pytest.raises(MaskError, match="mm_per_px"):
        measure_mask(rectangle_mask(5, 5), bad)  # type: ignore[arg-type]


def test_to_dict_is_flat_json_and_arrays_are_read_only() -> None:
    m = measure_mask(ellipse_mask(40, 25), (0.1, 0.1))
    row = m.to_dict()
    assert tuple(row) == MEASUREMENT_KEYS
    assert all(type(v) in (float, int, bool, str, list) for v in row.values())
    assert json.loads(json.dumps(row)) == row
    assert row["units"] == "mm" and row["n_components"] == 1 and row["bbox_xywh"] == list(m.bbox_xywh)
    with pytest.raises(ValueError):
        m.contour[0, 0] = 0
    with pytest.raises(AttributeError):
        m.area = 0  # type: ignore[misc]


# --- real masks ---------------------------------------------------------------------------------------------


def busbra_rows(root: Path, count: int) -> list[dict[str, str]]:
    with open(root / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Spread over the table (and so over patients and scanners), not only its first rows.
    return rows[:: max(1, len(rows) // count)][:count]


def test_busbra_masks_match_their_bounding_boxes(busbra_root: Path) -> None:
    for row in busbra_rows(busbra_root, 24):
        mask = cv2.imread(str(busbra_root / row["mask"]), cv2.IMREAD_UNCHANGED)
        assert mask is not None, row["mask"]
        m = measure_mask(mask)
        _, _, w, h = json.loads(row["bbox_xywh"])  # its w, h are max - min: one pixel less than ours
        assert max(w, h) - 2 <= m.long_axis <= math.hypot(w, h) + 2, row["mask"]
        assert m.area == np.count_nonzero(largest_component(mask)), row["mask"]
        if m.n_components == 1:
            assert m.area == np.count_nonzero(mask)
        assert (m.width, m.height) == (w + 1, h + 1), row["mask"]
        assert 0 < m.short_axis <= m.long_axis and 0 < m.solidity <= 1, row["mask"]
