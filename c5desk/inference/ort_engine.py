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
from c5desk.model.onnx_graphs import (
    HEAD_OUTPUTS,
    IMAGE_INPUT,
    MASK_INPUT,
    MODEL_GRAPH,
    PRESENCE_OUTPUT,
    PROMPT_GRAPH,
    PROMPT_INPUT,
    RESCORE_GRAPH,
)


class OrtEngine:
    name = "onnxruntime"

    def __init__(self, graphs: Graphs, device: str = "auto") -> None:
        providers, self.device = ort_providers(device)
        self.graphs = graphs
        self.session = _session(graphs, MODEL_GRAPH, providers)
        self.head = _session(graphs, RESCORE_GRAPH, providers)
        self.heads = list(HEAD_OUTPUTS)
        if PRESENCE_OUTPUT in {o.name for o in self.session.get_outputs()}:
            self.heads.append(PRESENCE_OUTPUT)
        # only the features the heads read are fetched and kept (the exporter drops unused inputs)
        self.head_inputs = [i.name for i in self.head.get_inputs() if i.name != MASK_INPUT]
        self.prompt = None
        if PROMPT_GRAPH in graphs.manifest["graphs"]:
            self.prompt = _session(graphs, PROMPT_GRAPH, providers)
            self.prompt_inputs = [i.name for i in self.prompt.get_inputs() if i.name != PROMPT_INPUT]
        wanted = self.head_inputs + (self.prompt_inputs if self.prompt is not None else [])
        self.kept = list(dict.fromkeys(wanted))

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        outputs = _run(self.session, self.heads, {IMAGE_INPUT: batch})
        present = sigmoid(outputs[2]) if len(outputs) > 2 else None
        return sigmoid(outputs[0][:, 0]), softmax(outputs[1]), present

    def forward_keeping(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict]:
        """forward() plus the encoder features, kept for re-scoring and prompts of the same frame."""
        outputs = _run(self.session, self.heads + self.kept, {IMAGE_INPUT: batch})
        heads, features = outputs[: len(self.heads)], outputs[len(self.heads) :]
        present = sigmoid(heads[2]) if len(heads) > 2 else None
        kept = dict(zip(self.kept, features, strict=True))
        return sigmoid(heads[0][:, 0]), softmax(heads[1]), present, kept

    def encode(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        outputs = _run(self.session, self.kept, {IMAGE_INPUT: batch})
        return dict(zip(self.kept, outputs, strict=True))

    def forward_prompted(self, features: dict[str, np.ndarray], prompt_maps: np.ndarray) -> np.ndarray:
        if self.prompt is None:
            raise RuntimeError("these graphs take no prompt inputs")
        feeds = {name: features[name] for name in self.prompt_inputs}
        (seg_logits,) = _run(self.prompt, ["seg_logits"], {**feeds, PROMPT_INPUT: prompt_maps})
        return sigmoid(seg_logits[:, 0])

    def classify(self, features: dict[str, np.ndarray], mask_prob: np.ndarray) -> np.ndarray:
        feeds = {name: features[name] for name in self.head_inputs}
        (cls_logits,) = _run(self.head, ["cls_logits"], {**feeds, MASK_INPUT: mask_prob})
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
