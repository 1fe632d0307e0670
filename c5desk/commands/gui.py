"""`c5desk gui [PATH] [--store FOLDER] [--model BUNDLE]`: open the desktop app, optionally on a file.

Before Qt is imported, the system libraries its platform plugin needs are looked for: when one is missing,
Qt itself would only say "could not load the Qt platform plugin 'xcb'... reinstalling the application may
fix this problem", which sends people the wrong way. Instead the command names the missing libraries and
prints the `apt-get install` line for them (the package list is shared with scripts/dev.sh).
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from c5desk import settings

log = logging.getLogger(__name__)
QT_LIBRARIES = settings.RESOURCES / "qt-system-libraries.txt"  # platform, Debian package, library


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="a frame, DICOM, video file or folder to open")
    parser.add_argument("--store", help="dataset folder to save annotations to (default: the last one used)")
    parser.add_argument("--model", help="model bundle folder (default: the active or installed model)")


def run(args: argparse.Namespace) -> int:
    problem = missing_libraries_message()
    if problem is not None:
        log.error("Qt cannot start: %s", problem.splitlines()[0].split("libraries ", 1)[-1])
        print(problem, file=sys.stderr)
        return 1
    from c5desk.gui.app import run_app  # Qt is imported only for this command, and only after the check

    return run_app(args.path, store=args.store, model=args.model)


def required_libraries(path: Path = QT_LIBRARIES) -> list[tuple[str, str]]:
    """(package, library) pairs Qt needs for the platform it is about to use; none off Linux, and none
    when the list is not there (a frozen app carries its own Qt libraries)."""
    if not sys.platform.startswith("linux") or not path.is_file():
        return []
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    wayland_only = bool(os.environ.get("WAYLAND_DISPLAY")) and not os.environ.get("DISPLAY")
    x11 = platform == "xcb" or (not platform and not wayland_only)  # Qt's default on Linux is xcb
    wanted = {"offscreen", "x11"} if x11 else {"offscreen"}
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    return [(row[1], row[2]) for row in rows if len(row) == 3 and row[0] in wanted]


def loadable(library: str) -> bool:
    """Whether the dynamic loader finds and loads `library` (its own dependencies included)."""
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def missing_libraries_message(finder: Callable[[str], bool] | None = None) -> str | None:
    """What to tell the user when Qt's system libraries are missing; None when all are there."""
    found = finder or loadable
    missing = [(package, library) for package, library in required_libraries() if not found(library)]
    if not missing:
        return None
    libraries = ", ".join(library for _, library in missing)
    packages = " ".join(dict.fromkeys(package for package, _ in missing))
    return (
        f"c5desk gui: Qt cannot start: missing system libraries {libraries}. Install them with:\n"
        f"  sudo apt-get install -y {packages}"
    )
