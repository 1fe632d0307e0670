"""ROC curve and reliability (calibration) diagram as PNGs, drawn with OpenCV alone (no matplotlib).

Both plots share one square [0, 1] x [0, 1] frame with a grid, tick labels, a dashed diagonal (chance for
ROC, perfect calibration for reliability) and the headline number (AUC, ECE) written on the image, so a
PNG pasted into a report stands on its own. Files are written atomically.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from c5desk.lesion.overlay import write_png_atomic
from training.metrics import calibration_bins, expected_calibration_error, roc_auc, roc_curve

SIZE = 640  # canvas width and height in pixels
LEFT, RIGHT, TOP, BOTTOM = 90, 30, 60, 80  # margins around the plot area
FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, GREY, LIGHT = (0, 0, 0), (128, 128, 128), (225, 225, 225)
CURVE = (180, 90, 20)  # BGR: a dark blue
BAR = (235, 200, 150)  # BGR: a light blue


def plot_roc(path: Path, scores: np.ndarray, labels: np.ndarray, *, title: str = "ROC curve") -> Path:
    """ROC of P(malignant) against labels (1 = malignant) with the AUC written on it."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=int)
    image = _frame(title, "False positive rate (1 - specificity)", "True positive rate (sensitivity)")
    n_pos, n_neg = int(labels.sum()), int(len(labels) - labels.sum())
    auc = roc_auc(scores, labels) if len(labels) else float("nan")
    if np.isfinite(auc):
        fpr, tpr, _ = roc_curve(scores, labels)
        points = np.stack([_x(fpr), _y(tpr)], axis=1).round().astype(np.int32)
        cv2.polylines(image, [points], False, CURVE, 2, cv2.LINE_AA)
        _right(image, f"AUC = {auc:.3f}", _y(0.14), 0.7, CURVE, 2)
    else:
        _right(image, "AUC undefined: needs both classes", _y(0.14), 0.6, BLACK, 1)
    _right(image, f"n = {len(labels)} ({n_pos} malignant, {n_neg} benign)", _y(0.06), 0.45, BLACK, 1)
    write_png_atomic(Path(path), image)
    return Path(path)


def plot_reliability(
    path: Path, scores: np.ndarray, labels: np.ndarray, *, n_bins: int = 10, title: str = "Reliability"
) -> Path:
    """Fraction malignant per equal-width score bin (bars) against the diagonal, with the ECE."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=int)
    image = _frame(title, "Predicted P(malignant)", "Observed fraction malignant")
    confidence, observed, counts = calibration_bins(scores, labels, n_bins)
    for b in np.flatnonzero(counts):
        x0, x1 = _x(b / n_bins) + 2, _x((b + 1) / n_bins) - 2
        top = _y(observed[b])
        cv2.rectangle(image, (x0, top), (x1, _y(0.0)), BAR, cv2.FILLED)
        cv2.rectangle(image, (x0, top), (x1, _y(0.0)), CURVE, 1)
        cv2.circle(image, (_x(confidence[b]), _y(observed[b])), 4, BLACK, cv2.FILLED, cv2.LINE_AA)
        _text(image, str(counts[b]), (x0 + 3, _y(0.0) - 6), 0.4, GREY)  # samples in the bin
    _dashed(image, (_x(0.0), _y(0.0)), (_x(1.0), _y(1.0)))  # drawn last: stays visible over the bars
    ece = expected_calibration_error(scores, labels, n_bins) if len(labels) else float("nan")
    headline = f"ECE = {ece:.3f}" if np.isfinite(ece) else "ECE undefined: no samples"
    _text(image, headline, (_x(0.03), _y(0.93)), 0.7, CURVE, 2)
    _text(image, f"{n_bins} bins, n = {len(labels)}; dot = mean score", (_x(0.03), _y(0.86)), 0.45)
    write_png_atomic(Path(path), image)
    return Path(path)


def _frame(title: str, xlabel: str, ylabel: str) -> np.ndarray:
    """White canvas with grid, axes, ticks, labels, title and (for both plots) the dashed diagonal."""
    image = np.full((SIZE, SIZE, 3), 255, np.uint8)
    for t in np.linspace(0.0, 1.0, 6):
        cv2.line(image, (_x(t), _y(0.0)), (_x(t), _y(1.0)), LIGHT, 1)
        cv2.line(image, (_x(0.0), _y(t)), (_x(1.0), _y(t)), LIGHT, 1)
        _text(image, f"{t:.1f}", (_x(t) - 12, _y(0.0) + 22), 0.45)
        _text(image, f"{t:.1f}", (_x(0.0) - 36, _y(t) + 5), 0.45)
    cv2.rectangle(image, (_x(0.0), _y(1.0)), (_x(1.0), _y(0.0)), BLACK, 1)
    _dashed(image, (_x(0.0), _y(0.0)), (_x(1.0), _y(1.0)))
    _centred(image, title, SIZE // 2, TOP - 25, 0.7, 2)
    _centred(image, xlabel, (_x(0.0) + _x(1.0)) // 2, SIZE - BOTTOM + 55, 0.55, 1)
    _vertical(image, ylabel, LEFT - 62, (_y(0.0) + _y(1.0)) // 2)
    return image


def _x(value: float | np.ndarray) -> int | np.ndarray:
    scaled = LEFT + np.asarray(value, dtype=np.float64) * (SIZE - LEFT - RIGHT)
    return round(float(scaled)) if scaled.ndim == 0 else scaled


def _y(value: float | np.ndarray) -> int | np.ndarray:
    scaled = SIZE - BOTTOM - np.asarray(value, dtype=np.float64) * (SIZE - TOP - BOTTOM)
    return round(float(scaled)) if scaled.ndim == 0 else scaled


def _text(
    image, text: str, origin: tuple[int, int], scale: float = 0.5, colour=BLACK, thick: int = 1
) -> None:
    cv2.putText(image, text, origin, FONT, scale, colour, thick, cv2.LINE_AA)


def _centred(image: np.ndarray, text: str, cx: int, baseline: int, scale: float, thick: int) -> None:
    (width, _), _ = cv2.getTextSize(text, FONT, scale, thick)
    while width > SIZE - 20 and scale > 0.35:  # long bundle versions: shrink rather than clip
        scale, thick = scale - 0.05, 1
        (width, _), _ = cv2.getTextSize(text, FONT, scale, thick)
    _text(image, text, (max(0, cx - width // 2), baseline), scale, BLACK, thick)


def _right(image: np.ndarray, text: str, baseline: int, scale: float, colour, thick: int) -> None:
    """Text ending just inside the right edge of the plot area."""
    (width, _), _ = cv2.getTextSize(text, FONT, scale, thick)
    _text(image, text, (_x(1.0) - 10 - width, baseline), scale, colour, thick)


def _vertical(image: np.ndarray, text: str, x0: int, cy: int, scale: float = 0.55) -> None:
    """Text running bottom to top (OpenCV draws only horizontal text): draw, rotate, paste."""
    (width, height), base = cv2.getTextSize(text, FONT, scale, 1)
    strip = np.full((height + base + 4, width + 4, 3), 255, np.uint8)
    _text(strip, text, (2, height + 2), scale)
    strip = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    top = max(0, cy - strip.shape[0] // 2)
    strip = strip[: SIZE - top]
    image[top : top + strip.shape[0], x0 : x0 + strip.shape[1]] = strip


def _dashed(image: np.ndarray, start: tuple[int, int], end: tuple[int, int], dash: int = 8) -> None:
    (x0, y0), (x1, y1) = start, end
    steps = max(1, int(np.hypot(x1 - x0, y1 - y0) // dash))
    for i in range(0, steps, 2):
        a, b = i / steps, min(i + 1, steps) / steps
        p = (round(x0 + a * (x1 - x0)), round(y0 + a * (y1 - y0)))
        q = (round(x0 + b * (x1 - x0)), round(y0 + b * (y1 - y0)))
        cv2.line(image, p, q, GREY, 1, cv2.LINE_AA)
