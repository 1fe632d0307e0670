"""`c5desk score PATH... --out results.csv`: one CSV row per frame, resumable, Ctrl+C leaves a valid CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from c5desk.settings import DEVICE_CHOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", help="files and folders (searched recursively)")
    parser.add_argument("--out", required=True, type=Path, help="results CSV; re-running resumes it")
    parser.add_argument("--model", type=Path, help="model bundle folder (default: the shipped model)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "torch", "onnxruntime"),
        help="CPU inference engine; auto measures both and keeps the faster",
    )
    parser.add_argument("--frames", default="first", help="first | all | N (N evenly spaced frames per clip)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--no-tta", action="store_true", help="skip the mirrored view (faster, no spread)")
    parser.add_argument("--masks", type=Path, help="folder for binary mask PNGs")
    parser.add_argument("--overlays", type=Path, help="folder for contour overlay PNGs")


def run(args: argparse.Namespace) -> int:
    from c5desk.batch import score_paths
    from c5desk.inference import make_predictor
    from c5desk.model.catalog import default_bundle

    if args.frames not in ("first", "all") and not args.frames.isdigit():
        raise SystemExit(f"c5desk score: error: --frames must be first, all or a number, not {args.frames!r}")
    bundle = args.model or default_bundle()
    predictor = make_predictor(bundle, device=args.device, backend=args.backend, tta=not args.no_tta)
    note = f" ({predictor.note})" if predictor.note else ""  # e.g. the GPU could not take the model
    print(f"model {predictor.version} on {predictor.device} via {predictor.backend}{note}", file=sys.stderr)
    bar = progress_bar()
    try:
        summary = score_paths(
            args.paths,
            predictor,
            args.out,
            frames=args.frames,
            batch_size=max(1, args.batch_size),
            masks_dir=args.masks,
            overlays_dir=args.overlays,
            progress=bar.update if bar else None,
        )
    finally:
        if bar:
            bar.close()
    print(
        f"{summary.ok} scored, {summary.errors} errors, {summary.skipped} already done → {args.out}",
        file=sys.stderr,
    )
    return 0


def progress_bar():
    """A terminal progress bar over frames, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    class Bar:
        def __init__(self) -> None:
            self.bar = tqdm(unit="frame", file=sys.stderr, dynamic_ncols=True)

        def update(self, summary, _files: int) -> None:
            self.bar.n = summary.ok + summary.errors + summary.skipped
            self.bar.refresh()

        def close(self) -> None:
            self.bar.close()

    return Bar()
