"""`python -m training` and `c5desk train|evaluate|retrain`: pretrain, finetune, evaluate, retrain."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from c5desk.errors import C5Error
from c5desk.logs import setup_logging
from c5desk.settings import cache_dir, data_root

log = logging.getLogger(__name__)

EXIT_CANCELLED = 130


def _common(parser: argparse.ArgumentParser, epochs: int, lr: float) -> None:
    parser.add_argument("--arch", default="c5net_tiny", help="registered architecture (default c5net_tiny)")
    parser.add_argument("--size", type=int, default=192, help="model input size in px, a multiple of 32")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=8, help="per process (global = this × processes)")
    parser.add_argument("--lr", type=float, default=lr, help="peak learning rate (AdamW, warm-up + cosine)")
    parser.add_argument("--cls-weight", type=float, default=0.5, help="λ of the class loss")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all this process may use)")
    parser.add_argument("--init", type=Path, help="start from this bundle's weights (same architecture)")
    parser.add_argument("--work", type=Path, help="checkpoint folder; rerunning the same command resumes")
    _run_options(parser)
    parser.add_argument("--version", help="version name of the new bundle (default: arch + UTC time)")
    parser.add_argument("--out", type=Path, required=True, help="new bundle folder (never overwritten)")


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress", choices=("bar", "json", "quiet"), help="default: bar on a terminal, else json"
    )
    parser.add_argument("--cancel-file", type=Path, help="stop cleanly when this file appears")


def build_parser(prog: str = "python -m training") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Train, evaluate and retrain c5desk models.")
    sub = parser.add_subparsers(dest="command", required=True)
    pre = sub.add_parser("pretrain", help="source stage on ISIC 2017 dermoscopy (grey-converted)")
    pre.add_argument("--data", type=Path, default=data_root() / "isic2017")
    pre.add_argument("--limit", type=int, help="use only the first N images per split (smoke tests)")
    _common(pre, epochs=4, lr=2e-3)
    fine = sub.add_parser("finetune", help="target stage on a labelled folder (default BUS-BRA split=train)")
    add_finetune_arguments(fine)
    from training import evaluate_cli, retrain_cli

    evaluate_cli.add_arguments(
        sub.add_parser("evaluate", help="metrics with 95%% intervals on a labelled folder")
    )
    retrain_cli.add_arguments(sub.add_parser("retrain", help="learn from corrections with replay and a gate"))
    from training import descriptors

    descriptors.add_arguments(
        sub.add_parser("descriptors", help="BI-RADS descriptors against expert labels (and refit them)")
    )
    from training import familiarity_fit

    familiarity_fit.add_arguments(
        sub.add_parser("familiarity", help="add the out-of-scope feature statistics to a published bundle")
    )
    return parser


def add_finetune_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, nargs="+", default=[data_root() / "busbra"], help="labelled folder(s)"
    )
    parser.add_argument("--split", nargs="*", default=["train"], help="split values to train on (never test)")
    parser.add_argument("--val-fraction", type=float, default=0.15, help="patient-disjoint validation share")
    parser.add_argument(
        "--encoder-lr-scale", type=float, help="encoder LR factor (default 0.3 with --init, else 1)"
    )
    parser.add_argument(
        "--replay", type=int, default=240, help="frames packaged as the replay sample (0: none)"
    )
    parser.add_argument(
        "--prompts",
        action="store_true",
        help="model v2: train prompt inputs and a lesion-present output (grown from a v1 --init)",
    )
    parser.add_argument(
        "--domain-randomise",
        action="store_true",
        help="ultrasound domain randomisation: field of view, TGC, resolution, burned-in text",
    )
    parser.add_argument(
        "--presence-threshold",
        type=presence_cut,
        help="with --prompts: the published P(lesion) cut (default 0.1; scripts/choose_presence_cut.py "
        "chooses one on the validation part)",
    )
    _common(parser, epochs=12, lr=2e-3)


def presence_cut(text: str) -> float:
    """A P(lesion) cut strictly between 0 and 1, refused before any training starts."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1 (exclusive)")
    return value


def prepare(args: argparse.Namespace) -> None:
    """Threads, device, progress mode and the default work folder, once per process."""
    import torch

    from c5desk.inference.devices import cpu_threads, resolve_device

    torch.set_num_threads(args.threads or cpu_threads())
    args.device_name = str(resolve_device(args.device))
    if args.progress is None:
        args.progress = "bar" if sys.stderr.isatty() else "json"
    if getattr(args, "work", None) is None and getattr(args, "out", None) is not None:
        args.work = cache_dir() / "training" / f"{args.command}-{args.out.resolve().name}"


def check_out(command: str, out: Path) -> None:
    """A bad --out is told before the training, not after it (publishing checks again)."""
    from training.data import DataError

    if command in ("pretrain", "finetune") and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out}: already exists; a bundle is never overwritten (choose another --out)")
    if command == "retrain" and out.exists() and not out.is_dir():
        raise DataError(f"{out}: is a file; --out names the folder the new bundle goes in")
    ancestor = out.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise DataError(f"{out}: cannot be created in {ancestor} (not a writable folder)")


def run(args: argparse.Namespace) -> int:
    from training import distributed as dd
    from training import recipes
    from training.progress import Cancelled, Reporter, dumps

    if args.command == "evaluate":
        from training import evaluate_cli

        return evaluate_cli.run(args)
    if args.command == "descriptors":
        from training import descriptors

        return descriptors.run(args)
    if args.command == "familiarity":
        from training import familiarity_fit

        return familiarity_fit.run(args)
    check_out(args.command, args.out)
    prepare(args)
    info = dd.setup(args.device_name)
    try:
        if args.command == "retrain":
            from training import retrain_cli

            return retrain_cli.run(args, info)
        result = recipes.pretrain(args, info) if args.command == "pretrain" else recipes.finetune(args, info)
        if info.main:
            Reporter(args.progress).emit("saved", **result)
            if args.progress != "json":
                print(dumps(result))
        return 0
    except Cancelled:
        if info.main:
            Reporter(args.progress).emit("cancelled", work=str(args.work))
            print(f"cancelled; rerun the same command to resume from {args.work}", file=sys.stderr)
        return EXIT_CANCELLED
    finally:
        dd.teardown(info)


def main(argv: list[str] | None = None, prog: str = "python -m training") -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser(prog).parse_args(argv)
    setup_logging("training")
    log.info("training %s started", args.command)
    try:
        code = run(args)
    except C5Error as exc:
        from training.progress import dumps

        log.error("training %s failed: %s", args.command, exc)
        if getattr(args, "progress", None) == "json":
            print(dumps({"event": "error", "message": str(exc)}), flush=True)
        print(f"{prog} {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        log.info("training %s interrupted", args.command)
        print(f"{prog} {args.command}: interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception:
        log.exception("training %s crashed", args.command)
        raise
    log.info("training %s finished (exit %s)", args.command, code)
    return code
