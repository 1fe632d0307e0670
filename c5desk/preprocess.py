"""The one preprocessing path shared by training and inference: region crop → resize → normalise, and back.

Keeping both directions here guarantees the model sees at run time exactly what it saw in training, and that
predictions land on the right full-frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from c5desk.io.frame import Region


@dataclass(frozen=True)
class Geometry:
    """Where the model input came from: a crop box (x0, y0, x1, y1) inside a frame of frame_shape."""

    frame_shape: tuple[int, int]
    box: tuple[int, int, int, int]
    size: int


def crop_box(frame_shape: tuple[int, int], region: Region | None) -> tuple[int, int, int, int]:
    """The analysed rectangle: the imaging region clipped to the frame, or the whole frame."""
    height, width = frame_shape
    if region is None:
        return 0, 0, width, height
    x0, y0 = max(0, region.x0), max(0, region.y0)
    x1, y1 = min(width, region.x1), min(height, region.y1)
    if x1 - x0 < 8 or y1 - y0 < 8:  # a degenerate region would leave nothing to analyse
        return 0, 0, width, height
    return x0, y0, x1, y1


def crop_resize(grey: np.ndarray, region: Region | None, size: int) -> tuple[np.ndarray, Geometry]:
    """Grey uint8 frame → the analysed box resized to (size, size) uint8 (training augments this)."""
    box = crop_box(grey.shape[:2], region)
    x0, y0, x1, y1 = box
    resized = cv2.resize(grey[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
    return resized, Geometry(frame_shape=grey.shape[:2], box=box, size=size)


def normalise(image: np.ndarray, mean: float, std: float) -> np.ndarray:
    """uint8 (or float 0..255) (S, S) image → normalised float32 (1, S, S)."""
    scaled = image.astype(np.float32) * np.float32(1.0 / 255.0)
    return ((scaled - np.float32(mean)) * np.float32(1.0 / std))[None]


def to_model_input(
    grey: np.ndarray, region: Region | None, size: int, mean: float, std: float
) -> tuple[np.ndarray, Geometry]:
    """Grey uint8 frame → normalised float32 (1, size, size) plus the geometry to map results back."""
    resized, geometry = crop_resize(grey, region, size)
    return normalise(resized, mean, std), geometry


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """A label mask resized for training with nearest-neighbour sampling (keeps it binary)."""
    return cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)


def to_frame(prob: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Model-resolution probability map → full-frame float32 map (0 outside the analysed box)."""
    x0, y0, x1, y1 = geometry.box
    full = np.zeros(geometry.frame_shape, dtype=np.float32)
    full[y0:y1, x0:x1] = cv2.resize(
        prob.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR
    )
    return full


def mask_to_model(mask: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Full-frame mask (e.g. a clinician's edit) → float32 (size, size) in [0, 1] in model coordinates."""
    x0, y0, x1, y1 = geometry.box
    crop = mask[y0:y1, x0:x1].astype(np.float32)
    return cv2.resize(crop, (geometry.size, geometry.size), interpolation=cv2.INTER_AREA)
