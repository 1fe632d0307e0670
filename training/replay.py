"""The replay sample: a compact, labelled slice of a model's own training data packaged with its bundle.

Retraining on clinicians' corrections alone makes a network forget what it knew (catastrophic forgetting);
mixing in this sample, and checking the new model on its validation part, guards against that, even at a
site that never had the original dataset. It is written in the labelled-folder format at model resolution.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from c5desk.csvcells import plain_cell, safe_cell
from training.data import Samples, load_labelled

REPLAY_DIR = "replay"
DEVICE = "device"  # optional column: the scanner of each frame, for forgetting reported per scanner
CLASS_NAMES = {0: "benign", 1: "malignant", -1: "unsure"}
README = """# Replay sample of this model's training data

{n_train} training and {n_val} validation frames (patient-disjoint) at model resolution, used by
`c5desk retrain` to keep the model from forgetting its original data while it learns from corrections.
Source: {source}
"""
BUSBRA_CITATION = (
    "BUS-BRA (Gómez-Flores, Gregorio-Calas, Pereira, 'BUS-BRA: A Breast Ultrasound Dataset for Assessing "
    "Computer-aided Diagnosis Systems', Medical Physics, 2023), folds 1-4 only; shared under its licence."
)


def stratified_pick(samples: Samples, count: int, seed: int) -> np.ndarray:
    """About `count` indices with the class mix of `samples`, one per group where possible."""
    rng = np.random.default_rng(seed)
    if count >= len(samples):
        return np.arange(len(samples))
    order = rng.permutation(len(samples))
    seen: set[str] = set()
    first_of_group = [i for i in order if not (samples.groups[i] in seen or seen.add(samples.groups[i]))]
    firsts = set(first_of_group)
    preference = first_of_group + [i for i in order if i not in firsts]
    picked: list[int] = []
    for label in np.unique(samples.labels):
        share = int(count * float((samples.labels == label).mean()))
        picked.extend([i for i in preference if samples.labels[i] == label][:share])
    chosen = set(picked)
    picked.extend([i for i in preference if i not in chosen][: count - len(picked)])  # rounding leftovers
    return np.sort(np.asarray(picked, dtype=np.int64))


def write_replay(
    folder: Path, train: Samples, val: Samples, source: str, devices: Mapping[str, str] | None = None
) -> Path:
    """Write the two parts as folder/replay (labels.csv + images/ + masks/); `devices` maps a frame's name
    to its scanner (a `device` column then lets the retrain gate report forgetting per scanner)."""
    target = folder / REPLAY_DIR
    (target / "images").mkdir(parents=True)
    (target / "masks").mkdir()
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    devices = devices if devices and any(devices.values()) else None  # no column of blanks
    header = ["image", "mask", "label", "split", "group"] + ([DEVICE] if devices else [])
    writer.writerow(header)
    for split, part in (("train", train), ("val", val)):
        for i in range(len(part)):
            name = f"{split}_{i:04d}.png"
            cv2.imwrite(str(target / "images" / name), part.images[i])
            cv2.imwrite(str(target / "masks" / name), part.masks[i] * 255)
            group = "g" + hashlib.sha256(part.groups[i].encode()).hexdigest()[:12]
            label = CLASS_NAMES[int(part.labels[i])]
            label = "normal" if label == "unsure" and not part.masks[i].any() else label  # lesion-free
            cells = [f"images/{name}", f"masks/{name}", label, split, group]
            cells += [devices.get(part.names[i], "")] if devices else []
            writer.writerow([safe_cell(cell) for cell in cells])  # our own names, but every CSV is safe
    (target / "labels.csv").write_text(table.getvalue())
    (target / "README.md").write_text(README.format(n_train=len(train), n_val=len(val), source=source))
    return target


def read_replay(bundle: Path, size: int) -> tuple[Samples, Samples] | None:
    """(train, val) parts of a bundle's replay sample, resized to `size`; None when the bundle has none."""
    folder = bundle / REPLAY_DIR
    if not (folder / "labels.csv").is_file():
        return None
    return load_labelled(folder, size, splits=["train"]), load_labelled(folder, size, splits=["val"])


def replay_devices(bundle: Path) -> list[str] | None:
    """The scanner of each validation frame of the replay sample (read_replay's order); None without one."""
    table = bundle / REPLAY_DIR / "labels.csv"
    if not table.is_file():
        return None
    with table.open(newline="", encoding="utf-8") as stream:
        rows = [row for row in csv.DictReader(stream) if row.get("split") == "val"]
    devices = [plain_cell(row.get(DEVICE) or "") for row in rows]
    return devices if any(devices) else None


def source_devices(folder: Path) -> dict[str, str]:
    """image path → device of a labelled folder's labels.csv (empty when it has no device column)."""
    table = folder / "labels.csv"
    if not table.is_file():
        return {}
    with table.open(newline="", encoding="utf-8") as stream:
        return {row["image"]: plain_cell(row.get(DEVICE) or "") for row in csv.DictReader(stream)}
