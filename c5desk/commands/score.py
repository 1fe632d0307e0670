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
    parser.add_argument("--batch-size", type=int, default=8, help="frames per model call (1 to 256)")
    parser.add_argument("--no-tta", action="store_true", help="skip the mirrored view (faster, no spread)")
    parser.add_argument(
        "--masks", type=Path, help="folder for binary mask PNGs (named in the CSV's mask_file column)"
    )
    parser.add_argument(
        "--overlays", type=Path, help="folder for contour overlay PNGs (named in the overlay_file column)"
    )
    parser.add_argument(
        "--keep-identity",
        action="store_true",
        help="overlays show the frame as read; by default text and everything outside the scan are blanked",
    )


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every file was read (frames that failed are error rows); 1 when reading stopped early."""
    from c5desk.batch import MAX_BATCH_SIZE, check_frames, check_outputs, score_paths
    from c5desk.errors import C5Error
    from c5desk.inference import make_predictor
    from c5desk.model.catalog import default_bundle

    check_frames(args.frames)
    if not 1 <= args.batch_size <= MAX_BATCH_SIZE:
        raise C5Error(f"--batch-size must be between 1 and {MAX_BATCH_SIZE}, not {args.batch_size}")
    check_outputs(args.out, args.masks, args.overlays)  # before the model loads: a typo fails at once
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
            batch_size=args.batch_size,
            masks_dir=args.masks,
            overlays_dir=args.overlays,
            keep_identity=args.keep_identity,
            progress=bar.update if bar else None,
        )
    finally:
        if bar:
            bar.close()
    print(
        f"{summary.ok} scored, {summary.errors} errors, {summary.skipped} already done → {args.out}",
        file=sys.stderr,
    )
    if summary.aborted:
        print(f"c5desk score: error: reading stopped early ({summary.aborted})", file=sys.stderr)
        return 1
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
