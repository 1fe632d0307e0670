"""Dice overlap of lesion masks: the one definition every part of c5desk and training uses.

Dice used to be written out four times (evaluation metrics, training validation, the flip-TTA outline
uncertainty in inference, and how much a clinician changed a model's outline in the store); copies drift
(empty masks, integer overflow, dtype) and then the same two masks get different scores in the app and in
the model card. Convention: two empty masks agree perfectly (1.0: nothing to find, nothing found).

Numpy only, no torch and no OpenCV: the app's lean paths (inference, store) import it, and so does training.
"""

from __future__ import annotations

import numpy as np


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """2|A∩B| / (|A| + |B|) of two (H, W) masks (nonzero = inside); 1.0 when both are empty."""
    a, b = _masks(a, b, ndim=2)
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    return 1.0 if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


def dice_per_image(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Dice of each pair in two (N, H, W) mask stacks, as (N,) float64; 1.0 where both are empty."""
    pred, truth = _masks(pred, truth, ndim=3)
    inter = np.count_nonzero(pred & truth, axis=(1, 2)).astype(np.int64)
    total = np.count_nonzero(pred, axis=(1, 2)).astype(np.int64)
    total += np.count_nonzero(truth, axis=(1, 2))
    return np.where(total == 0, 1.0, 2.0 * inter / np.maximum(total, 1))


def _masks(a: np.ndarray, b: np.ndarray, *, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim != ndim:
        raise ValueError(f"masks must be {ndim}-D and of the same shape, got {a.shape} and {b.shape}")
    return a, b
