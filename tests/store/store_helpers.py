"""Shared builders for the store tests: synthetic frames and masks, small labelled folders."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np

from c5desk.io.frame import Frame, Region


def synthetic_frame(
    seed: int,
    shape: tuple[int, int] = (48, 64),
    rgb: bool = False,
    dtype: type = np.uint8,
    mm_per_px: tuple[float, float] | None = None,
    region: Region | None = None,
) -> Frame:
    """A frame of random pixels with a unique, PHI-free source id."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    pixels = rng.integers(0, top, (*shape, 3) if rgb else shape, dtype=dtype, endpoint=True)
    grey = rng.integers(0, 255, shape, dtype=np.uint8, endpoint=True)
    return Frame(pixels, grey, 0, mm_per_px, region, f"synthetic{seed:08d}", {"format": "synthetic"})


def blob_mask(seed: int, shape: tuple[int, int] = (48, 64), noise: int = 12) -> np.ndarray:
    """A random rectangle plus a few random pixels: every seed gives a different, exact mask."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, bool)
    y0, x0 = rng.integers(0, shape[0] // 2), rng.integers(0, shape[1] // 2)
    mask[y0 : y0 + rng.integers(3, shape[0] // 2), x0 : x0 + rng.integers(3, shape[1] // 2)] = True
    mask[rng.integers(0, shape[0], noise), rng.integers(0, shape[1], noise)] = True
    return mask


def busbra_rows(busbra_root: Path, count: int) -> list[dict[str, str]]:
    with (busbra_root / "labels.csv").open(newline="") as stream:
        return [row for _, row in zip(range(count), csv.DictReader(stream), strict=False)]


def write_labelled_folder(folder: Path, rows: list[dict[str, str]], source_root: Path | None = None) -> Path:
    """labels.csv with `rows`; files named by rows are copied from source_root when given."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with (folder / "labels.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    if source_root is not None:
        for row in rows:
            for key in ("image", "mask"):
                if row.get(key) and (source_root / row[key]).is_file():
                    (folder / row[key]).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source_root / row[key], folder / row[key])
    return folder


def read_grey(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
