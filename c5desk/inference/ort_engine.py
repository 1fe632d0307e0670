"""OrtEngine: the network on ONNX Runtime alone, from a bundle's verified graphs — no torch needed.

This is how the lean desktop installation (which ships no torch) infers, and how a torch installation runs
on the CPU when ONNX Runtime is the faster there (c5desk.inference.factory measures it). Rescoring an edited
mask re-runs only the small head graph on the frame's encoder features.

Each graph is read once into memory, its SHA-256 compared with the manifest's, and ONNX Runtime is given
those very bytes: a file swapped after c5desk.inference.graphs verified it is refused, never run.

Devices: the CPU ('auto' or 'cpu'); 'cuda' only where an onnxruntime build with the CUDA provider is
installed (the lean bundle ships the CPU build: a GPU workstation uses the torch engine instead).
"""

from __future__ import annotations

import hashlib

import numpy as np

from c5desk.errors import BundleError
from c5desk.inference.devices import cpu_threads, ort_providers
from c5desk.inference.engine import sigmoid, softmax
from c5desk.inference.graphs import Graphs
from c5desk.model.onnx_graphs import HEAD_OUTPUTS, IMAGE_INPUT, MASK_INPUT, MODEL_GRAPH, RESCORE_GRAPH


class OrtEngine:
    name = "onnxruntime"

    def __init__(self, graphs: Graphs, device: str = "auto") -> None:
        providers, self.device = ort_providers(device)
        self.graphs = graphs
        self.session = _session(graphs, MODEL_GRAPH, providers)
        self.head = _session(graphs, RESCORE_GRAPH, providers)
        # only the features the head reads are fetched and kept (the exporter drops unused inputs)
        self.head_inputs = [i.name for i in self.head.get_inputs() if i.name != MASK_INPUT]

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seg_logits, cls_logits = _run(self.session, list(HEAD_OUTPUTS), {IMAGE_INPUT: batch})
        return sigmoid(seg_logits[:, 0]), softmax(cls_logits)

    def encode(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        outputs = _run(self.session, self.head_inputs, {IMAGE_INPUT: batch})
        return dict(zip(self.head_inputs, outputs, strict=True))

    def classify(self, features: dict[str, np.ndarray], mask_prob: np.ndarray) -> np.ndarray:
        (cls_logits,) = _run(self.head, ["cls_logits"], {**features, MASK_INPUT: mask_prob})
        return softmax(cls_logits)

    def release(self) -> None:
        """ONNX Runtime frees a failed run's memory itself."""


def _verified_bytes(graphs: Graphs, name: str) -> bytes:
    """The graph file's content, provided it is still the one its manifest recorded."""
    path = graphs.folder / name
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if hashlib.sha256(content).hexdigest() != graphs.manifest["graphs"].get(name):
        raise BundleError(f"{path} does not match its recorded SHA-256 (replaced or modified); not loaded")
    return content


def _session(graphs: Graphs, name: str, providers: list[str]):
    import onnxruntime as ort

    path, content = graphs.folder / name, _verified_bytes(graphs, name)
    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(content, options, providers=providers)
    except Exception as exc:  # ORT's errors share no base class below Exception
        raise BundleError(f"ONNX Runtime cannot load {path}: {str(exc).splitlines()[0]}") from exc


def _run(session, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    feeds = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in feeds.items()}
    try:
        return session.run(outputs, feeds)
    except Exception as exc:  # e.g. out of memory; the Predictor turns RuntimeError into a ModelError
        raise RuntimeError(str(exc)) from exc
