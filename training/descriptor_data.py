"""Expert labels of BrEaST-Lesions_USG for `python -m training descriptors`: the labelled folder's lesions
with their frame, expert mask, calibration and fold, and the experts' terms in c5desk.lesion.lexicon's
vocabulary (margin is "circumscribed" or the dominant listed subtype by MARGIN_PRIORITY)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from c5desk.lesion.lexicon import DESCRIPTORS
from training.data import DataError

MARGIN_PRIORITY = ("spiculated", "angular", "microlobulated", "indistinct")  # most suspicious first
# The experts' spelling where it differs from c5desk.lesion.lexicon's
RENAMED = {
    "complex cystic/solid": "complex cystic and solid",
    "no": "no posterior features",
    "combined": "combined pattern",
}
EXPERT_COLUMN = {
    "shape": "shape",
    "margin": "margin",
    "echo_pattern": "echogenicity",
    "posterior_features": "posterior_features",
}


@dataclass
class Lesion:
    name: str
    split: str
    fold: int
    grey: np.ndarray
    mask: np.ndarray
    mm_per_px: tuple[float, float] | None
    terms: dict[str, str]  # the experts' terms in c5desk's vocabulary (descriptors they gave)
    hand: dict[str, float] = field(default_factory=dict)
    learned: np.ndarray | None = None


def expert_margin(value: str) -> str | None:
    """Our margin term: circumscribed, else the first of MARGIN_PRIORITY that the experts listed."""
    if value == "circumscribed":
        return value
    listed = set(value.removeprefix("not circumscribed - ").split("&"))
    return next((term for term in MARGIN_PRIORITY if term in listed), None)


def expert_terms(row: dict[str, str]) -> dict[str, str]:
    terms = {}
    for name, column in EXPERT_COLUMN.items():
        value = (row.get(column) or "").strip()
        value = expert_margin(value) if name == "margin" else RENAMED.get(value, value)
        if value in DESCRIPTORS[name]:
            terms[name] = value
    return terms


def load_lesions(folder: Path, limit: int | None = None) -> list[Lesion]:
    """Rows with a mask and expert terms (normal frames have neither); `limit` rows per split at most."""
    from c5desk.io import open_source

    table = folder / "labels.csv"
    if not table.is_file():
        raise DataError(f"{folder}: no labels.csv")
    with table.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    lesions: list[Lesion] = []
    for i, row in enumerate(rows):
        terms, split = expert_terms(row), row.get("split", "")
        if not (terms and row.get("mask") and split in ("train", "test")):
            continue
        if limit is not None and sum(lesion.split == split for lesion in lesions) >= limit:
            continue
        grey = open_source(folder / row["image"]).frame(0).grey
        mask = cv2.imread(str(folder / row["mask"]), cv2.IMREAD_GRAYSCALE)
        if mask is None or mask.shape != grey.shape:
            raise DataError(f"{folder.name}: mask {row['mask']} unreadable or not the image's size")
        fold = int(row["fold"]) if (row.get("fold") or "").isdigit() else i % 4 + 1
        lesions.append(Lesion(row["image"], split, fold, grey, mask > 127, _calibration(row), terms))
    if not any(lesion.split == "train" for lesion in lesions) or not any(x.split == "test" for x in lesions):
        raise DataError(f"{table}: needs train and test rows with a mask and BI-RADS lexicon columns")
    return lesions


def _calibration(row: dict[str, str]) -> tuple[float, float] | None:
    x = row.get("mm_per_px_x") or row.get("mm_per_px") or ""
    y = row.get("mm_per_px_y") or row.get("mm_per_px") or ""
    try:
        scale = (float(x), float(y))
    except ValueError:
        return None
    return scale if all(math.isfinite(v) and v > 0 for v in scale) else None
