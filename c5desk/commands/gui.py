"""`c5desk gui [PATH] [--store FOLDER] [--model BUNDLE]`: open the desktop app, optionally on a file."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="a frame, DICOM, video file or folder to open")
    parser.add_argument("--store", help="dataset folder to save annotations to (default: the last one used)")
    parser.add_argument("--model", help="model bundle folder (default: the active or installed model)")


def run(args: argparse.Namespace) -> int:
    from c5desk.gui.app import run_app  # Qt is imported only for this command

    return run_app(args.path, store=args.store, model=args.model)
