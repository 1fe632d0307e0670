"""Domain randomisation for B-mode ultrasound: imitate what differs between scanners and sites.

A model trained on one dataset sees one scanner's habits; other sites differ in ways that carry no diagnosis:
- field of view: a wider depth/width setting shows the same lesion smaller, with black outside the scan;
- gain / TGC: operators set the depth gain curve by hand, so brightness drifts smoothly with depth, and a
  mis-set slider leaves a brighter or darker horizontal band;
- resolution: older probes, lower frequencies and video grabbers give softer images than the source data;
- burned-in annotations: measurement text, '+'/'x' calipers (often placed on the lesion boundary) and depth
  rulers are drawn into exported frames; the model must learn to ignore them, so the mask never changes.
Speckle grain and blur already vary in augment.augment_intensity and are not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class DomainRandomConfig:
    fov_prob: float = 0.3
    fov_scale_range: tuple[float, float] = (0.55, 0.9)
    tgc_prob: float = 0.4
    tgc_points_range: tuple[int, int] = (3, 5)
    tgc_gain_range: tuple[float, float] = (0.6, 1.4)
    band_prob: float = 0.3  # given TGC: one mis-set slider
    band_gain_range: tuple[float, float] = (0.6, 1.5)
    resolution_prob: float = 0.25
    resolution_scale_range: tuple[float, float] = (0.4, 0.8)
    overlay_prob: float = 0.35
    overlay_items_range: tuple[int, int] = (1, 4)
    overlay_grey_range: tuple[float, float] = (180.0, 255.0)


def randomise_domain(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, cfg: DomainRandomConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(float32 0..255 image, uint8 0/1 mask) → a scanner/site variant of both, same shapes and dtypes."""
    pixels = np.array(image, dtype=np.float32, copy=True)
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    # Every probability is drawn, taken or not, so the rng stream does not depend on earlier outcomes.
    if rng.random() < cfg.fov_prob:
        pixels, mask = zoom_out(pixels, mask, rng, cfg)
    if rng.random() < cfg.tgc_prob:
        pixels = pixels * depth_gain(pixels.shape[0], rng, cfg)[:, None]
    if rng.random() < cfg.resolution_prob:
        pixels = degrade_resolution(pixels, rng, cfg)
    np.clip(pixels, 0, 255, out=pixels)
    # Overlays last: annotations are burned in at display resolution, after the scanner's processing.
    if rng.random() < cfg.overlay_prob:
        draw_overlays(pixels, mask, rng, cfg)
    return np.clip(pixels, 0, 255).astype(np.float32), mask


def zoom_out(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, cfg: DomainRandomConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Shrink image and mask alike and paste them at a random place on a black frame of the same size."""
    height, width = image.shape
    factor = rng.uniform(*cfg.fov_scale_range)
    new_h, new_w = max(1, round(height * factor)), max(1, round(width * factor))
    small = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask, (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    top = int(rng.integers(0, height - new_h + 1))
    left = int(rng.integers(0, width - new_w + 1))
    canvas = np.zeros_like(image)
    canvas_mask = np.zeros_like(mask)
    canvas[top : top + new_h, left : left + new_w] = small
    canvas_mask[top : top + new_h, left : left + new_w] = small_mask
    return canvas, canvas_mask


def depth_gain(rows: int, rng: np.random.Generator, cfg: DomainRandomConfig) -> np.ndarray:
    """A smooth per-row gain (TGC curve), sometimes with one brighter or darker horizontal band."""
    low, high = cfg.tgc_points_range
    points = rng.uniform(*cfg.tgc_gain_range, int(rng.integers(low, high + 1))).astype(np.float32)
    # Cubic resize of a few control points gives a smooth curve; clip the small cubic overshoot.
    curve = cv2.resize(points[:, None], (1, rows), interpolation=cv2.INTER_CUBIC)[:, 0]
    curve = np.clip(curve, *cfg.tgc_gain_range)
    if rng.random() < cfg.band_prob:
        centre = rng.uniform(0, rows)
        half_width = rng.uniform(0.03, 0.1) * rows
        bump = np.exp(-(((np.arange(rows) - centre) / half_width) ** 2)).astype(np.float32)
        curve = curve * (1.0 + (rng.uniform(*cfg.band_gain_range) - 1.0) * bump)
    return curve.astype(np.float32)


def degrade_resolution(image: np.ndarray, rng: np.random.Generator, cfg: DomainRandomConfig) -> np.ndarray:
    """Down- then up-sample: the softness of a lower-frequency probe or an analogue frame grabber."""
    height, width = image.shape
    factor = rng.uniform(*cfg.resolution_scale_range)
    small_size = (max(2, round(width * factor)), max(2, round(height * factor)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def draw_overlays(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, cfg: DomainRandomConfig
) -> None:
    """Burn text, calipers and a depth ruler into image in place; the mask is only read, never changed."""
    low, high = cfg.overlay_items_range
    for _ in range(int(rng.integers(low, high + 1))):
        grey = float(rng.uniform(*cfg.overlay_grey_range))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            _draw_text(image, rng, grey)
        elif kind == 1:
            for _ in range(2):  # calipers come in pairs, one at each end of a measurement
                _draw_caliper(image, _caliper_point(mask, rng), rng, grey)
        else:
            _draw_ruler(image, rng, grey)


def _draw_text(image: np.ndarray, rng: np.random.Generator, grey: float) -> None:
    height, width = image.shape
    text = _annotation_text(rng)
    scale = max(0.25, min(height, width) / 500.0) * rng.uniform(0.8, 1.3)
    (text_w, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    # Scanners write measurements and settings in the margins: top or bottom strip, left or right side.
    margin = max(1, round(0.03 * min(height, width)))
    x = margin if rng.random() < 0.5 else max(0, width - text_w - margin)
    y = margin + text_h if rng.random() < 0.5 else height - margin
    cv2.putText(image, text, (int(x), int(y)), cv2.FONT_HERSHEY_SIMPLEX, scale, grey, 1, cv2.LINE_AA)


def _annotation_text(rng: np.random.Generator) -> str:
    kind = int(rng.integers(0, 5))
    if kind == 0:
        return f"{'LDWH'[int(rng.integers(0, 4))]} {rng.uniform(0.2, 5.0):.1f}cm"
    if kind == 1:
        return f"{int(rng.integers(5, 18))}MHz"
    if kind == 2:
        return f"D {rng.uniform(2.0, 6.0):.1f}"
    if kind == 3:
        return f"G{int(rng.integers(20, 90))}"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), int(rng.integers(2, 6))))


def _caliper_point(mask: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """A point on the lesion boundary if there is one (where sonographers put calipers), else anywhere."""
    height, width = mask.shape
    if mask.any() and rng.random() < 0.7:
        inner = cv2.erode(mask, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
        edge = mask - inner
        ys, xs = np.nonzero(edge if edge.any() else mask)
        pick = int(rng.integers(0, ys.size))
        return int(xs[pick]), int(ys[pick])
    return int(rng.integers(0, width)), int(rng.integers(0, height))


def _draw_caliper(image: np.ndarray, centre: tuple[int, int], rng: np.random.Generator, grey: float) -> None:
    arm = max(2, round(min(image.shape) * rng.uniform(0.015, 0.03)))
    marker = cv2.MARKER_CROSS if rng.random() < 0.5 else cv2.MARKER_TILTED_CROSS
    cv2.drawMarker(image, centre, grey, marker, 2 * arm + 1, 1)


def _draw_ruler(image: np.ndarray, rng: np.random.Generator, grey: float) -> None:
    """A dotted depth scale down one side, with a longer tick every fifth dot (one per centimetre)."""
    height, width = image.shape
    offset = round(rng.uniform(0.02, 0.06) * width)
    x = offset if rng.random() < 0.5 else width - 1 - offset
    step = max(3, round(height * rng.uniform(0.04, 0.08)))
    major = max(3, round(0.03 * width))
    for i, y in enumerate(range(int(rng.integers(0, step)), height, step)):
        tick = major if i % 5 == 0 else 1
        cv2.line(image, (x - tick // 2, y), (x + tick // 2, y), grey, 1)
