"""Augmentation suited to B-mode ultrasound, on uint8 model-resolution arrays.

What varies between scanners and operators: overall gain and contrast (TGC, dynamic range), speckle, a small
probe tilt or zoom, and the left/right orientation of the probe. What must not vary: depth runs downwards, so
there is no vertical flip (shadowing below a lesion is a malignancy cue).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from training.domain_random import DomainRandomConfig, randomise_domain


@dataclass(frozen=True)
class AugmentConfig:
    hflip: float = 0.5
    max_rotate_deg: float = 10.0
    scale_range: tuple[float, float] = (0.9, 1.1)
    max_shift: float = 0.05
    contrast_range: tuple[float, float] = (0.75, 1.3)
    max_brightness: float = 20.0
    gamma_range: tuple[float, float] = (0.8, 1.25)
    speckle_prob: float = 0.5
    max_speckle: float = 0.15
    blur_prob: float = 0.2
    # Scanner/site variation (field of view, TGC, resolution, burned-in overlays); None keeps the old stream.
    domain: DomainRandomConfig | None = None


NO_AUGMENT = AugmentConfig(0.0, 0.0, (1.0, 1.0), 0.0, (1.0, 1.0), 0.0, (1.0, 1.0), 0.0, 0.0, 0.0)


def augment(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """One random view of (image uint8 S×S, mask 0/1 S×S) → (float32 0..255 image, uint8 mask)."""
    image, mask = augment_geometry(image, mask, rng, cfg)
    pixels = augment_intensity(image, rng, cfg)
    if cfg.domain is not None:
        return randomise_domain(pixels, mask, rng, cfg.domain)
    return pixels, mask


def augment_geometry(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Flip, tilt, zoom and shift, applied alike to image and mask."""
    if rng.random() < cfg.hflip:
        image, mask = image[:, ::-1], mask[:, ::-1]
    return _affine(image, mask, rng, cfg)


def _affine(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[np.ndarray, np.ndarray]:
    angle = rng.uniform(-cfg.max_rotate_deg, cfg.max_rotate_deg)
    scale = rng.uniform(*cfg.scale_range)
    if angle == 0.0 and scale == 1.0 and cfg.max_shift == 0.0:
        return np.ascontiguousarray(image), np.ascontiguousarray(mask)
    size = image.shape[0]
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-cfg.max_shift, cfg.max_shift, 2) * size
    # Outside the scan is black in real frames, so fill with black, not a reflection of tissue.
    warped = cv2.warpAffine(np.ascontiguousarray(image), matrix, (size, size), flags=cv2.INTER_LINEAR)
    warped_mask = cv2.warpAffine(np.ascontiguousarray(mask), matrix, (size, size), flags=cv2.INTER_NEAREST)
    return warped, warped_mask


def augment_intensity(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Gain, contrast, gamma, speckle and blur → float32 0..255."""
    pixels = image.astype(np.float32)
    mean = float(pixels.mean())
    pixels = (pixels - mean) * rng.uniform(*cfg.contrast_range) + mean
    pixels += rng.uniform(-cfg.max_brightness, cfg.max_brightness)
    np.clip(pixels, 0, 255, out=pixels)
    gamma = rng.uniform(*cfg.gamma_range)
    if gamma != 1.0:
        pixels = 255.0 * (pixels / 255.0) ** gamma
    if rng.random() < cfg.speckle_prob:
        pixels *= _speckle(pixels.shape, rng, rng.uniform(0, cfg.max_speckle))
    if rng.random() < cfg.blur_prob:
        pixels = cv2.GaussianBlur(pixels, (0, 0), rng.uniform(0.5, 1.0))
    return np.clip(pixels, 0, 255).astype(np.float32)


def _speckle(shape: tuple[int, ...], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Multiplicative noise with a grain of a few pixels, like the speckle of coherent imaging."""
    noise = rng.standard_normal(shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.8)
    noise *= 1.0 / max(float(noise.std()), 1e-6)
    return 1.0 + strength * noise
