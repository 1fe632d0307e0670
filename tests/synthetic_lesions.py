"""Synthetic labelled frames for training tests: speckled 'B-mode' images with dark lesions, and helpers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np

FAST = ["--size", "64", "--batch-size", "4", "--threads", "1", "--progress", "json"]


def lesion_frame(rng: np.random.Generator, malignant: bool) -> tuple[np.ndarray, np.ndarray]:
    """A speckled 96×128 'B-mode' frame with a dark lesion (irregular when malignant) and its mask."""
    image = np.clip(rng.normal(120, 30, (96, 128)), 0, 255).astype(np.uint8)
    mask = np.zeros((96, 128), np.uint8)
    centre = (int(rng.integers(40, 88)), int(rng.integers(30, 60)))
    axes = (int(rng.integers(12, 22)), int(rng.integers(8, 16)))
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    if malignant:
        for _ in range(4):
            spike = (centre[0] + int(rng.integers(-20, 20)), centre[1] + int(rng.integers(-14, 14)))
            cv2.line(mask, centre, spike, 1, 3)
    image[mask > 0] = (image[mask > 0] * 0.3).astype(np.uint8)
    return image, mask


def write_folder(folder: Path, count: int, seed: int, split: str = "train") -> Path:
    rng = np.random.default_rng(seed)
    (folder / "img").mkdir(parents=True)
    rows = []
    for i in range(count):
        malignant = i % 2 == 1
        image, mask = lesion_frame(rng, malignant)
        cv2.imwrite(str(folder / "img" / f"f{i}.png"), image)
        cv2.imwrite(str(folder / "img" / f"m{i}.png"), mask * 255)
        label = "malignant" if malignant else "benign"
        rows.append([f"img/f{i}.png", f"img/m{i}.png", label, f"p{i // 2}", split])
    with (folder / "labels.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows([["image", "mask", "label", "patient", "split"], *rows])
    return folder


def json_events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
