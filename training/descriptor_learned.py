"""The learned route's features for `python -m training descriptors`: the shipped bundle's encoder, its two
deepest maps pooled inside the lesion, in a ring around it and in the column below it, as the app's
Predictor caches them for re-scoring."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from c5desk.settings import RESOURCES
from training.descriptor_data import Lesion


def pooled_features(features: Sequence[Any], mask_prob: np.ndarray) -> np.ndarray:
    """The learned route's input: encoder maps (fine to coarse, (V, C, h, w) per scale, V views as the
    Predictor caches them) and the mask at model resolution (V, 1, S, S) in [0, 1] → one vector, the mean
    over views of: deepest map inside the lesion, next map inside, in a ring around it and in the column
    below it. Only the two coarsest maps are read (both engines keep them for re-scoring)."""
    deep, mid = (np.asarray(f.float().cpu() if hasattr(f, "float") else f) for f in features[-1:-3:-1])
    vectors = []
    for view in range(mask_prob.shape[0]):
        inside, ring, below = _regions(np.asarray(mask_prob[view, 0], np.float32))
        parts = [_pool(deep[view], inside)] + [_pool(mid[view], r) for r in (inside, ring, below)]
        vectors.append(np.concatenate(parts))
    return np.mean(vectors, axis=0)


def _regions(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    binary = (mask >= 0.5).astype(np.uint8)
    radius = max(2, round(0.5 * math.sqrt(binary.sum() / math.pi)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    ring = cv2.dilate(binary, kernel) & (1 - binary)
    below = np.zeros_like(binary)
    x, y, w, h = cv2.boundingRect(binary)
    trim = round(0.2 * w)
    below[y + h : y + 2 * h, x + trim : x + w - trim] = 1
    return mask, ring.astype(np.float32), below.astype(np.float32)


def _pool(fmap: np.ndarray, weight: np.ndarray) -> np.ndarray:
    grid = cv2.resize(weight, (fmap.shape[2], fmap.shape[1]), interpolation=cv2.INTER_AREA)
    return (fmap * grid).sum(axis=(1, 2)) / (grid.sum() + 1e-6)


def add_learned_features(lesions: list[Lesion], bundle: Path, device: str = "cpu", batch: int = 8) -> str:
    """Encode every frame and its mirror (as the Predictor does) with the bundle; returns its version."""
    import torch

    from c5desk.inference.contract import with_mirror
    from c5desk.inference.preprocess import InputSpec, mask_to_model
    from c5desk.model.bundle import load_bundle

    model, spec = load_bundle(bundle, device=device)
    spec_input = InputSpec.of(spec)
    for start in range(0, len(lesions), batch):
        chunk = lesions[start : start + batch]
        prepared = [spec_input.model_input(lesion.grey, None) for lesion in chunk]
        images = np.concatenate([with_mirror(tensor[None]) for tensor, _ in prepared])
        with torch.inference_mode():
            features = [f.float().cpu().numpy() for f in model.encode(torch.from_numpy(images).to(device))]
        for i, (lesion, (_, geometry)) in enumerate(zip(chunk, prepared, strict=True)):
            mask = with_mirror(mask_to_model(lesion.mask.astype(np.uint8), geometry)[None, None])
            lesion.learned = pooled_features([f[2 * i : 2 * i + 2] for f in features], mask)
    return str(spec.version)


def default_bundle() -> Path:
    return RESOURCES / "models" / (RESOURCES / "models" / "DEFAULT").read_text(encoding="utf-8").strip()
