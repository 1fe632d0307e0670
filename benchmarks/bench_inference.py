"""Inference speed of the C5-Net family against a plain UNet-ResNet34, all measured in one run.

Prints, per model: parameters, GFLOPs per frame, single-frame latency for the bare forward and end to end
(decoded frame → Prediction with contour and measurements), batched throughput, batch-scoring throughput of a
folder of BUS-BRA frames, and peak RSS; then the ratios the targets are stated in. Each model runs in its own
subprocess so its peak RSS is its own. Weights are random (speed does not depend on their values) unless a
trained bundle is given with --bundle NAME=PATH, which makes the post-processing (contours, measurements) see
lesion-like masks instead of noise.

    .venv/bin/python benchmarks/bench_inference.py [--size 256] [--device cpu|cuda] [--repeats 30]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("c5net_tiny", "c5net_small", "unet_resnet", "unet_resnet34")
REFERENCE = "unet_resnet34"


def median_ms(fn, repeats: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def paired_median_ms(first, second, repeats: int, warmup: int = 5) -> tuple[float, float]:
    """Medians of two timings taken alternately, so drift in the machine's speed hits both alike."""
    for _ in range(warmup):
        first()
        second()
    a, b = [], []
    for _ in range(repeats):
        for fn, times in ((first, a), (second, b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(a), 1e3 * statistics.median(b)


def lesion_postprocess_ms(frame_path: Path, repeats: int) -> float:
    """Contours + measurements on the frame's real BUS-BRA lesion mask (random weights predict no lesion)."""
    import cv2

    from c5desk.lesion.contours import lesion_contours
    from c5desk.lesion.measure import measure_mask
    from c5desk.settings import data_root

    mask_path = data_root() / "busbra" / "Masks" / frame_path.name.replace("bus_", "mask_")
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 127
    return median_ms(lambda: (lesion_contours(mask), measure_mask(mask, (0.1, 0.1))), repeats)


def gflops(model, size: int, in_chans: int) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(torch.zeros(1, in_chans, size, size))
    return counter.get_total_flops() / 1e9


def folder_of_frames(count: int) -> Path:
    from c5desk.settings import data_root

    images = sorted((data_root() / "busbra" / "Images").glob("*.png"))[:count]
    if not images:
        raise SystemExit("BUS-BRA not found (set C5DESK_DATA)")
    folder = Path(tempfile.mkdtemp(prefix="c5bench-"))
    for image in images:
        shutil.copy(image, folder / image.name)
    return folder


def measure_one(name: str, bundle: str | None, args: argparse.Namespace) -> dict:
    """Everything for one model, in this (fresh) process."""
    import numpy as np

    from c5desk.batch import score_paths
    from c5desk.inference import make_predictor
    from c5desk.io import open_source
    from c5desk.model.bundle import load_bundle, make_random_bundle

    work = Path(tempfile.mkdtemp(prefix="c5bench-"))
    if bundle is None:
        bundle = str(make_random_bundle(work / name, arch=name, input_size=args.size))
    predictor = make_predictor(bundle, device=args.device, backend=args.backend, tta=False)
    runner, size, in_chans = predictor.engine.forward, predictor.input.size, predictor.input.in_chans
    model = load_bundle(bundle)[0]  # for counting (the engine may be ONNX Runtime)
    frames_dir = folder_of_frames(args.frames)
    frame_path = next(frames_dir.glob("*.png"))
    with open_source(frame_path) as source:
        frame = source.frame(0)
    one = np.stack([predictor.prepare(frame).tensor])
    batch = np.repeat(one, args.batch, axis=0)
    forward_ms, end_to_end_ms = paired_median_ms(
        lambda: runner(one), lambda: predictor.predict(frame), args.repeats
    )
    result = {
        "model": name,
        "backend": predictor.backend,
        "device": predictor.device,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "gflops": gflops(model, size, in_chans) if args.device == "cpu" else None,
        "forward_ms": forward_ms,
        "end_to_end_ms": end_to_end_ms,
        "lesion_post_ms": lesion_postprocess_ms(frame_path, args.repeats),
    }
    batch_ms = median_ms(lambda: runner(batch), max(10, args.repeats // 2), warmup=3)
    result["batched_fps"] = 1e3 * args.batch / batch_ms
    start = time.perf_counter()
    summary = score_paths([frames_dir], predictor, work / "scores.csv", batch_size=args.batch)
    result["scoring_fps"] = summary.ok / (time.perf_counter() - start)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    shutil.rmtree(frames_dir, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return result


def run_isolated(name: str, bundle: str | None, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--one",
        name,
        "--size",
        str(args.size),
        "--device",
        args.device,
        "--repeats",
        str(args.repeats),
        "--batch",
        str(args.batch),
        "--frames",
        str(args.frames),
        "--backend",
        args.backend,
    ]
    if bundle:
        command += ["--bundle", f"{name}={bundle}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    print(
        f"\ninput {args.size}², batch {args.batch}, {args.frames} BUS-BRA frames, device {rows[0]['device']}"
    )
    print(
        f"{'model':15} {'backend':12} {'params M':>8} {'GFLOPs':>7} {'fwd ms':>7} {'e2e ms':>7} "
        f"{'batch fps':>9} {'score fps':>9} {'RSS MB':>7}"
    )
    for r in rows:
        flops = f"{r['gflops']:.2f}" if r["gflops"] is not None else "-"
        print(
            f"{r['model']:15} {r['backend']:12} {r['params_m']:8.2f} {flops:>7} "
            f"{r['forward_ms']:7.1f} {r['end_to_end_ms']:7.1f} {r['batched_fps']:9.1f} "
            f"{r['scoring_fps']:9.1f} {r['peak_rss_mb']:7.0f}"
        )
    by_name = {r["model"]: r for r in rows}
    ref = by_name.get(REFERENCE)
    print("\nratios (targets in brackets)")
    for r in rows:
        overhead = r["end_to_end_ms"] / r["forward_ms"] - 1
        with_lesion = (r["end_to_end_ms"] + r["lesion_post_ms"]) / r["forward_ms"] - 1
        scoring = r["scoring_fps"] / r["batched_fps"]
        line = (
            f"  {r['model']:15} e2e overhead {overhead:+.0%}, {with_lesion:+.0%} adding a real lesion's "
            f"contours+measurements ({r['lesion_post_ms']:.1f} ms) [<= +15%]  "
            f"scoring/bare {scoring:.0%} [>= 90%]"
        )
        if ref and r is not ref:
            line += f"  e2e vs {REFERENCE}-eager {r['end_to_end_ms'] / ref['end_to_end_ms']:.2f}x [<= 0.5x]"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--backend", default="auto", help="for the C5-Net models; the reference is always eager"
    )
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=64, help="BUS-BRA frames in the scored folder")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--bundle", action="append", default=[], help="NAME=PATH: a trained bundle for NAME")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    bundles = dict(item.split("=", 1) for item in args.bundle)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.one:
        if args.one == REFERENCE:
            args.backend = "torch"
        print(json.dumps(measure_one(args.one, bundles.get(args.one), args)))
        return
    rows = [run_isolated(name, bundles.get(name), args) for name in args.models.split(",")]
    print_table(rows, args)


if __name__ == "__main__":
    main()
