"""`c5desk send STORE --to AE@HOST:PORT (--case NAME ... | --frame ID ... | --all)`: results to a PACS.

Each chosen frame's results (DICOM SEG + SR: the clinician's annotation, else the newest prediction) are
sent in one association, de-identified with a Secondary Capture of the stored frame, or, with
--dicom-sources, referencing the original images found among those files. Exit 0 when everything was
sent, 1 when anything was not (each listed with the reason) or the peer could not be reached.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from c5desk.commands.serve import checked_type
from c5desk.node.config import DEFAULT_AE_TITLE, check_ae_title, parse_destination

MAX_LISTED = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="dataset store folder")
    parser.add_argument("--to", required=True, type=checked_type(parse_destination), metavar="AE@HOST:PORT")
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--case", action="append", metavar="NAME", help="a case, e.g. case-0003 (repeatable)")
    chosen.add_argument("--frame", action="append", type=int, metavar="ID", help="a frame id (repeatable)")
    chosen.add_argument("--all", action="store_true", help="every frame with an annotation or a prediction")
    parser.add_argument(
        "--ae-title", type=checked_type(check_ae_title), default=DEFAULT_AE_TITLE, help="our AE"
    )
    parser.add_argument(
        "--dicom-sources", nargs="+", type=Path, metavar="PATH",
        help="the original DICOM files: results then reference them and carry their patient",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from c5desk.node import send_results, sendable_frames
    from c5desk.store import Store

    with Store.open(args.store) as store:
        frames = args.frame or sendable_frames(store, args.case if not args.all else None)
        if not frames:
            print("c5desk send: nothing to send (no chosen frame has an annotation or a prediction)")
            return 1
        report = send_results(
            store, frames, args.to, calling_ae=args.ae_title, dicom_sources=args.dicom_sources
        )
        counts = {"frames": len(frames), "sent": len(report.sent), "failed": len(report.failures)}
        store.log_action("send_results", after={"to": args.to.ae_title, **counts})
    print(f"{len(frames)} frame(s) to {args.to}: {report.summary()}")
    for failure in report.failures[:MAX_LISTED]:
        print(f"  FAILED {failure.what}: {failure.why}")
    if len(report.failures) > MAX_LISTED:
        print(f"  ... and {len(report.failures) - MAX_LISTED} more", file=sys.stderr)
    return 0 if report.ok else 1
