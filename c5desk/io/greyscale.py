"""The model's view of a frame: (H, W) uint8 grey, from grey or RGB pixels of any bit depth."""

from __future__ import annotations

import cv2
import numpy as np


def luminance(pixels: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) -> (H, W) luminance (ITU-R BT.601 weights), keeping uint8/uint16; grey passes through."""
    if pixels.ndim == 2:
        return pixels
    if pixels.dtype in (np.uint8, np.uint16):
        return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    weights = np.array([0.299, 0.587, 0.114])
    return pixels.astype(np.float64) @ weights


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Map grey values of any type to uint8.

    uint8 passes through. Otherwise the frame's actual range is stretched to 0..255 -- not a blind >>8,
    which would turn 12-bit data black. (DICOM that specifies a VOI window or LUT goes through dicom_voi.)
    """
    if values.dtype == np.uint8:
        return values
    data = values.astype(np.float32)
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return np.zeros(values.shape, np.uint8)
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return np.zeros(values.shape, np.uint8)
    scaled = (np.nan_to_num(data, nan=low) - low) * (255.0 / (high - low))
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def to_grey(pixels: np.ndarray) -> np.ndarray:
    """Display pixels -> contiguous (H, W) uint8 for the model."""
    return np.ascontiguousarray(to_uint8(luminance(pixels)))


def display_pixels(pixels: np.ndarray) -> np.ndarray:
    """Keep uint8/uint16 pixels as stored; anything else (signed, float, 32-bit) becomes displayable uint8."""
    if pixels.dtype in (np.uint8, np.uint16):
        return pixels
    return to_uint8(pixels)  # one range for all channels keeps the colour balance
