"""Refining a mask from a prompt with the model's own probability map (bundles without prompt inputs).

Rules (chosen on BUS-BRA train frames against their reference masks; benchmarks/bench_prompt.py --dice):
  - box: the lesion is the best candidate region of the map inside the box (the most probability mass), at
    the model's threshold or, when the map is weak there, at half its peak inside the box; with nothing in
    the map, the dark side of an Otsu split of the grey inside the box (lesions are mostly hypoechoic),
    the part nearest the box's centre. Nothing outside the box stays.
  - positive click outside the mask: adds the map's region containing it (at the threshold, or at half the
    map's value there when it is weak), else a grey-level region grown from the click; bounded near the click.
  - negative click inside the mask: removes its region — all of it when the click is at the region's heart
    or the region holds no positive click and is not the main lesion, else the part of it nearer the click
    than the region's core and the positive clicks (a leak cut off at the split).
  - the previous mask is the starting point, so each click refines what is shown (RITM-style iteration).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from c5desk.inference.prompt import Prompt

MIN_PEAK = 0.05  # a map below this inside a box or at a click counts as "the model sees nothing here"
LOW_FRACTION = 0.3  # the fallback level: this fraction of the map's peak
GROW_RADIUS = 0.12  # grey growing stays within this fraction of the frame's diagonal of the click
NEAR = 0.08  # a positive click within this fraction of the diagonal of the outline extends the outline
REACH = 1.5  # a click moves the outline this many times its distance from the click (beyond the click)
SIMILAR = 0.05  # a negative click removes pixels at most this much more probable than the click


def refine_mask(prob: np.ndarray, grey: np.ndarray, prompt: Prompt, threshold: float = 0.5) -> np.ndarray:
    """The (H, W) bool mask the prompt asks for, from the model's probability map and the frame's grey."""
    prob = np.asarray(prob, np.float32)
    mask = np.zeros(prob.shape, bool) if prompt.previous is None else np.asarray(prompt.previous, bool).copy()
    limit = np.ones(prob.shape, bool)
    if prompt.box is not None:
        x0, y0, x1, y1 = prompt.box
        limit[:] = False
        limit[y0:y1, x0:x1] = True
        if prompt.previous is None or not (mask & limit).any():
            mask = box_region(prob, grey, prompt.box, threshold)
        mask &= limit
    for x, y in prompt.positive:
        if not mask[y, x]:
            mask |= added_region(mask, prob, grey, x, y, threshold) & limit
    for x, y in prompt.negative:
        if mask[y, x]:
            mask &= ~removed_region(mask, prob, x, y, prompt.positive)
    return mask


def box_region(prob: np.ndarray, grey: np.ndarray, box: tuple[int, ...], threshold: float) -> np.ndarray:
    x0, y0, x1, y1 = box
    inside = prob[y0:y1, x0:x1]
    peak = float(inside.max())
    if peak >= MIN_PEAK:
        region = best_component(inside >= min(threshold, LOW_FRACTION * peak), inside)
    else:
        region = dark_region(grey[y0:y1, x0:x1])
    out = np.zeros(prob.shape, bool)
    out[y0:y1, x0:x1] = fill_holes(region)
    return out


def best_component(binary: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The connected region of `binary` holding the most `weight` (probability mass)."""
    count, labels = cv2.connectedComponents(binary.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(binary.shape, bool)
    mass = np.bincount(labels.ravel(), weights=weight.ravel(), minlength=count)
    mass[0] = -1.0
    return labels == int(np.argmax(mass))


def dark_region(grey: np.ndarray) -> np.ndarray:
    """The dark side of an Otsu split of a patch, the region nearest its centre."""
    smooth = cv2.GaussianBlur(np.ascontiguousarray(grey, np.uint8), (5, 5), 0)
    _level, dark = cv2.threshold(smooth, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    dark = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels = cv2.connectedComponents(dark, connectivity=8)
    if count <= 1:
        return np.ones(grey.shape, bool)  # a flat patch: the box is all there is to go on
    h, w = grey.shape
    ys, xs = np.mgrid[0:h, 0:w]
    centre_distance = np.hypot(ys - h / 2, xs - w / 2)
    nearest = [float(centre_distance[labels == k].min()) for k in range(1, count)]
    return labels == 1 + int(np.argmin(nearest))


def added_region(mask: np.ndarray, prob: np.ndarray, grey: np.ndarray, x: int, y: int, threshold: float):
    """What a positive click at (x, y) adds: near the outline, a disc reaching it (the outline moves out to
    the click); away from it, the region the click points at."""
    gap = _depth(~mask, x, y) if mask.any() else np.inf  # with no outline, the depth is to the frame's edge
    if gap <= NEAR * np.hypot(*mask.shape):
        return _disc(mask.shape, x, y, REACH * gap)
    return click_region(prob, grey, x, y, threshold)


def click_region(prob: np.ndarray, grey: np.ndarray, x: int, y: int, threshold: float) -> np.ndarray:
    """The map's region containing (x, y) (at the threshold, or half the map's value there), else grey's."""
    value = float(prob[y, x])
    if value >= MIN_PEAK:
        level = min(threshold, LOW_FRACTION * value)
        _count, labels = cv2.connectedComponents((prob >= level).astype(np.uint8), connectivity=8)
        region = labels == labels[y, x]
        if region.sum() <= _window_area(prob.shape):
            return region
    return grown_region(grey, x, y)


def grown_region(grey: np.ndarray, x: int, y: int) -> np.ndarray:
    """Pixels like the click's (smoothed grey within a local tolerance), connected to it, near it."""
    h, w = grey.shape
    r = max(8, int(GROW_RADIUS * np.hypot(h, w)))
    ya, yb, xa, xb = max(0, y - r), min(h, y + r + 1), max(0, x - r), min(w, x + r + 1)
    patch = cv2.GaussianBlur(np.ascontiguousarray(grey[ya:yb, xa:xb], np.uint8), (5, 5), 0)
    tolerance = max(4.0, 0.5 * float(patch.std()))
    flags = 8 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    filled = np.zeros((patch.shape[0] + 2, patch.shape[1] + 2), np.uint8)
    cv2.floodFill(patch, filled, (x - xa, y - ya), 0, tolerance, tolerance, flags)
    out = np.zeros((h, w), bool)
    out[ya:yb, xa:xb] = fill_holes(filled[1:-1, 1:-1] > 0)
    return out


def removed_region(mask: np.ndarray, prob: np.ndarray, x: int, y: int, keep: tuple[tuple[int, int], ...]):
    """What a negative click at (x, y) inside the mask removes: a stray region (not the largest, holding no
    positive click) entirely; else, around the click, the pixels no more probable than it (a disc reaching
    about as far again as the outline is from the click: the outline moves in to the click)."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    region = labels == labels[y, x]
    sizes = np.bincount(labels.ravel())[1:]
    held = any(region[ky, kx] for kx, ky in keep)
    if count > 2 and not held and region.sum() < sizes.max():
        return region
    similar = region & (prob <= float(prob[y, x]) + SIMILAR)
    count, parts = cv2.connectedComponents(similar.astype(np.uint8), connectivity=8)
    removed = (parts == parts[y, x]) & _disc(mask.shape, x, y, REACH * _depth(mask, x, y))
    for kx, ky in keep:  # never against an earlier positive click
        removed[ky, kx] = False
    return removed


def _depth(binary: np.ndarray, x: int, y: int) -> float:
    """How far (x, y) lies inside `binary`: its distance to the nearest pixel outside it."""
    depth = cv2.distanceTransform(np.pad(binary, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    return float(depth[y, x])


def _disc(shape: tuple[int, ...], x: int, y: int, radius: float) -> np.ndarray:
    ys, xs = np.ogrid[: shape[0], : shape[1]]
    return (xs - x) ** 2 + (ys - y) ** 2 <= radius * radius


def fill_holes(binary: np.ndarray) -> np.ndarray:
    background = ~np.pad(binary, 1)
    _count, labels = cv2.connectedComponents(background.astype(np.uint8), connectivity=4)
    return binary | ((labels[1:-1, 1:-1] != labels[0, 0]) & background[1:-1, 1:-1])


def _window_area(shape: tuple[int, ...]) -> float:
    r = GROW_RADIUS * np.hypot(shape[0], shape[1])
    return float(np.pi * r * r * 4)  # a map region much larger than a grown one is a leak, not a lesion
