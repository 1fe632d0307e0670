"""`c5desk` command line: a thin dispatcher; each command lives in c5desk/commands/<name>.py.

Commands are imported only when chosen, so `c5desk info` never pays for torch or Qt. No command shows a
traceback: a C5Error is its one-line message, anything unforeseen one line pointing at the log file (which
has the traceback), and output piped into a reader that stops early (`c5desk info f.dcm | head -3`) ends the
command quietly with exit status 141, as a shell reports a command killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from c5desk import __version__
from c5desk.errors import C5Error
from c5desk.logs import setup_logging

log = logging.getLogger("c5desk")

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports when `head` closes the pipe early

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("c5desk.commands.gui", "open the desktop app (optionally on a file or folder)"),
    "info": ("c5desk.commands.info", "describe the frames, calibration and metadata of a file"),
    "models": ("c5desk.commands.models", "list the installed models (the active one marked); activate one"),
    "score": ("c5desk.commands.score", "score files and folders into a CSV"),
    "import": ("c5desk.commands.import_data", "import a labelled folder or frames into a dataset store"),
    "export": (
        "c5desk.commands.export",
        "export a dataset store: masks, COCO, CSV, folder, DICOM SEG, report",
    ),
    "serve": ("c5desk.commands.serve", "run a DICOM node: receive, import, score and forward results"),
    "send": ("c5desk.commands.send", "send results (DICOM SEG + SR) of chosen cases to a PACS"),
}

# Training lives in the top-level `training` package, which imports c5desk (never the reverse); these
# commands hand their arguments to it untouched. A lean (inference-only) installation may lack it.
TRAINING_COMMANDS: dict[str, tuple[list[str], str]] = {
    "train": ([], "train a model: `train pretrain ...` (ISIC source stage) or `train finetune ...` (target)"),
    "evaluate": (["evaluate"], "metrics with 95%% intervals of a model bundle on a labelled folder"),
    "retrain": (
        ["retrain"],
        "learn from corrections with replay; publish only if the validation gate passes",
    ),
}


def run_training(argv: list[str]) -> int:
    try:
        cli = importlib.import_module("training.cli")
    except ImportError as exc:
        print(
            f"c5desk {argv[0]}: the training package is not part of this installation ({exc})",
            file=sys.stderr,
        )
        return 1
    prefix, _help = TRAINING_COMMANDS[argv[0]]
    return int(cli.main([*prefix, *argv[1:]], prog=f"c5desk {argv[0]}" if not prefix else "c5desk"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="c5desk", description="Ultrasound lesion outlining and malignancy scoring."
    )
    parser.add_argument(
        "--self-test", action="store_true", help="check this installation on a bundled frame and exit 0/1"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    for name, (_prefix, help_text) in TRAINING_COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        code = dispatch(list(sys.argv[1:] if argv is None else argv))
        if sys.stdout is not None:
            sys.stdout.flush()  # here, not at exit: a closed pipe is then caught below
        return code
    except BrokenPipeError:
        return output_closed()


def dispatch(argv: list[str]) -> int:
    if argv and argv[0] == "--self-test":  # the installer's check: one verdict line, no window
        from c5desk.selftest import main as self_test

        return self_test(argv[1:])
    if argv and argv[0] in TRAINING_COMMANDS:
        return run_training(argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        parser = build_parser()
        if argv and argv[0] not in ("-h", "--help"):
            parser.error(f"unknown command {argv[0]!r}")
        parser.print_help()
        return 0 if argv else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    parser = argparse.ArgumentParser(prog=f"c5desk {argv[0]}", description=COMMANDS[argv[0]][1])
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    return run_command(argv[0], module, args)


def output_closed() -> int:
    """The reader of stdout went away: send what is left to the null device, so the flush at exit is quiet."""
    log.info("output closed by its reader; stopping")
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # stdout is not a file (captured, or None)
        pass
    return EXIT_BROKEN_PIPE


def run_command(name: str, module, args: argparse.Namespace) -> int:
    """Run one command with its outcome in the log file (never its arguments: paths can name a patient)."""
    log_file = setup_logging(name)
    log.info("c5desk %s %s started", __version__, name)
    try:
        code = int(module.run(args) or 0)
    except C5Error as exc:
        log.error("c5desk %s failed: %s", name, exc)
        print(f"c5desk {name}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        log.info("c5desk %s interrupted", name)
        print(f"c5desk {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # main() ends quietly
    except Exception as exc:
        log.exception("c5desk %s crashed", name)
        print(f"c5desk {name}: error: {unforeseen(exc)}{f' (details in {log_file})' if log_file else ''}",
              file=sys.stderr)  # fmt: skip
        return 1
    log.info("c5desk %s finished (exit %d)", name, code)
    return code


def unforeseen(exc: BaseException) -> str:
    """One line for a failure no C5Error describes."""
    if isinstance(exc, MemoryError):  # numpy's _ArrayMemoryError too
        return "not enough memory"
    text = " ".join(str(exc).split())[:200]
    return f"unexpected {type(exc).__name__}" + (f": {text}" if text else "")


if __name__ == "__main__":
    sys.exit(main())
