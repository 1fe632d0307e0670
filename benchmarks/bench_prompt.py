"""Prompt tools: click-to-mask latency on the CPU, and what prompts do to Dice on BUS-BRA train frames.

Latency (default): the shipped model (resources/models/DEFAULT) on a real frame, both engines, 2 threads:
a full predict() as the reference, then Predictor.refine for a box and for a run of clicks alternating
lesion/background (each click from the mask the previous one left, as in the app), timed click to mask +
score + measurements + descriptors. The first refine of a frame also encodes it (counted apart).

Dice (--dice N): N random BUS-BRA *train* frames (the refinement rules were chosen there; the test split is
never used) against their reference masks: automatic, a box (the reference's box, each side jittered by up
to 10% of its size), 1/3/5 simulated clicks (RITM protocol: each next click at the point deepest inside the
error, positive in a miss, negative in a false outline) from the automatic mask, and a box then 3.

    .venv/bin/python benchmarks/bench_prompt.py [--repeats 40] [--dice 300]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "2")
ROOT = Path(__file__).resolve().parents[1]


def percentiles(times: list[float]) -> str:
    ms = sorted(1e3 * t for t in times)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  (n={len(ms)})"


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def latency(backend: str, repeats: int, bundle: Path) -> None:
    from c5desk.inference import make_predictor
    from c5desk.inference.prompt import Prompt
    from c5desk.io import open_source
    from c5desk.settings import RESOURCES

    with open_source(RESOURCES / "samples" / "bus_sample.png") as source:
        frame = source.frame(0)
    predictor = make_predictor(bundle, device="cpu", backend=backend)
    how = "network prompt inputs" if predictor.spec.prompt_support else "refined probability map"
    print(f"{backend:12s} {predictor.version}: {how}")
    full = [timed(lambda: predictor.predict(frame))[0] for _ in range(repeats // 2)]
    base = predictor.predict(frame)
    h, w = frame.shape
    ys, xs = np.nonzero(base.mask) if base.mask.any() else ([h // 2], [w // 2])
    cx, cy = int(np.mean(xs)), int(np.mean(ys))
    box = Prompt(box=(max(0, cx - 60), max(0, cy - 45), min(w, cx + 60), min(h, cy + 45)))
    predictor._encoded = None  # the first prompt of a frame also runs the encoder once
    first, _ = timed(lambda: predictor.refine(frame, box, base))
    boxes = [timed(lambda: predictor.refine(frame, box, base))[0] for _ in range(repeats)]
    rng = np.random.default_rng(0)
    prompt, mask, clicks = Prompt(), base.mask, []
    for i in range(repeats):
        x, y = int(np.clip(cx + rng.normal(0, 25), 0, w - 1)), int(np.clip(cy + rng.normal(0, 20), 0, h - 1))
        prompt = prompt.with_click(x, y, i % 2 == 0, mask)
        elapsed, result = timed(lambda p=prompt: predictor.refine(frame, p, base))
        clicks.append(elapsed)
        mask = result.mask
    print(f"{backend:12s} full predict   {percentiles(full)}")
    print(f"{backend:12s} first prompt   {1e3 * first:6.1f} ms (encodes the frame)")
    print(f"{backend:12s} box            {percentiles(boxes)}")
    print(f"{backend:12s} click          {percentiles(clicks)}")


def dice_study(count: int, bundle: Path) -> None:
    import cv2

    from c5desk.inference import make_predictor
    from c5desk.inference.prompt import Prompt, refine_mask
    from c5desk.io import open_source
    from c5desk.lesion.overlap import dice_per_image
    from c5desk.settings import data_root

    root = data_root() / "busbra"
    rows = [r for r in csv.DictReader((root / "labels.csv").open()) if r["split"] == "train"]
    picked = sorted(np.random.default_rng(0).choice(len(rows), min(count, len(rows)), replace=False))
    predictor = make_predictor(bundle, device="cpu", backend="torch")
    rng = np.random.default_rng(1)
    scores: dict[str, list[float]] = {k: [] for k in ("automatic", "box", "1 click", "3 clicks", "5 clicks",
                                                       "box + 3 clicks")}  # fmt: skip

    def dice(a: np.ndarray, b: np.ndarray) -> float:
        return float(dice_per_image(a[None], b[None])[0])

    for i in picked:
        reference = cv2.imread(str(root / rows[i]["mask"]), cv2.IMREAD_GRAYSCALE) > 127
        with open_source(root / rows[i]["image"]) as source:
            frame = source.frame(0)
        prob, grey = predictor.predict(frame).prob, frame.grey
        automatic = prob >= predictor.threshold
        scores["automatic"].append(dice(automatic, reference))
        box = Prompt(box=jittered_box(reference, rng))
        boxed = refine_mask(prob, grey, box, predictor.threshold)
        scores["box"].append(dice(boxed, reference))
        for start, first, marks in ((automatic, Prompt(), (1, 3, 5)), (boxed, box, (3,))):
            prompt, mask = first, start
            for n in range(1, max(marks) + 1):
                click = next_click(mask, reference)
                if click is not None:
                    prompt = prompt.with_click(*click, mask)
                    mask = refine_mask(prob, grey, prompt, predictor.threshold)
                if n in marks:
                    name = f"{n} click{'s' if n > 1 else ''}"
                    scores[name if first.box is None else f"box + {name}"].append(dice(mask, reference))
    print(f"BUS-BRA train, {len(picked)} frames, model {predictor.version}: mean (median) Dice")
    for name, values in scores.items():
        print(f"  {name:16s} {np.mean(values):.3f} ({np.median(values):.3f})")


def jittered_box(reference: np.ndarray, rng: np.random.Generator, jitter: float = 0.1) -> tuple[int, ...]:
    ys, xs = np.nonzero(reference)
    h, w = reference.shape
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    dx, dy = (x1 - x0) * jitter, (y1 - y0) * jitter
    x0, x1 = (int(np.clip(v + rng.uniform(-dx, dx), 0, w)) for v in (x0, x1))
    y0, y1 = (int(np.clip(v + rng.uniform(-dy, dy), 0, h)) for v in (y0, y1))
    return x0, y0, max(x0 + 1, x1), max(y0 + 1, y1)


def next_click(mask: np.ndarray, reference: np.ndarray) -> tuple[int, int, bool] | None:
    """RITM: the point deepest inside the error (distance-transform peak); positive in a miss."""
    import cv2

    best = None
    for error, positive in ((reference & ~mask, True), (mask & ~reference, False)):
        if error.any():
            depth = cv2.distanceTransform(np.pad(error, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
            y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
            if best is None or depth[y, x] > best[0]:
                best = (depth[y, x], int(x), int(y), positive)
    return None if best is None else best[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--dice", type=int, default=0, help="BUS-BRA train frames for the Dice study")
    parser.add_argument("--backends", default="torch,onnxruntime")
    parser.add_argument("--bundle", type=Path, help="model bundle (default: the shipped default)")
    args = parser.parse_args()
    from c5desk.model.catalog import default_bundle

    bundle = args.bundle or default_bundle()
    if args.dice:
        dice_study(args.dice, bundle)
        return
    for backend in args.backends.split(","):
        latency(backend, args.repeats, bundle)


if __name__ == "__main__":
    main()
