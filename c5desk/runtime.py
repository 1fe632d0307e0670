"""Model runners behind the Predictor: PyTorch (any device) and ONNX Runtime (CPU), chosen by measurement.

Both take a normalised float32 batch (N, C, S, S) and return (mask probabilities (N, S, S), class
probabilities (N, K)) as numpy arrays, so the Predictor does not care which one runs.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from c5desk.device import cpu_threads
from c5desk.errors import ModelError
from c5desk.settings import cache_dir

log = logging.getLogger(__name__)


class TorchRunner:
    name = "torch"

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.device = device
        self.model = model.to(device).eval().to(memory_format=torch.channels_last)
        self.amp_dtype = None
        if device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def tensor(self, batch: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(batch))
        if self.device.type == "cuda":
            tensor = tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device).contiguous(memory_format=torch.channels_last)

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode(), self.autocast():
            seg_logits, cls_logits = self.model(self.tensor(batch))
            seg = torch.sigmoid(seg_logits.float())[:, 0]
            cls = torch.softmax(cls_logits.float(), dim=1)
        return seg.cpu().numpy(), cls.cpu().numpy()

    def autocast(self):
        if self.amp_dtype is None:
            return torch.autocast(device_type="cpu", enabled=False)
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)


class OrtRunner:
    name = "onnxruntime"

    def __init__(self, onnx_path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seg_logits, cls_logits = self.session.run(None, {self.input_name: np.ascontiguousarray(batch)})
        seg = 1.0 / (1.0 + np.exp(-seg_logits[:, 0]))
        shifted = np.exp(cls_logits - cls_logits.max(axis=1, keepdims=True))
        return seg.astype(np.float32), (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def onnx_graph(model: torch.nn.Module, weights_sha256: str, input_size: int) -> Path:
    """The model exported to ONNX once per weights file and input size, cached; the export is atomic."""
    from c5desk.model.onnx_export import export_onnx

    target = cache_dir() / "onnx" / f"{weights_sha256[:24]}-{input_size}.onnx"
    if not target.is_file():
        export_onnx(model, target, input_size, batch_dynamic=True)
    return target


def median_latency(runner, batch: np.ndarray, repeats: int = 5) -> float:
    runner(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu_runner(model, weights_sha256: str, input_size: int, in_chans: int, backend: str = "auto"):
    """PyTorch eager or ONNX Runtime on the CPU: 'auto' times both on this machine and keeps the faster."""
    torch_runner = TorchRunner(model, torch.device("cpu"))
    if backend == "torch":
        return torch_runner
    try:
        ort_runner = OrtRunner(onnx_graph(model, weights_sha256, input_size))
    except Exception as exc:  # an exporter or runtime gap must never stop scoring: say so, use torch
        if backend == "onnxruntime":
            raise ModelError(f"ONNX Runtime backend unavailable: {exc}") from exc
        log.warning("ONNX Runtime unavailable, using PyTorch: %s", exc)
        return torch_runner
    if backend == "onnxruntime":
        return ort_runner
    probe = np.zeros((2, in_chans, input_size, input_size), dtype=np.float32)
    timings = {r: median_latency(r, probe) for r in (torch_runner, ort_runner)}
    best = min(timings, key=timings.get)
    log.info("CPU backend: %s (%s)", best.name, {r.name: round(t * 1e3, 1) for r, t in timings.items()})
    return best
