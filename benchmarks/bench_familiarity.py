"""What the feature out-of-scope check (c5desk.inference.familiarity) costs per frame.

    python benchmarks/bench_familiarity.py [--bundle DIR] [--repeats 30]

For both engines: the median time of Predictor.predict_batch on the bundled sample frame with the check
and without it (the same predictor, its statistics removed: the reference), and the check's own work (the
descriptor from the kept features plus one Mahalanobis distance) timed alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from c5desk.inference import make_predictor
from c5desk.inference.familiarity import descriptors
from c5desk.io import open_source
from c5desk.settings import RESOURCES

SAMPLE_FOLDER = RESOURCES / "samples"


def median_ms(call, repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(bundle: Path, backend: str, frame, repeats: int) -> str:
    predictor = make_predictor(bundle, device="cpu", backend=backend)
    familiarity = predictor.familiarity
    if familiarity is None:
        raise SystemExit(f"{bundle} has no familiarity statistics")
    with_check = median_ms(lambda: predictor.predict_batch([frame]), repeats)
    predictor.familiarity = None
    without = median_ms(lambda: predictor.predict_batch([frame]), repeats)
    batch = predictor._views(predictor.prepare(frame).tensor[None])
    *_, kept = predictor.engine.forward_keeping(batch)
    alone = median_ms(lambda: familiarity.distances(descriptors(kept, 2)), repeats)
    return (
        f"{backend:12s} predict with the check {with_check:7.1f} ms, without {without:7.1f} ms "
        f"(ratio {with_check / without:.3f}); the check alone {alone:.2f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=RESOURCES / "models" / "c5net_tiny-v2")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    sample = SAMPLE_FOLDER / "bus_sample.png"
    frame = open_source(sample).frame(0)
    print(f"bundle {args.bundle.name}, frame {sample.name} {frame.shape}, median of {args.repeats}")
    for backend in ("torch", "onnxruntime"):
        print(measure(args.bundle, backend, frame, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
