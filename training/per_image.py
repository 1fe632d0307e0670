"""Per-image evaluation CSVs read back, with each image's patient (group) from its labelled folder.

`training evaluate --csv` writes one line per image but never the patient: labels.csv's patient values are
identifiers, so they stay in the dataset. What needs them afterwards — paired comparisons of two models
(scripts/compare_evaluations.py) and intervals recomputed from a CSV when the model's weights are no longer
at hand (the model card's comparison rows) — maps image → group through the folder's labels.csv here, with
the same rule as training.evaluate and training.data: the `group` column, else the `patient` column, else
the image is its own group.

    python -m training.per_image PER_IMAGE.csv --data FOLDER [--json OUT]   # a summary from the CSV
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

from c5desk.csvcells import plain_cell
from c5desk.fsio import write_text_atomic
from c5desk.settings import data_root
from c5desk.store.labelled import LABELS_CSV, read_table
from training.data import DataError
from training.evaluate import ImageResult, json_safe, summarise


def read_per_image(path: Path) -> dict[str, dict[str, str]]:
    """image → row of a per-image CSV; DataError when it is unreadable or names an image twice."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as stream:
            rows = [{k: plain_cell(v or "") for k, v in row.items()} for row in csv.DictReader(stream)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from exc
    table = {row.get("image", ""): row for row in rows}
    if "" in table or len(table) != len(rows):
        raise DataError(f"{path}: every line needs an image, each image once")
    return table


def image_groups(folder: Path, images: list[str]) -> list[str] | None:
    """The group of each image from FOLDER/labels.csv (group, else patient; else the image itself).

    None when the table has no group or patient values at all (resample images); DataError when
    labels.csv is missing or lacks one of the images.
    """
    if not (Path(folder) / LABELS_CSV).is_file():
        raise DataError(f"{folder}: no {LABELS_CSV} to map images to patients (give the labelled folder)")
    table, _ignored = read_table(Path(folder))
    group_of = {Path(r.values["image"]).as_posix(): _group(r.values) for r in table if r.problem is None}
    missing = [image for image in images if image not in group_of]
    if missing:
        raise DataError(f"{folder / LABELS_CSV} lacks {len(missing)} image(s), e.g. {missing[0]}")
    if not any(group_of[image] for image in images):
        return None
    return [group_of[image] or f"image:{image}" for image in images]


def results_from_csv(path: Path, folder: Path, units: str = "px") -> list[ImageResult]:
    """ImageResults rebuilt from a per-image CSV (hd95 in `units`), grouped by the folder's labels.csv."""
    rows = read_per_image(path)
    images = list(rows)
    groups = image_groups(folder, images) or [None] * len(images)
    results = []
    for image, group in zip(images, groups, strict=True):
        row = rows[image]
        hd95 = _number(row["hd95"])
        results.append(
            ImageResult(
                image=image,
                label=row["label"],
                p_malignant=float(row["p_malignant"]),
                uncertainty=_number(row.get("uncertainty", "")),
                segmented=row["dice"] != "",
                calibrated=units == "mm",
                group=group,
                dice=_number(row["dice"]),
                iou=_number(row["iou"]),
                hd95_px=hd95,
                hd95_mm=hd95,
                p_lesion=_number(row.get("p_lesion", "")),
            )
        )
    return results


def summary_from_csv(
    path: Path, folder: Path, *, units: str = "px", threshold: float = 0.5, n_boot: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """training.evaluate's summary (points and intervals) from a per-image CSV instead of the model."""
    results = results_from_csv(path, folder, units)
    summary = summarise(results, threshold=threshold, n_boot=n_boot, seed=seed)
    summary.update(threshold=threshold, n_boot=n_boot)
    return json_safe(summary)


def _group(row: dict[str, str]) -> str | None:
    if row.get("group"):
        return f"group:{row['group']}"
    return f"patient:{row['patient']}" if row.get("patient") else None


def _number(text: str) -> float:
    return float(text) if text else math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="per-image CSV written by `training evaluate --csv`")
    parser.add_argument(
        "--data", type=Path, default=data_root() / "busbra", help="labelled folder (labels.csv)"
    )
    parser.add_argument("--units", choices=("px", "mm"), default="px", help="units of the CSV's hd95")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--json", type=Path, help="write the summary here (default: print it)")
    args = parser.parse_args(argv)
    summary = summary_from_csv(args.csv, args.data, units=args.units, n_boot=args.bootstrap)
    text = json.dumps(summary, indent=2, allow_nan=False) + "\n"
    if args.json is None:
        print(text, end="")
    else:
        write_text_atomic(args.json, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
