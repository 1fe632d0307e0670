"""Predictor: frames in, Predictions out — mask, contours, P(malignant), uncertainty, measurements — on torch.

The frame handling and flip-TTA maths are shared with the torch-free OnnxPredictor (c5desk.predict_common,
where the uncertainty measures are defined); this module adds the torch engine: any device, PyTorch or ONNX
Runtime on the CPU, and rescoring a clinician's mask on cached encoder features. Names that used to live
here (Prediction, Prepared, binary_entropy, ...) are re-exported for existing callers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from c5desk.device import describe_device, resolve_device
from c5desk.io.frame import Frame
from c5desk.measure import Measurements, measure_mask
from c5desk.model.bundle import load_bundle
from c5desk.predict_common import (
    MALIGNANT,
    Prediction,
    PredictorBase,
    Prepared,
    binary_entropy,
    dice,
    with_mirror,
)
from c5desk.preprocess import Geometry, mask_to_model
from c5desk.runtime import TorchRunner, cpu_runner

__all__ = [
    "MALIGNANT",
    "Prediction",
    "Predictor",
    "Prepared",
    "binary_entropy",
    "dice",
    "with_mirror",
]


class Predictor(PredictorBase):
    def __init__(
        self,
        bundle: str | Path,
        device: str = "auto",
        backend: str = "auto",
        tta: bool = True,
        threshold: float = 0.5,
    ) -> None:
        model, spec = load_bundle(bundle, device="cpu")
        self._adopt_spec(spec, tta, threshold)
        self.torch_device = resolve_device(device)
        self.device = describe_device(self.torch_device)
        if self.torch_device.type == "cpu":
            self.runner = cpu_runner(model, self.spec.weights_sha256, self.size, self.in_chans, backend)
        else:
            self.runner = TorchRunner(model, self.torch_device)
        self.model = model.to(self.torch_device).eval()
        self.backend = self.runner.name
        self._feature_cache: tuple[tuple[str, int], list, Geometry] | None = None

    def _forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.runner(batch)

    def rescore(self, frame: Frame, mask: np.ndarray) -> tuple[float, float, Measurements | None]:
        """P(malignant), its uncertainty and measurements for THIS mask (e.g. a clinician's edit).

        The encoder runs once per frame; later edits only re-run the mask-conditioned head.
        """
        features, geometry = self._features(frame)
        mask_small = torch.from_numpy(mask_to_model(mask, geometry))[None, None].to(self.torch_device)
        if self.tta:
            mask_small = torch.cat([mask_small, mask_small.flip(-1)])
        with torch.inference_mode():
            probs = torch.softmax(self.model.classify(features, mask_small).float(), dim=1)[:, MALIGNANT]
        p = float(probs.mean())
        return p, float(binary_entropy(p)), measure_mask(mask, frame.mm_per_px)

    def _features(self, frame: Frame) -> tuple[list, Geometry]:
        key = (frame.source_id, frame.index)
        if self._feature_cache is None or self._feature_cache[0] != key:
            item = self.prepare(frame)
            batch = item.tensor[None]
            if self.tta:
                batch = with_mirror(batch)
            with torch.inference_mode():
                features = self.model.encode(
                    torch.from_numpy(np.ascontiguousarray(batch)).to(self.torch_device)
                )
            self._feature_cache = (key, features, item.geometry)
        return self._feature_cache[1], self._feature_cache[2]

    def _release_memory(self) -> None:
        """After a failure (e.g. out of memory) give memory back so the next frame can run."""
        self._feature_cache = None
        if self.torch_device.type == "cuda":
            torch.cuda.empty_cache()
