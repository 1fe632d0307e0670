"""Training data held in memory at model resolution: labelled folders, ISIC 2017 and dataset stores.

Every frame goes through c5desk.inference.preprocess.crop_resize — the very crop and resize the Predictor
applies — so the network trains on what it will see at run time. Augmentation then works on these small
uint8 arrays.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from c5desk.csvcells import plain_cell
from c5desk.errors import C5Error
from c5desk.inference.preprocess import crop_resize, resize_mask
from c5desk.store.labelled import prepare_row, read_table

# Class indices of the two-logit head; other labels (normal, unsure) train the mask only.
CLASS_INDEX = {"benign": 0, "malignant": 1}
IGNORE = -1
US_MEAN, US_STD = 0.326, 0.195  # grey statistics of ultrasound frames (the models' normalisation)
log = logging.getLogger(__name__)


class DataError(C5Error):
    """Training or evaluation data that cannot be used."""


class DataWarning(UserWarning):
    """A value the command does not need (a category, a note) could not be read: it was taken as unknown."""


def warn_unneeded(where: str, problems: Iterable[str]) -> None:
    """Tell (stderr and the log) what of a row was taken as unknown; the row itself is used."""
    for problem in problems:
        log.warning("%s: %s", where, problem)
        warnings.warn(f"{where}: {problem}", DataWarning, stacklevel=3)


@dataclass
class Samples:
    """N frames at model resolution: images (N,S,S) uint8, masks (N,S,S) uint8 0/1, labels (N,), groups."""

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    groups: list[str]
    names: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Sequence[int] | np.ndarray) -> Samples:
        index = np.asarray(index, dtype=np.int64)
        return Samples(
            self.images[index],
            self.masks[index],
            self.labels[index],
            [self.groups[i] for i in index],
            [self.names[i] for i in index],
        )

    @staticmethod
    def concat(parts: Iterable[Samples]) -> Samples:
        parts = [p for p in parts if len(p)]
        if not parts:
            raise DataError("no training frames")
        return Samples(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.masks for p in parts]),
            np.concatenate([p.labels for p in parts]),
            [g for p in parts for g in p.groups],
            [n for p in parts for n in p.names],
        )

    def class_counts(self) -> tuple[int, int]:
        return int((self.labels == 0).sum()), int((self.labels == 1).sum())


def from_arrays(items: list[tuple[np.ndarray, np.ndarray, int, str, str]], size: int) -> Samples:
    """(image S×S uint8, mask S×S, class, group, name) tuples → Samples."""
    if not items:
        return Samples(
            np.zeros((0, size, size), np.uint8),
            np.zeros((0, size, size), np.uint8),
            np.zeros(0, np.int64),
            [],
            [],
        )
    images, masks, labels, groups, names = zip(*items, strict=True)
    return Samples(
        np.stack(images),
        np.stack(masks).astype(np.uint8),
        np.asarray(labels, np.int64),
        list(groups),
        list(names),
    )


def frame_sample(grey: np.ndarray, mask: np.ndarray, region, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A full frame and its full-frame mask → (image, mask) at model resolution via the inference crop."""
    image, geometry = crop_resize(grey, region, size)
    x0, y0, x1, y1 = geometry.box
    small = resize_mask(mask[y0:y1, x0:x1].astype(np.uint8), size)
    return image, (small > 0).astype(np.uint8)


def load_labelled(
    folder: Path, size: int, *, splits: Sequence[str] | None = None, exclude: Sequence[str] = ()
) -> Samples:
    """Rows of a labelled folder (optionally only some `split` values, never the excluded ones).

    A category or note that cannot be read is not needed here: it is taken as unknown, with a warning."""
    table, _ignored = read_table(folder)
    items: list[tuple] = []
    where: dict[str, int] = {}  # image -> its sample's index
    for entry in table:
        row, line, at = entry.values, entry.line, f"{folder.name}/labels.csv line {entry.line}"
        split = row.get("split", "")
        if (splits is not None and split not in splits) or (split and split in exclude):
            continue
        try:
            if entry.problem is not None:
                raise DataError(entry.problem)
            prepared = prepare_row(folder, line, row, strict=False)
        except C5Error as exc:
            raise DataError(f"{at}: {exc}") from exc
        warn_unneeded(at, prepared.warnings)
        image, mask = frame_sample(prepared.frame.grey, prepared.mask, prepared.frame.region, size)
        group = row.get("group") or prepared.case_key or f"row{line}"
        sample = (image, mask, CLASS_INDEX.get(prepared.label, IGNORE), group, row["image"])
        _add_lesion_row(items, where, sample)
    if not items:
        wanted = f" with split in {list(splits)}" if splits is not None else ""
        raise DataError(f"{folder}: no usable rows{wanted}")
    return from_arrays(items, size)


def _add_lesion_row(items: list[tuple], where: dict[str, int], item: tuple) -> None:
    """Rows naming the same image are the lesions of one frame (a labelled folder with a `lesion` column):
    one sample whose mask is their union, malignant when any lesion is (as the store's frame verdict)."""
    name = item[4]
    if name not in where:
        where[name] = len(items)
        items.append(item)
        return
    image, mask, label, group, _name = items[where[name]]
    labels = {label, item[2]} - {IGNORE}
    merged = max(labels) if labels else IGNORE  # malignant (1) over benign (0)
    items[where[name]] = (image, np.maximum(mask, item[1]), merged, group, name)


def load_store(folder: Path, size: int, split: str | None = None) -> Samples:
    """The latest annotations of a c5desk dataset store."""
    from c5desk.store import Store

    items = []
    with Store.open(folder) as store:
        for example in store.training_examples(
            split=split, labels=("benign", "malignant", "normal", "unsure")
        ):
            region = store.frame_record(example.frame_id).region
            image, mask = frame_sample(example.image, example.mask, region, size)
            group = example.group or f"case{example.case_id}"
            items.append(
                (image, mask, CLASS_INDEX.get(example.label, IGNORE), group, f"frame{example.frame_id}")
            )
    return from_arrays(items, size)


def dermoscopy_to_ultrasound_grey(bgr: np.ndarray) -> np.ndarray:
    """Colour dermoscopy → grey with ultrasound-like statistics (mean and spread of a B-mode frame).

    Lesions stay darker than their surroundings, as most breast lesions are hypoechoic."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    spread = max(float(grey.std()), 1.0)
    matched = (grey - grey.mean()) / spread * (US_STD * 255) + US_MEAN * 255
    return np.clip(matched, 0, 255).astype(np.uint8)


def load_isic(root: Path, split: str, size: int, limit: int | None = None) -> Samples:
    """ISIC 2017 (labels.csv: split, image, mask_jpeg, malignant) grey-converted at model resolution."""
    table = root / "labels.csv"
    if not table.is_file():
        raise DataError(f"{root}: no labels.csv (expected the ISIC 2017 folder of ../shared/data)")
    with table.open(newline="", encoding="utf-8") as stream:
        rows = [
            {key: plain_cell(value or "") for key, value in r.items()}
            for r in csv.DictReader(stream)
            if r.get("split") == split
        ]
    if not rows:
        raise DataError(f"{table}: no rows with split={split!r}")
    items = []
    for row in rows[:limit]:
        bgr = cv2.imread(str(root / row["image"]), cv2.IMREAD_COLOR)
        mask = cv2.imread(str(root / row["mask_jpeg"]), cv2.IMREAD_GRAYSCALE)
        if bgr is None or mask is None or bgr.shape[:2] != mask.shape:
            raise DataError(f"ISIC image or mask unreadable or mismatched: {row['image']}")
        image, small = frame_sample(dermoscopy_to_ultrasound_grey(bgr), mask > 127, None, size)
        items.append((image, small, int(row["malignant"]), row["image"], row["image"]))
    return from_arrays(items, size)


def group_split(samples: Samples, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices with no group (patient) on both sides; the validation share ≈ fraction."""
    groups = sorted(set(samples.groups))
    rank = {g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest() for g in groups}
    ordered = sorted(groups, key=rank.__getitem__)
    wanted = max(1, round(fraction * len(samples))) if len(groups) > 1 else 0
    chosen: set[str] = set()
    counts: dict[str, int] = {}
    for g in samples.groups:
        counts[g] = counts.get(g, 0) + 1
    taken = 0
    for g in ordered:
        if taken >= wanted:
            break
        chosen.add(g)
        taken += counts[g]
    in_val = np.array([g in chosen for g in samples.groups])
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)
