"""Add the scanner (`device`) column to an existing bundle's replay sample, from its source folder.

Bundles made before the replay sample carried a device column (the shipped c5net_tiny-busbra-v1) hide their
patients behind salted hashes, so the frames are matched by content instead: each replay image is exactly
the inference crop of one source frame at model resolution. With the column, `retrain` reports forgetting
per scanner.

    python -m training.replay_label BUNDLE SOURCE_FOLDER [--copy-to NEW_BUNDLE_FOLDER]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import shutil
from pathlib import Path

import cv2
import numpy as np

from c5desk.csvcells import safe_cell
from c5desk.fsio import write_text_atomic
from c5desk.model.bundle import read_spec
from training.data import DataError, load_labelled
from training.replay import DEVICE, REPLAY_DIR, source_devices


def content_key(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


def devices_by_content(source: Path, size: int) -> dict[str, str]:
    """Content hash of each non-test frame at model resolution → its device."""
    names = source_devices(source)
    samples = load_labelled(source, size, exclude=("test",))
    return {content_key(samples.images[i]): names.get(samples.names[i], "") for i in range(len(samples))}


def label_replay(bundle: Path, source: Path) -> tuple[int, int]:
    """Rewrite bundle/replay/labels.csv with a device column; (frames matched, frames in the sample)."""
    folder = bundle / REPLAY_DIR
    table = folder / "labels.csv"
    if not table.is_file():
        raise DataError(f"{bundle}: no replay sample")
    known = devices_by_content(source, read_spec(bundle).input_size)
    with table.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    matched = 0
    for row in rows:
        image = cv2.imread(str(folder / row["image"]), cv2.IMREAD_GRAYSCALE)
        row[DEVICE] = known.get(content_key(image), "") if image is not None else ""
        matched += bool(row[DEVICE])
    text = io.StringIO()
    writer = csv.DictWriter(text, [*[c for c in rows[0] if c != DEVICE], DEVICE], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: safe_cell(v) for k, v in row.items()} for row in rows)
    write_text_atomic(table, text.getvalue())
    return matched, len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("source", type=Path, help="the labelled folder the bundle was trained on")
    parser.add_argument("--copy-to", type=Path, help="label a copy here instead of the bundle itself")
    args = parser.parse_args(argv)
    bundle = args.bundle
    if args.copy_to is not None:
        shutil.copytree(bundle, args.copy_to)
        bundle = args.copy_to
    matched, total = label_replay(bundle, args.source)
    print(f"{bundle}: {matched} of {total} replay frames matched to a device")
    return 0 if matched else 1


if __name__ == "__main__":
    raise SystemExit(main())
