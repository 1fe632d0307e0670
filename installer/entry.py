"""Entry point of the frozen app: the `c5desk` command, opening the window when started with no command.

multiprocessing.freeze_support() must come first: c5desk.io decodes some DICOM transfer syntaxes in a
"spawn" helper process, which in a frozen app re-runs this executable with multiprocessing's arguments.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def frozen_argv(argv: list[str]) -> list[str]:
    """A double-click (no arguments) or 'Open with' / drop onto the icon (a path) opens the window."""
    from c5desk.cli import COMMANDS, TRAINING_COMMANDS

    if not argv:
        return ["gui"]
    first = argv[0]
    known = first in COMMANDS or first in TRAINING_COMMANDS or first.startswith("-")
    return ["gui", first] if not known and os.path.exists(first) else argv


def main() -> int:
    multiprocessing.freeze_support()
    from c5desk.cli import main as cli_main

    return cli_main(frozen_argv(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
