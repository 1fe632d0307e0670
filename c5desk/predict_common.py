"""What every predictor shares, free of torch: the Prediction record, frame preparation, flip-TTA maths.

Both engines build on PredictorBase: the torch Predictor (c5desk.infer) and the ONNX Runtime OnnxPredictor
(c5desk.onnx_infer, used by the lean installation that ships no torch). A subclass supplies only
``_forward`` (normalised batch → mask and class probabilities) and ``rescore``; everything a user sees
(mask threshold, uncertainty, measurements, labels) is computed here once, so both engines agree.

Uncertainty comes from flip test-time augmentation: each frame is run as itself and mirrored left-right
(in one batch, so it costs one forward call). The score is the mean P(malignant) of the two views and:
  - uncertainty     = binary entropy (bits, 0..1) of that mean score: 1 means a coin toss;
  - score_spread    = |P(view) - P(mirrored view)|: how much the score depends on the view;
  - seg_uncertainty = 1 - Dice between the two views' masks: how unstable the outline is.
Mirroring left-right is safe in ultrasound (depth runs top to bottom and is never flipped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from c5desk.errors import ModelError
from c5desk.io.frame import Frame
from c5desk.measure import Measurements, lesion_contours, measure_mask
from c5desk.preprocess import Geometry, to_frame, to_model_input

if TYPE_CHECKING:
    from c5desk.model.bundle import BundleSpec

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


@dataclass(frozen=True)
class Prepared:
    """A frame made ready for the model on a worker thread (decode and resize overlap inference)."""

    frame: Frame
    tensor: np.ndarray  # (C, S, S) float32
    geometry: Geometry


def with_mirror(batch: np.ndarray) -> np.ndarray:
    """The batch followed by its left-right mirror: both flip-TTA views in one forward call."""
    return np.concatenate([batch, batch[..., ::-1]])


def binary_entropy(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def combine_views(seg: np.ndarray, p: np.ndarray, n: int, tta: bool) -> tuple[np.ndarray, ...]:
    """Runner output for n frames (2n rows with TTA) → (mask probs, P(malignant), score spread, seg unc.)."""
    if not tta:
        return seg, p, np.zeros(n), np.zeros(n)
    seg_view, seg_mirror = seg[:n], seg[n:, :, ::-1]
    seg_unc = np.array([1.0 - dice(a > 0.5, b > 0.5) for a, b in zip(seg_view, seg_mirror, strict=True)])
    return (seg_view + seg_mirror) / 2, (p[:n] + p[n:]) / 2, np.abs(p[:n] - p[n:]), seg_unc


class PredictorBase:
    """Frames in, Predictions out. Subclasses set the attributes below and implement ``_forward``."""

    size: int
    in_chans: int
    mean: float
    std: float
    tta: bool
    threshold: float
    class_names: Sequence[str]
    device: str
    backend: str

    spec: BundleSpec

    def _adopt_spec(self, spec: BundleSpec, tta: bool, threshold: float) -> None:
        """The bundle's preprocessing contract and the run options, alike for every engine."""
        self.spec, self.tta, self.threshold = spec, tta, threshold
        self.size, self.in_chans = int(spec.input_size), int(spec.in_chans)
        self.mean, self.std = float(np.mean(spec.mean)), float(np.mean(spec.std))
        self.class_names = spec.class_names

    @property
    def version(self) -> str:
        return str(self.spec.version)

    def prepare(self, frame: Frame) -> Prepared:
        tensor, geometry = to_model_input(frame.grey, frame.region, self.size, self.mean, self.std)
        if self.in_chans != 1:
            tensor = np.repeat(tensor, self.in_chans, axis=0)
        return Prepared(frame, tensor, geometry)

    def predict(self, frame: Frame) -> Prediction:
        return self.predict_prepared([self.prepare(frame)])[0]

    def predict_batch(self, frames: list[Frame]) -> list[Prediction]:
        return self.predict_prepared([self.prepare(f) for f in frames])

    def predict_prepared(self, items: list[Prepared]) -> list[Prediction]:
        if not items:
            return []
        seg, p_malignant, spread, seg_unc = self._run(np.stack([item.tensor for item in items]))
        return [
            self._finish(item, seg[i], float(p_malignant[i]), float(spread[i]), float(seg_unc[i]))
            for i, item in enumerate(items)
        ]

    def rescore(self, frame: Frame, mask: np.ndarray) -> tuple[float, float, Measurements | None]:
        """P(malignant), its uncertainty and measurements for THIS mask (e.g. a clinician's edit)."""
        raise NotImplementedError

    def _forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised (N, C, S, S) → (mask probabilities (N, S, S), class probabilities (N, K))."""
        raise NotImplementedError

    def _release_memory(self) -> None:
        """After a failure (e.g. out of memory) give memory back so the next frame can run."""

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, ...]:
        n = len(batch)
        if self.tta:
            batch = with_mirror(batch)
        try:
            seg, cls = self._forward(batch)
        except (RuntimeError, MemoryError) as exc:
            self._release_memory()
            raise ModelError(f"inference failed on a batch of {n}: {exc}".splitlines()[0]) from exc
        return combine_views(seg, cls[:, MALIGNANT], n, self.tta)

    def _finish(self, item: Prepared, seg: np.ndarray, p: float, spread: float, seg_unc: float) -> Prediction:
        frame = item.frame
        prob = to_frame(seg, item.geometry)
        mask = prob >= self.threshold
        return Prediction(
            prob=prob,
            mask=mask,
            contours=lesion_contours(mask),
            p_malignant=p,
            uncertainty=float(binary_entropy(p)),
            score_spread=spread,
            seg_uncertainty=seg_unc,
            label=self.class_names[MALIGNANT] if p >= 0.5 else self.class_names[0],
            calibrated=frame.calibrated,
            measurements=measure_mask(mask, frame.mm_per_px),
            model_version=self.version,
            device=self.device,
            backend=self.backend,
            source_id=frame.source_id,
            frame_index=frame.index,
        )
