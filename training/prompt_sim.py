"""Simulated prompts for training the promptable C5-Net (model v2), in model-pixel coordinates.

Each frame of a batch gets one of:
  - no prompt (prompt dropout): the prompted path must then match the automatic model;
  - a box: the reference lesion's bounding box, each side jittered as the evaluation does (BOX_JITTER);
  - clicks as the RITM protocol places them: the first at the deepest point of the lesion, each next one at
    the deepest point of the larger error of "the mask so far", which is simulated by corrupting the
    reference (eroded, dilated, shifted, cut, or with a false blob) less and less with each click, and
    given to the network as the previous mask — sometimes with the box as well.
Simulating the mask so far, rather than running the network for it, keeps a training step one forward pass
(and DistributedDataParallel happy) at the cost of error shapes that only resemble the network's own.
Frames without a lesion get no prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from c5desk.inference.prompt_maps import render
from training.evaluate_prompts import BOX_JITTER, jittered_box, next_click


@dataclass(frozen=True)
class PromptSimConfig:
    drop: float = 0.3  # share of lesion frames trained without a prompt on the prompted path
    box: float = 0.3  # share with a box alone
    box_with_clicks: float = 0.15  # share with a box and clicks; the rest: clicks alone
    max_clicks: int = 6


def simulate(mask: np.ndarray, rng: np.random.Generator, cfg: PromptSimConfig) -> np.ndarray:
    """(4, S, S) prompt maps for one frame's reference mask (S×S, 0/1)."""
    size = mask.shape[0]
    truth = np.asarray(mask, bool)
    draw = rng.random()
    if not truth.any() or draw < cfg.drop:
        return render(size)
    box = jittered_box(truth, rng, BOX_JITTER)
    if draw < cfg.drop + cfg.box:
        return render(size, box)
    with_box = draw < cfg.drop + cfg.box + cfg.box_with_clicks
    positive, negative, previous = simulated_clicks(truth, rng, int(rng.integers(1, cfg.max_clicks + 1)))
    return render(size, box if with_box else None, positive, negative, previous)


def simulated_clicks(
    truth: np.ndarray, rng: np.random.Generator, count: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], np.ndarray | None]:
    """(positive clicks, negative clicks, the mask so far) after `count` clicks on `truth`."""
    positive: list[tuple[int, int]] = []
    negative: list[tuple[int, int]] = []
    current = np.zeros_like(truth)  # the mask the next click corrects: empty before the first
    for k in range(count):
        click = next_click(current, truth)
        if click is None:
            break
        x, y, is_positive = click
        (positive if is_positive else negative).append((x, y))
        if k + 1 < count:  # the network's answer to this click, simulated: better with each click
            current = corrupt(truth, rng, 0.6 * (1.0 - (k + 1) / count) + 0.05)
    previous = current.astype(np.float32) if current.any() else None
    return positive, negative, previous


def corrupt(truth: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    """A plausible wrong outline of `truth`: the worse, the larger `severity` (0..1)."""
    area = max(int(truth.sum()), 1)
    radius = max(1, round(severity * np.sqrt(area / np.pi)))
    kind = int(rng.integers(0, 5))
    u8 = truth.astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    if kind == 0:
        return cv2.erode(u8, kernel).astype(bool)
    if kind == 1:
        return cv2.dilate(u8, kernel).astype(bool)
    if kind == 2:
        dx, dy = rng.integers(-radius, radius + 1, 2)
        return np.roll(truth, (int(dy), int(dx)), axis=(0, 1))
    if kind == 3:  # a straight cut through the lesion leaves part of it out
        ys, xs = np.nonzero(truth)
        angle = rng.uniform(0, np.pi)
        projection = xs * np.cos(angle) + ys * np.sin(angle)
        cut = np.quantile(projection, severity)
        kept = truth.copy()
        kept[ys[projection < cut], xs[projection < cut]] = False
        return kept
    return truth | _blob_near(truth, rng, radius)


def _blob_near(truth: np.ndarray, rng: np.random.Generator, radius: int) -> np.ndarray:
    """A false candidate beside the lesion (a duct, a shadow): an ellipse touching its box."""
    ys, xs = np.nonzero(truth)
    height, width = truth.shape
    cx = int(np.clip(rng.integers(xs.min() - 2 * radius, xs.max() + 2 * radius + 1), 0, width - 1))
    cy = int(np.clip(rng.integers(ys.min() - 2 * radius, ys.max() + 2 * radius + 1), 0, height - 1))
    blob = np.zeros(truth.shape, np.uint8)
    axes = (
        max(2, int(rng.integers(radius, 2 * radius + 2))),
        max(2, int(rng.integers(radius, 2 * radius + 2))),
    )
    cv2.ellipse(blob, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, 1, thickness=-1)
    return blob.astype(bool)
