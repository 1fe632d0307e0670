"""Pictures of a result without Qt: binary mask PNGs and contour overlays with the score burned in."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from c5desk.errors import C5Error
from c5desk.fsio import write_atomic


def write_png_atomic(path: Path, image: np.ndarray) -> None:
    """Encode then rename into place, so a crash never leaves half a PNG under the final name."""
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise C5Error(f"could not encode {path.name} as PNG")
    write_atomic(path, encoded.tobytes())


def write_mask_png(path: Path, mask: np.ndarray) -> None:
    write_png_atomic(path, np.where(mask, 255, 0).astype(np.uint8))


def display_bgr(pixels: np.ndarray) -> np.ndarray:
    """Display pixels (grey or RGB, 8 or 16 bit) as 8-bit BGR for OpenCV drawing."""
    image = pixels
    if image.dtype != np.uint8:
        low, high = float(image.min()), float(image.max())
        image = ((image.astype(np.float32) - low) * (255.0 / max(high - low, 1.0))).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def render_overlay(frame, prediction) -> np.ndarray:
    """The frame with the lesion contour(s), long/short axes and the score line, as BGR uint8."""
    canvas = display_bgr(frame.display)
    colour = (60, 60, 255) if prediction.label == "malignant" else (80, 220, 80)
    for i, contour in enumerate(prediction.contours):
        points = np.round(contour).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [points], True, colour if i == 0 else (0, 200, 255), 2 if i == 0 else 1)
    m = prediction.measurements
    if m is not None and m.long_axis_endpoints is not None:
        for a, b in (m.long_axis_endpoints, m.short_axis_endpoints):
            if a is not None:
                cv2.line(canvas, tuple(map(int, np.round(a))), tuple(map(int, np.round(b))), (255, 200, 0), 1)
    lines = [
        f"P(malignant) {prediction.p_malignant:.2f}  uncertainty {prediction.uncertainty:.2f}",
        f"model {prediction.model_version}",
    ]
    scale = max(0.35, min(0.6, canvas.shape[1] / 900))  # readable on narrow frames, not huge on wide ones
    for row, text in enumerate(lines):
        origin = (6, int(18 + row * 40 * scale))
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


def write_overlay_png(path: Path, frame, prediction) -> None:
    write_png_atomic(path, render_overlay(frame, prediction))
