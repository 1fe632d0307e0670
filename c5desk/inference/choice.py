"""On the CPU, PyTorch eager or ONNX Runtime — whichever is faster on this machine, measured once.

The first load of a model on a machine times both engines on a small batch and keeps the faster; the
choice is remembered in the per-user cache (per weights, thread count and library versions), so later
loads — every start of the app — skip the timing. An ONNX export or runtime problem never stops scoring:
it is logged and PyTorch is used.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from pathlib import Path

import numpy as np

from c5desk.fsio import write_text_atomic
from c5desk.inference.devices import cpu_threads
from c5desk.inference.engine import Engine
from c5desk.inference.graphs import ensure_graphs
from c5desk.inference.ort_engine import OrtEngine
from c5desk.inference.torch_engine import TorchEngine
from c5desk.model.bundle import BundleSpec
from c5desk.settings import cache_dir

log = logging.getLogger(__name__)


def faster_cpu_engine(torch_engine: TorchEngine, bundle: Path, spec: BundleSpec) -> Engine:
    try:
        ort_engine = OrtEngine(ensure_graphs(bundle, spec, torch_engine.model), "cpu")
    except Exception as exc:  # an exporter or runtime gap must never stop scoring: say so, use torch
        log.warning("ONNX Runtime unavailable, using PyTorch: %s", exc)
        return torch_engine
    record = choice_file(spec)
    remembered = _read_choice(record)
    if remembered in (torch_engine.name, ort_engine.name):
        return torch_engine if remembered == torch_engine.name else ort_engine
    probe = np.zeros((2, spec.in_chans, spec.input_size, spec.input_size), dtype=np.float32)
    timings = {engine: median_latency(engine, probe) for engine in (torch_engine, ort_engine)}
    best = min(timings, key=timings.get)
    milliseconds = {engine.name: round(t * 1e3, 1) for engine, t in timings.items()}
    log.info("CPU backend: %s (%s)", best.name, milliseconds)
    _write_choice(record, best.name, milliseconds)
    return best


def median_latency(engine: Engine, batch: np.ndarray, repeats: int = 5) -> float:
    engine.forward(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine.forward(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def choice_file(spec: BundleSpec) -> Path:
    import onnxruntime
    import torch

    key = f"{spec.weights_sha256[:32]}-s{spec.input_size}-t{cpu_threads()}"
    versions = f"torch{torch.__version__}-ort{onnxruntime.__version__}".replace("+", "_")
    return cache_dir() / "cpu-backend" / f"{key}-{versions}.json"


def _read_choice(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("backend") if isinstance(data, dict) else None


def _write_choice(path: Path, backend: str, milliseconds: dict[str, float]) -> None:
    try:
        write_text_atomic(path, json.dumps({"backend": backend, "median_ms": milliseconds}) + "\n")
    except OSError as exc:  # a read-only cache only costs the timing at the next start
        log.warning("cannot remember the CPU backend choice in %s: %s", path, exc)
