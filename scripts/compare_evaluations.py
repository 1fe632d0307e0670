"""Paired comparison of two models evaluated on the same images (the model card's transfer and UNet rows).

    python scripts/compare_evaluations.py A/per_image.csv B/per_image.csv

Reads the per-image CSVs written by `c5desk evaluate --csv` and prints A − B for mean Dice and AUC with 95 %
paired bootstrap intervals (images resampled together for both models, 2000 resamples, seed 0).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from training.metrics import bootstrap_ci, roc_auc


def read(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return {row["image"]: row for row in csv.DictReader(stream)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args()
    a, b = read(args.a), read(args.b)
    images = sorted(set(a) & set(b))
    if len(images) != len(a) or len(images) != len(b):
        raise SystemExit("the two evaluations do not cover the same images")
    dice_a = np.array([float(a[i]["dice"]) for i in images])
    dice_b = np.array([float(b[i]["dice"]) for i in images])
    classified = [i for i in images if a[i]["label"] in ("benign", "malignant")]
    labels = np.array([a[i]["label"] == "malignant" for i in classified], dtype=np.int64)
    p_a = np.array([float(a[i]["p_malignant"]) for i in classified])
    p_b = np.array([float(b[i]["p_malignant"]) for i in classified])
    d_dice = dice_a.mean() - dice_b.mean()
    low, high = bootstrap_ci([dice_a, dice_b], lambda x, y: x.mean() - y.mean())
    print(f"n={len(images)}  ΔDice {d_dice:+.3f} [{low:+.3f}, {high:+.3f}]")
    d_auc = roc_auc(p_a, labels) - roc_auc(p_b, labels)
    low, high = bootstrap_ci([p_a, p_b, labels], lambda x, y, t: roc_auc(x, t) - roc_auc(y, t))
    print(f"n={len(classified)}  ΔAUC {d_auc:+.3f} [{low:+.3f}, {high:+.3f}]")


if __name__ == "__main__":
    main()
