"""OnnxPredictor: the Predictor's API on ONNX Runtime alone — no torch, for the lean desktop installation.

It reads a bundle's exported graphs (c5desk.model.onnx_graphs: ``model.onnx`` + ``rescore.onnx``, checked
against ``onnx.json`` before loading) and shares frame preparation, flip-TTA and measurements with the torch
Predictor through c5desk.predict_common, so both engines give the same Prediction for the same frame.
Rescoring a clinician's mask re-runs only the small head graph on the frame's cached encoder features.

Devices: the CPU ('auto' or 'cpu'); 'cuda' only where an onnxruntime build with the CUDA provider is
installed (the lean bundle ships the CPU build: a GPU workstation uses the torch bundle instead).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from c5desk.errors import BundleError, ModelError
from c5desk.io.frame import Frame
from c5desk.measure import Measurements, measure_mask
from c5desk.model.onnx_graphs import (
    HEAD_OUTPUTS,
    IMAGE_INPUT,
    MASK_INPUT,
    MODEL_GRAPH,
    RESCORE_GRAPH,
    read_manifest,
)
from c5desk.predict_common import MALIGNANT, PredictorBase, binary_entropy, with_mirror
from c5desk.preprocess import Geometry, mask_to_model


def cpu_threads() -> int:
    """The cores this process may use (c5desk.device has the same rule but imports torch)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS / Windows
        return max(1, os.cpu_count() or 1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def providers_for(device: str) -> tuple[list[str], str]:
    """(ONNX Runtime providers, label shown beside every score) for a user's device choice."""
    import onnxruntime as ort

    request = (device or "auto").lower()
    if request in ("auto", "cpu"):
        return ["CPUExecutionProvider"], f"CPU ({cpu_threads()} threads)"
    if request == "cuda" or request.startswith("cuda:"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelError(
                "CUDA was requested but this installation infers with the CPU build of ONNX Runtime; "
                "use --device cpu, or the GPU bundle (see installer/README.md)"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"], f"GPU ({request}, ONNX Runtime)"
    raise ModelError(f"unknown or unsupported device {device!r} for ONNX Runtime; choose auto, cpu or cuda")


class OnnxPredictor(PredictorBase):
    def __init__(
        self,
        bundle: str | Path,
        device: str = "auto",
        backend: str = "auto",
        tta: bool = True,
        threshold: float = 0.5,
    ) -> None:
        if backend not in ("auto", "onnxruntime"):
            raise ModelError(f"backend {backend!r} needs torch, which this installation lacks; use 'auto'")
        folder = Path(bundle)
        spec, self.onnx_manifest = read_manifest(folder)
        self._adopt_spec(spec, tta, threshold)
        providers, self.device = providers_for(device)
        self.backend = "onnxruntime"
        self.session = _session(folder / MODEL_GRAPH, providers)
        self.head = _session(folder / RESCORE_GRAPH, providers)
        # only the features the head reads are fetched and cached (the exporter drops unused inputs)
        self.head_inputs = [i.name for i in self.head.get_inputs() if i.name != MASK_INPUT]
        self._feature_cache: tuple[tuple[str, int], dict[str, np.ndarray], Geometry] | None = None

    def _forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seg_logits, cls_logits = _run(self.session, list(HEAD_OUTPUTS), {IMAGE_INPUT: batch})
        return sigmoid(seg_logits[:, 0]), softmax(cls_logits)

    def rescore(self, frame: Frame, mask: np.ndarray) -> tuple[float, float, Measurements | None]:
        """P(malignant), its uncertainty and measurements for THIS mask (e.g. a clinician's edit).

        The encoder graph runs once per frame; later edits only re-run the head graph.
        """
        if np.shape(mask) != frame.grey.shape:
            raise ModelError(f"mask shape {np.shape(mask)} does not match the frame {frame.grey.shape}")
        try:
            features, geometry = self._features(frame)
            mask_small = mask_to_model(np.asarray(mask), geometry)[None, None]
            if self.tta:
                mask_small = with_mirror(mask_small)
            (cls_logits,) = _run(self.head, ["cls_logits"], {**features, MASK_INPUT: mask_small})
        except RuntimeError as exc:
            self._release_memory()
            raise ModelError(f"rescoring failed: {exc}".splitlines()[0]) from exc
        p = float(softmax(cls_logits)[:, MALIGNANT].mean())
        return p, float(binary_entropy(p)), measure_mask(mask, frame.mm_per_px)

    def _features(self, frame: Frame) -> tuple[dict[str, np.ndarray], Geometry]:
        key = (frame.source_id, frame.index)
        if self._feature_cache is None or self._feature_cache[0] != key:
            item = self.prepare(frame)
            batch = item.tensor[None]
            if self.tta:
                batch = with_mirror(batch)
            outputs = _run(self.session, self.head_inputs, {IMAGE_INPUT: batch})
            self._feature_cache = (key, dict(zip(self.head_inputs, outputs, strict=True)), item.geometry)
        return self._feature_cache[1], self._feature_cache[2]

    def _release_memory(self) -> None:
        self._feature_cache = None


def _session(path: Path, providers: list[str]):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # ORT's errors share no base class below Exception
        raise BundleError(f"ONNX Runtime cannot load {path}: {str(exc).splitlines()[0]}") from exc


def _run(session, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    feeds = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in feeds.items()}
    try:
        return session.run(outputs, feeds)
    except Exception as exc:  # e.g. out of memory; PredictorBase turns RuntimeError into a ModelError
        raise RuntimeError(str(exc)) from exc
