"""`c5desk export STORE --format FORMAT --out DIR`: the store's annotations as files others can use.

Formats: masks (PNG), coco (JSON with RLE masks + images, one annotation per lesion), csv (one row per
lesion), labelled-folder (labels.csv + images + masks, one row per lesion; coco and labelled-folder are
re-importable by `c5desk import`), dicom-seg (DICOM SEG, one segment per lesion; de-identified unless
--keep-identity, which needs --dicom-sources pointing at the original DICOM files), report (one HTML page
per case).
DIR must not exist or be an empty folder, in an existing folder; never a symbolic link (the export would
land beside the link's target, not in it); it appears complete or not at all. A bad DIR is reported in one
line before the store is opened. Staging folders that killed exports left beside DIR are removed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from c5desk.store import Store
from c5desk.store.exports import FORMATS, run_export
from c5desk.store.outputs import check_output_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="dataset store folder")
    parser.add_argument("--format", required=True, choices=list(FORMATS), help="what to write")
    parser.add_argument("--out", required=True, help="output folder (new or empty)")
    parser.add_argument(
        "--dicom-sources",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="original DICOM files/folders, matched to frames by salted id (dicom-seg --keep-identity)",
    )
    parser.add_argument(
        "--keep-identity",
        action="store_true",
        help="dicom-seg: reference the original images and copy their patient/study (for PACS); default is "
        "de-identified",
    )


def run(args: argparse.Namespace) -> int:
    check_output_folder(Path(args.out))
    with Store.open(args.store) as store:
        summary = run_export(store, args.format, args.out, args.dicom_sources, args.keep_identity)
    print(
        f"exported {summary.exported} annotated frame(s) as {summary.format} to {summary.out}"
        f" ({summary.files} files)"
    )
    for stem, why in summary.skipped:
        print(f"  skipped {stem}: {why}")
    for note in summary.notes:
        print(f"  note: {note}")
    if summary.exported == 0:
        print("  nothing exported: the store holds no annotation this format can express")
    return 0
