"""Paired comparison of two models evaluated on the same images (the model card's transfer and UNet rows).

    python scripts/compare_evaluations.py A/per_image.csv B/per_image.csv [--data LABELLED_FOLDER]

Reads the per-image CSVs written by `training evaluate --csv` (or `c5desk evaluate --csv`) and prints A − B
for mean Dice and AUC with 95 % paired bootstrap intervals (2000 resamples, seed 0). Paired: every resample
takes the same images for both models. Over PATIENTS: the CSVs hold no patient, so each image is mapped
to its patient through the labelled folder's labels.csv (`group` column, else `patient`; see
training.per_image), and whole patients are resampled — views of one patient are not independent. Only
when labels.csv has neither column are images resampled; the first line printed says which.

`--by device` adds one line per value of that labels.csv column (e.g. each scanner of BUS-BRA): its images'
mean Dice and AUC for A and for B (point estimates; a scanner's few patients make intervals too wide to help).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from c5desk.settings import data_root
from training.data import DataError
from training.metrics import bootstrap_ci, roc_auc
from training.per_image import image_groups, read_per_image

CLASSES = ("benign", "malignant")


def compare(a_csv: Path, b_csv: Path, folder: Path, n_boot: int = 2000, seed: int = 0) -> list[str]:
    """The report's lines: the resampling used, then ΔDice and ΔAUC with their paired intervals."""
    a, b = read_per_image(a_csv), read_per_image(b_csv)
    images = sorted(set(a) & set(b))
    if len(images) != len(a) or len(images) != len(b):
        raise DataError("the two evaluations do not cover the same images")
    groups = image_groups(folder, images)
    group_of = dict(zip(images, groups, strict=True)) if groups else None
    if group_of is None:
        lines = [f"resampling images ({folder}/labels.csv has no group or patient column)"]
    else:
        lines = [f"resampling {len(set(groups))} patients/groups (from {folder}/labels.csv), paired"]
    segmented = [i for i in images if a[i]["dice"] and b[i]["dice"]]
    dice_a, dice_b = (np.array([float(t[i]["dice"]) for i in segmented]) for t in (a, b))
    low, high = bootstrap_ci(
        [dice_a, dice_b], lambda x, y: x.mean() - y.mean(), n_boot, seed, groups=_of(group_of, segmented)
    )
    delta = dice_a.mean() - dice_b.mean() if segmented else float("nan")
    lines.append(f"n={len(segmented)}  ΔDice {delta:+.3f} [{low:+.3f}, {high:+.3f}]")
    classified = [i for i in images if a[i]["label"] in CLASSES]
    labels = np.array([a[i]["label"] == "malignant" for i in classified], dtype=np.int64)
    p_a, p_b = (np.array([float(t[i]["p_malignant"]) for i in classified]) for t in (a, b))
    d_auc = roc_auc(p_a, labels) - roc_auc(p_b, labels)
    low, high = bootstrap_ci(
        [p_a, p_b, labels],
        lambda x, y, t: roc_auc(x, t) - roc_auc(y, t),
        n_boot,
        seed,
        groups=_of(group_of, classified),
    )
    lines.append(f"n={len(classified)}  ΔAUC {d_auc:+.3f} [{low:+.3f}, {high:+.3f}]")
    return lines


def by_column(a_csv: Path, b_csv: Path, folder: Path, column: str) -> list[str]:
    """Per value of labels.csv's `column`: n, Dice A / B and AUC A / B over that value's images."""
    import csv

    a, b = read_per_image(a_csv), read_per_image(b_csv)
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as stream:
        value_of = {
            Path(r["image"]).as_posix(): (r.get(column) or "").strip() for r in csv.DictReader(stream)
        }
    lines = []
    for value in sorted({value_of.get(i, "") for i in a}):
        images = [i for i in a if value_of.get(i, "") == value and i in b]
        dice = [np.mean([float(t[i]["dice"]) for i in images if t[i]["dice"]]) for t in (a, b)]
        classified = [i for i in images if a[i]["label"] in CLASSES]
        labels = np.array([a[i]["label"] == "malignant" for i in classified], dtype=np.int64)
        aucs = [roc_auc(np.array([float(t[i]["p_malignant"]) for i in classified]), labels) for t in (a, b)]
        lines.append(
            f"{column}={value or '?'}  n={len(images)}  Dice {dice[0]:.3f} / {dice[1]:.3f}"
            f"  AUC {aucs[0]:.3f} / {aucs[1]:.3f}"
        )
    return lines


def _of(group_of: dict[str, str] | None, images: list[str]) -> list[str] | None:
    return None if group_of is None else [group_of[i] for i in images]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="per-image CSV of model A")
    parser.add_argument("b", type=Path, help="per-image CSV of model B (same images)")
    parser.add_argument(
        "--data",
        type=Path,
        default=data_root() / "busbra",
        help="the labelled folder both were evaluated on: its labels.csv maps each image to its patient "
        "(group column, else patient) for the paired patient bootstrap "
        "(default: busbra under the data root, $C5DESK_DATA or ../shared/data)",
    )
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--by", help="also report per value of this labels.csv column (e.g. device)")
    args = parser.parse_args(argv)
    try:
        lines = compare(args.a, args.b, args.data, args.bootstrap, args.seed)
        if args.by:
            lines += by_column(args.a, args.b, args.data, args.by)
    except DataError as exc:
        print(f"compare_evaluations: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
