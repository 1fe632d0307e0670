"""`c5desk` command line: a thin dispatcher; each command lives in c5desk/commands/<name>.py.

Commands are imported only when chosen, so `c5desk info` never pays for torch or Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from c5desk.errors import C5Error

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("c5desk.commands.gui", "open the desktop app (optionally on a file or folder)"),
    "info": ("c5desk.commands.info", "describe the frames, calibration and metadata of a file"),
    "score": ("c5desk.commands.score", "score files and folders into a CSV"),
    "import": ("c5desk.commands.import_data", "import a labelled folder or frames into a dataset store"),
    "export": (
        "c5desk.commands.export",
        "export a dataset store: masks, COCO, CSV, folder, DICOM SEG, report",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="c5desk", description="Ultrasound lesion outlining and malignancy scoring."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
    try:
        return int(module.run(args) or 0)
    except C5Error as exc:
        print(f"c5desk {argv[0]}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"c5desk {argv[0]}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
