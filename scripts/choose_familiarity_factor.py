"""Where c5desk.inference.familiarity.FACTOR comes from: leave one breast site out of the fit.

    python scripts/choose_familiarity_factor.py BUNDLE [--data ROOT]

For each site of the bundle's finetune (BUS-BRA, BUS-UCLM, BrEaST-Lesions; train split only, the same
patient-disjoint validation part as the finetune): fit the statistics on the OTHER sites' training rows,
take the 99 % quantile of their validation rows' distances, and for each factor print the share of the
left-out site's validation rows that stays in scope — what a breast site the model never saw would get.
The rule: the smallest factor with which every left-out site keeps >= 85 % of its frames in scope. HC18's
test frames (fetal heads) flagged at each factor are printed beside it for information; they take no part
in the rule.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from c5desk.inference.familiarity import QUANTILE, fit
from c5desk.inference.preprocess import crop_resize
from c5desk.model.bundle import load_bundle
from c5desk.settings import data_root
from training.data import Samples, group_split, load_labelled
from training.familiarity_fit import frame_descriptors

SITES = ("busbra", "bus_uclm", "breast_lesions_usg")
FACTORS = (1.0, 1.25, 1.5, 2.0)
KEEP = 0.85


def site_rows(root: Path, size: int) -> tuple[Samples, np.ndarray]:
    parts = []
    for name in SITES:
        part = load_labelled(root / name, size, splits=["train"], exclude=("test",))
        part.groups = [f"{name}:{g}" for g in part.groups]
        parts.append(part)
    rows = Samples.concat(parts)
    return rows, np.array([g.split(":")[0] for g in rows.groups])


def fetal_heads(root: Path, size: int) -> Samples:
    with (root / "hc18" / "labels.csv").open(newline="") as stream:
        names = [r["image"] for r in csv.DictReader(stream) if r["split"] == "test"]
    images = np.stack(
        [crop_resize(cv2.imread(str(root / "hc18" / n), cv2.IMREAD_GRAYSCALE), None, size)[0] for n in names]
    )
    return Samples(images, np.zeros_like(images), np.zeros(len(names), np.int64), names, names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data", type=Path, default=data_root())
    args = parser.parse_args(argv)
    model, spec = load_bundle(args.bundle)
    rows, site = site_rows(args.data, spec.input_size)
    train, val = group_split(rows, 0.15, 0)
    described = frame_descriptors(model, rows)
    heads = frame_descriptors(model, fetal_heads(args.data, spec.input_size))
    kept = {}
    print("| left out | " + " | ".join(f"x{f}: site in scope / HC18 flagged" for f in FACTORS) + " |")
    for left in SITES:
        others_train = train[site[train] != left]
        others_val, own_val = val[site[val] != left], val[site[val] == left]
        familiarity = fit(described[others_train], described[others_val])
        quantile = float(np.quantile(familiarity.distances(described[others_val]), QUANTILE))
        own, far = familiarity.distances(described[own_val]), familiarity.distances(heads)
        cells = []
        for factor in FACTORS:
            kept.setdefault(factor, []).append(float(np.mean(own <= factor * quantile)))
            cells.append(f"{kept[factor][-1]:.2f} / {np.mean(far > factor * quantile):.2f}")
        print(f"| {left} ({len(own_val)} val frames) | " + " | ".join(cells) + " |")
    chosen = next((f for f in FACTORS if min(kept[f]) >= KEEP), None)
    print(f"smallest factor keeping >= {KEEP:.0%} of every left-out site in scope: {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
