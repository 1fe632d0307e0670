"""`evaluate BUNDLE FOLDER [--split test] [--prompts none|box|clicks] --json OUT`: the honest numbers of a
bundle on a labelled folder; --prompts adds lesion-free or prompted metrics (training.evaluate_prompts)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from c5desk.fsio import write_atomic

PROMPT_MODES = ("none", "box", "clicks")  # training.evaluate_prompts.MODES, not imported to keep --help light


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
        "--prompts",
        choices=PROMPT_MODES,
        help="also measure: none = auc_reference_mask + false_lesion_rate; box = box_dice with a jittered "
        "reference box; clicks = dice_at_1..5, noc85, noc90 with simulated clicks (RITM protocol)",
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=2000,
        help="bootstrap resamples for the 95%% intervals; they resample patients (labels.csv's group column, "
        "else patient) when the folder names them, else images",
    )


def run(args: argparse.Namespace) -> int:
    from training.evaluate import check_outputs, evaluate, json_safe
    from training.evaluate_prompts import PromptEvaluation
    from training.progress import dumps

    def progress(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            print(f"evaluated {done}/{total}", file=sys.stderr, flush=True)

    prompted = PromptEvaluation(args.prompts) if args.prompts else None
    check_outputs(out_json=args.json)
    result = evaluate(
        args.bundle,
        args.folder,
        split=args.split,
        out_json=None if prompted else args.json,  # written below, with the prompted keys
        out_csv=args.csv,
        plots_dir=args.plots,
        device=args.device,
        tta=not args.no_tta,
        threshold=args.threshold,
        n_boot=args.bootstrap,
        progress=progress,
        observe=prompted.observe if prompted else None,
    )
    if prompted is not None:
        result.update(json_safe(prompted.summary()))
        if args.json is not None:
            write_atomic(args.json, (json.dumps(result, indent=2, allow_nan=False) + "\n").encode())
    print(dumps(result))
    return 0
