"""CPU backends for one model, timed alternately: eager, eager channels_last, torch.compile, ONNX Runtime.

`make_predictor(backend="auto")` chooses between eager and ONNX Runtime on a machine's first load
(c5desk.inference.choice); this script shows where torch.compile stands, including its one-off compile time,
so the choice rests on figures. ONNX Runtime runs the same graphs the app uses (c5desk.model.onnx_graphs).

    .venv/bin/python benchmarks/bench_cpu_backends.py [--model c5net_tiny] [--size 256] [--batch 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from c5desk.inference.devices import cpu_threads
from c5desk.inference.graphs import Graphs
from c5desk.inference.ort_engine import OrtEngine
from c5desk.model.bundle import load_bundle, make_random_bundle, read_spec
from c5desk.model.onnx_graphs import export_bundle_graphs, read_manifest
from c5desk.model.registry import create_model


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="c5net_tiny")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(cpu_threads())
    folder = make_random_bundle(Path(tempfile.mkdtemp()) / "m", arch=args.model, input_size=args.size)
    export_bundle_graphs(folder)
    model = load_bundle(folder)[0]
    x = torch.randn(args.batch, 1, args.size, args.size)
    ort = OrtEngine(Graphs(folder, read_manifest(folder, read_spec(folder))), "cpu").forward
    x_np = x.numpy()
    model_cl = create_model(args.model, input_size=args.size).eval().to(memory_format=torch.channels_last)
    model_cl.load_state_dict(model.state_dict())
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        compiled = torch.compile(model)
        compile_s = timed(lambda: compiled(x))
        runs = {
            "eager": lambda: model(x),
            "eager channels_last": lambda: model_cl(x_cl),
            "torch.compile (inductor)": lambda: compiled(x),
            "onnxruntime": lambda: ort(x_np),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(5):
            for fn in runs.values():
                fn()
        for _ in range(args.repeats):
            for name, fn in runs.items():
                times[name].append(timed(fn))
    print(f"{args.model} {args.size}² batch {args.batch}, {torch.get_num_threads()} threads; "
          f"torch.compile first call (compile) {compile_s:.1f} s")  # fmt: skip
    eager = statistics.median(times["eager"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:26} {1e3 * median:7.1f} ms  ({median / eager:.2f}x eager)")
    np.testing.assert_allclose(ort(x_np)[1], torch.softmax(model(x)[1], 1).detach().numpy(), atol=1e-3)


if __name__ == "__main__":
    main()
