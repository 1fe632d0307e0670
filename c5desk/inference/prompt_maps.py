"""A prompt as the four maps a promptable model (model v2) reads, at model resolution.

Channels: the box (1 inside), positive clicks and negative clicks (disks), the mask so far (its fraction of
each model pixel). Training simulates prompts in model coordinates and calls `render` directly; at run time
`frame_prompt_maps` maps a frame's Prompt through the crop-and-resize Geometry first, so the network sees the
very maps it was trained on. Numpy and OpenCV only: the lean installation (no torch) renders them too.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from c5desk.inference.preprocess import Geometry, mask_to_model

CHANNELS = ("box", "positive", "negative", "previous")
BOX, POSITIVE, NEGATIVE, PREVIOUS = range(4)
CLICK_RADIUS = 0.026  # of the model's input size: 5 px at 192 px, a fingertip on a typical lesion

PointF = tuple[float, float]


def click_radius(size: int) -> int:
    return max(2, round(CLICK_RADIUS * size))


def render(
    size: int,
    box: Sequence[float] | None = None,
    positive: Sequence[PointF] = (),
    negative: Sequence[PointF] = (),
    previous: np.ndarray | None = None,
) -> np.ndarray:
    """(4, size, size) float32 maps from model-pixel coordinates (x right, y down; box end-exclusive)."""
    maps = np.zeros((len(CHANNELS), size, size), np.float32)
    if box is not None:
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        maps[BOX, max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = 1.0
    radius = click_radius(size)
    for channel, points in ((POSITIVE, positive), (NEGATIVE, negative)):
        for x, y in points:
            cv2.circle(maps[channel], (round(float(x)), round(float(y))), radius, 1.0, thickness=-1)
    if previous is not None:
        maps[PREVIOUS] = np.clip(np.asarray(previous, np.float32), 0.0, 1.0)
    return maps


def to_model_point(geometry: Geometry, x: float, y: float) -> PointF:
    """A frame pixel's centre → model-pixel coordinates (the inverse of the crop and resize)."""
    x0, y0, x1, y1 = geometry.box
    scale_x, scale_y = geometry.size / (x1 - x0), geometry.size / (y1 - y0)
    return (x + 0.5 - x0) * scale_x - 0.5, (y + 0.5 - y0) * scale_y - 0.5


def frame_prompt_maps(prompt, geometry: Geometry) -> np.ndarray:
    """The maps of a c5desk.inference.prompt.Prompt given in frame pixels, for the frame's model input."""
    box = None
    if prompt.box is not None:
        bx0, by0, bx1, by1 = prompt.box
        (mx0, my0), (mx1, my1) = to_model_point(geometry, bx0, by0), to_model_point(geometry, bx1, by1)
        box = (mx0, my0, mx1, my1)
    previous = None
    if prompt.previous is not None and np.any(prompt.previous):
        previous = mask_to_model(np.asarray(prompt.previous), geometry)
    return render(
        geometry.size,
        box,
        [to_model_point(geometry, x, y) for x, y in prompt.positive],
        [to_model_point(geometry, x, y) for x, y in prompt.negative],
        previous,
    )
