"""`c5desk gui [PATH]`: open the desktop app, optionally on a file."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="a frame, DICOM or video file to open")


def run(args: argparse.Namespace) -> int:
    from c5desk.gui.app import run_app  # Qt is imported only for this command

    return run_app(args.path)
