"""`c5desk import STORE SRC... [--max-frames N] [--keep-identity]`: seed a dataset store.

A SRC that is a folder with labels.csv (or a labels.csv file) is imported as a labelled folder: frames
with their final masks and labels (rows of one image with "lesion" numbers: that frame's lesions). A
folder with annotations.json (or that file) is a COCO folder: each image a frame, its annotations its
lesions (coco_import). Any other SRC (files, folders, DICOM, video) adds unlabelled frames.
The store folder is created when missing.

Frames are de-identified on the way in: what lies around the imaging region and burned-in text inside it
are blanked (c5desk.io.deidentify). --keep-identity stores the original pixels instead, with a warning:
the store then holds identifying pixels and is no longer de-identified.

Bad rows and unreadable files are reported (which, and why) and skipped; the good ones are imported.
Exit status: 0 when at least one row or frame was imported or was already in the store; 1 when nothing
could be imported (every row or file failed, or labels.csv itself is unusable); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from c5desk.store import Store
from c5desk.store.coco_import import COCO_FILE, import_coco_folder, is_coco_folder
from c5desk.store.importer import ImportReport, import_frames, import_labelled_folder, is_labelled_folder
from c5desk.store.labelled import LABELS_CSV

MAX_LISTED_FAILURES = 200
KEEP_IDENTITY_WARNING = (
    "warning: --keep-identity: frames keep their burned-in text (names, dates, institution);"
    " this store now holds identifying pixels"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="dataset store folder (created when missing)")
    parser.add_argument(
        "sources",
        nargs="+",
        help="a labelled folder (with labels.csv), a COCO folder (with annotations.json), or files/folders"
        " of frames",
    )
    parser.add_argument(
        "--max-frames",
        type=_positive,
        default=None,
        metavar="N",
        help="take at most the first N frames of each file",
    )
    parser.add_argument(
        "--keep-identity",
        action="store_true",
        help="store the original pixels, burned-in names and dates included (the store is then not"
        " de-identified); by default they are blanked",
    )
    parser.epilog = (
        "Bad rows and files are listed and skipped. Exit status 0 when anything was imported or already "
        "present, 1 when nothing could be imported."
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run(args: argparse.Namespace) -> int:
    labelled, coco, plain = _split_sources(args.sources)
    reports: list[tuple[str, ImportReport]] = []
    identity = {"keep_identity": True} if args.keep_identity else {}  # the importers clean by default
    if args.keep_identity:
        print(KEEP_IDENTITY_WARNING, file=sys.stderr)
    with Store.open(args.store, create=True) as store:
        for folder in labelled:
            report = import_labelled_folder(store, folder, **identity)
            reports.append((f"labelled folder {folder.name}", report))
        for folder in coco:
            reports.append((f"COCO folder {folder.name}", import_coco_folder(store, folder, **identity)))
        if plain:
            reports.append(("frames", import_frames(store, plain, args.max_frames, **identity)))
    for title, report in reports:
        _print_report(title, report)
    return 0 if any(report.succeeded for _, report in reports) else 1


def _split_sources(sources: list[str]) -> tuple[list[Path], list[Path], list[Path]]:
    """(labelled folders, COCO folders, the rest); a folder with both tables is read as labelled."""
    labelled, coco, plain = [], [], []
    for source in map(Path, sources):
        if source.is_file() and source.name.lower() == LABELS_CSV:
            labelled.append(source.parent)
        elif is_labelled_folder(source):
            labelled.append(source)
        elif (source.is_file() and source.name.lower() == COCO_FILE) or is_coco_folder(source):
            coco.append(source.parent if source.is_file() else source)
        else:
            plain.append(source)
    return labelled, coco, plain


def _print_report(title: str, report: ImportReport) -> None:
    print(
        f"{title}: {report.frames_added} frame(s) added, {report.annotations_saved} annotation(s) saved,"
        f" {report.unchanged} already present, {len(report.duplicates)} duplicate row(s),"
        f" {len(report.failures)} failed"
    )
    for duplicate in report.duplicates[:MAX_LISTED_FAILURES]:
        print(f"  DUPLICATE {duplicate.where}: {duplicate.reason}")
    for note in report.notes[:MAX_LISTED_FAILURES]:
        print(f"  NOTE {note.where}: {note.reason}")
    if report.ignored_columns:
        print(f"  ignored columns: {', '.join(report.ignored_columns)}")
    for failure in report.failures[:MAX_LISTED_FAILURES]:
        print(f"  FAILED {failure.where}: {failure.reason}")
    if len(report.failures) > MAX_LISTED_FAILURES:
        print(f"  ... and {len(report.failures) - MAX_LISTED_FAILURES} more failures")
