"""Several lesions in the model's output: each separate region of its mask as a lesion of its own.

The network outlines every region it believes is lesion in one mask; a frame with two or three lesions (16
BUS-UCLM frames show them) then gets one outline per region. Each region is scored on its own by the
mask-conditioned head (Predictor._mask_score: the classifier looks only at that region) and measured; the
main lesion comes first: the region holding the most probability mass (its summed P(lesion)), which favours
a large confident region over a small or faint one. Regions smaller than MIN_REGION_PX are speckle, not
lesions, and at most MAX_REGIONS are kept (the most probable), so a noisy map costs a bounded time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from c5desk.inference.contract import binary_entropy
from c5desk.lesion.measure import Measurements, measure_mask

MIN_REGION_PX = 64
MAX_REGIONS = 5


@dataclass(frozen=True)
class PredictedLesion:
    """One region of the model's mask: its own mask (full frame), score and measurements."""

    mask: np.ndarray  # (H, W) bool
    p_malignant: float
    uncertainty: float
    measurements: Measurements | None
    mass: float  # summed P(lesion) inside the region: how the regions are ordered


def split_regions(prob: np.ndarray, mask: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """(region mask, probability mass) of each region of `mask` of MIN_REGION_PX or more, most mass first,
    at most MAX_REGIONS."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    regions = []
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] >= MIN_REGION_PX:
            region = labels == label
            regions.append((region, float(prob[region].sum())))
    regions.sort(key=lambda item: -item[1])
    return regions[:MAX_REGIONS]


def predicted_lesions(
    prob: np.ndarray,
    mask: np.ndarray,
    mm_per_px: tuple[float, float] | None,
    score: Callable[[np.ndarray], float],
) -> tuple[PredictedLesion, ...]:
    """The model's lesions when its mask has two regions or more (else (): the mask is the one lesion);
    `score(region)` is P(malignant) of the mask-conditioned head for that region."""
    regions = split_regions(prob, mask)
    if len(regions) < 2:
        return ()
    lesions = []
    for region, mass in regions:
        p = score(region)
        lesions.append(
            PredictedLesion(region, p, float(binary_entropy(p)), measure_mask(region, mm_per_px), mass)
        )
    return tuple(lesions)
