"""What inference hands out, free of torch: the Prediction record, a prepared frame, the flip-TTA maths.

Every engine (c5desk.inference.torch_engine, c5desk.inference.ort_engine) returns plain numpy arrays, and
the one Predictor (c5desk.inference.predictor) turns them into Predictions with the functions here, so
whatever runs the network, a user sees the same mask threshold, uncertainty, measurements and labels.

Uncertainty comes from flip test-time augmentation: each frame is run as itself and mirrored left-right
(in one batch, so it costs one forward call). The score is the mean P(malignant) of the two views and:
  - uncertainty     = binary entropy (bits, 0..1) of that mean score: 1 means a coin toss;
  - score_spread    = |P(view) - P(mirrored view)|: how much the score depends on the view;
  - seg_uncertainty = 1 - Dice between the two views' masks: how unstable the outline is.
Mirroring left-right is safe in ultrasound (depth runs top to bottom and is never flipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from c5desk.inference.preprocess import Geometry
from c5desk.inference.scope import Scope
from c5desk.io.frame import Frame
from c5desk.io.sector import ImagingArea
from c5desk.lesion.measure import Measurements
from c5desk.lesion.overlap import dice_per_image

if TYPE_CHECKING:
    from c5desk.inference.regions import PredictedLesion

MALIGNANT = 1


@dataclass
class Prediction:
    prob: np.ndarray  # (H, W) float32, full frame
    mask: np.ndarray  # (H, W) bool, full frame
    contours: list[np.ndarray]  # (N, 2) x,y pixel coordinates, largest lesion first
    p_malignant: float
    uncertainty: float
    score_spread: float
    seg_uncertainty: float
    label: str
    calibrated: bool  # the frame's own calibration, whether or not a lesion was found
    measurements: Measurements | None
    model_version: str
    device: str
    backend: str
    source_id: str = ""
    frame_index: int = 0
    extras: dict[str, object] = field(default_factory=dict)
    descriptors: dict[str, str] = field(default_factory=dict)  # suggested BI-RADS terms of the main lesion
    # a mask of several regions: each as a lesion with its own score and measurements, the main one first
    # (c5desk.inference.regions; Predictor.predict only); () when the mask is one lesion
    lesions: tuple[PredictedLesion, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """A frame made ready for the model on a worker thread (decode and resize overlap inference)."""

    frame: Frame
    tensor: np.ndarray  # (C, S, S) float32
    geometry: Geometry
    area: ImagingArea | None = None  # where the scan is: nothing is outlined outside it
    scope: Scope | None = None  # whether the model may answer on this frame (colour, not ultrasound)


def with_mirror(batch: np.ndarray) -> np.ndarray:
    """The batch followed by its left-right mirror: both flip-TTA views in one forward call."""
    return np.concatenate([batch, batch[..., ::-1]])


def binary_entropy(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def combine_views(seg: np.ndarray, p: np.ndarray, n: int, tta: bool) -> tuple[np.ndarray, ...]:
    """Runner output for n frames (2n rows with TTA) → (mask probs, P(malignant), score spread, seg unc.)."""
    if not tta:
        return seg, p, np.zeros(n), np.zeros(n)
    seg_view, seg_mirror = seg[:n], seg[n:, :, ::-1]
    seg_unc = 1.0 - dice_per_image(seg_view > 0.5, seg_mirror > 0.5)
    return (seg_view + seg_mirror) / 2, (p[:n] + p[n:]) / 2, np.abs(p[:n] - p[n:]), seg_unc
