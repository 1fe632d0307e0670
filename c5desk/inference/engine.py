"""What runs the network for the Predictor: an Engine, numpy in and numpy out.

Two engines exist: `TorchEngine` (c5desk.inference.torch_engine: PyTorch on CUDA, MPS or the CPU) and
`OrtEngine` (c5desk.inference.ort_engine: ONNX Runtime on the bundle's exported graphs, no torch needed).
The Predictor does everything else (preparing frames, flip-TTA, thresholds, measurements), so the two
differ only in how these calls are carried out and a user sees the same results from either. A model-v2
bundle (prompt inputs, a lesion-present output) adds `forward_prompted` and a third output of `forward`.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Engine(Protocol):
    name: str  # the backend shown beside every score: "torch" or "onnxruntime"
    device: str  # e.g. "CPU (2 threads)" or "GPU NVIDIA H200 (cuda:0)"

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Normalised (N, C, S, S) float32 → (mask probabilities (N, S, S), class probabilities (N, K),
        P(a lesion is present) (N,) or None for a model without that output)."""
        ...

    def forward_prompted(self, features: Any, prompt_maps: np.ndarray) -> np.ndarray:
        """Mask probabilities (N, S, S) for encoded features and prompt maps (N, 4, S, S) (model v2 only:
        c5desk.inference.prompt_maps renders them)."""
        ...

    def encode(self, batch: np.ndarray) -> Any:
        """The encoder features of a batch, kept to re-score edited masks without re-running the encoder."""
        ...

    def classify(self, features: Any, mask_prob: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K) for encoded features and mask probabilities (N, 1, S, S) in [0, 1]."""
        ...

    def release(self) -> None:
        """After a failure (out of memory...) give memory back so that the next frame can run."""
        ...


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
