"""`evaluate BUNDLE FOLDER [--split test] --json OUT`: the honest numbers of a bundle on a labelled folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="model bundle folder")
    parser.add_argument("folder", type=Path, help="labelled folder (labels.csv with image, mask, label)")
    parser.add_argument("--split", help="evaluate only rows of this split (e.g. test)")
    parser.add_argument("--json", type=Path, help="write the metrics here (default: print them)")
    parser.add_argument("--csv", type=Path, help="per-image results")
    parser.add_argument("--plots", type=Path, help="folder for the ROC and calibration PNGs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-tta", action="store_true", help="skip the flip test-time augmentation")
    parser.add_argument("--threshold", type=float, default=0.5, help="P(malignant) decision threshold")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=2000,
        help="bootstrap resamples for the 95%% intervals; they resample patients (labels.csv's group column, "
        "else patient) when the folder names them, else images",
    )


def run(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate
    from training.progress import dumps

    def progress(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            print(f"evaluated {done}/{total}", file=sys.stderr, flush=True)

    result = evaluate(
        args.bundle,
        args.folder,
        split=args.split,
        out_json=args.json,
        out_csv=args.csv,
        plots_dir=args.plots,
        device=args.device,
        tta=not args.no_tta,
        threshold=args.threshold,
        n_boot=args.bootstrap,
        progress=progress,
    )
    print(dumps(result))
    return 0
