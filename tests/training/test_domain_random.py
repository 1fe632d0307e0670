"""Domain randomisation: shapes and ranges kept, masks binary and untouched by overlays, reproducible."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.augment import AugmentConfig, augment, augment_geometry, augment_intensity
from training.domain_random import DomainRandomConfig, draw_overlays, randomise_domain

OFF = DomainRandomConfig(fov_prob=0.0, tgc_prob=0.0, resolution_prob=0.0, overlay_prob=0.0)
ALL_ON = DomainRandomConfig(fov_prob=1.0, tgc_prob=1.0, band_prob=1.0, resolution_prob=1.0, overlay_prob=1.0)


def _scan(size: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured frame with one dark oval lesion in the middle."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(60, 200, (size, size)).astype(np.float32)
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, (size // 2, size // 2), (size // 5, size // 8), 0, 0, 360, 1, -1)
    image[mask == 1] = 30.0
    return image, mask


def test_shapes_dtypes_and_ranges_are_kept() -> None:
    image, mask = _scan()
    rng = np.random.default_rng(0)
    for cfg in (DomainRandomConfig(), ALL_ON):
        for _ in range(50):
            pixels, out_mask = randomise_domain(image, mask, rng, cfg)
            assert pixels.shape == image.shape and pixels.dtype == np.float32
            assert out_mask.shape == mask.shape and out_mask.dtype == np.uint8
            assert np.isfinite(pixels).all() and pixels.min() >= 0 and pixels.max() <= 255
            assert set(np.unique(out_mask)) <= {0, 1}


def test_input_arrays_are_not_modified() -> None:
    image, mask = _scan()
    before, before_mask = image.copy(), mask.copy()
    randomise_domain(image, mask, np.random.default_rng(3), ALL_ON)
    assert np.array_equal(image, before) and np.array_equal(mask, before_mask)


def test_zoom_out_shrinks_the_lesion_inside_the_frame() -> None:
    image, mask = _scan()
    cfg = replace(OFF, fov_prob=1.0)
    for seed in range(20):
        pixels, out_mask = randomise_domain(image, mask, np.random.default_rng(seed), cfg)
        assert 0 < out_mask.sum() < mask.sum()
        # At most 0.9 of the side, so a black margin of at least a tenth remains along each axis.
        scan_rows = np.flatnonzero(pixels.any(axis=1))
        scan_cols = np.flatnonzero(pixels.any(axis=0))
        assert scan_rows.size <= round(0.9 * image.shape[0]) and scan_cols.size <= round(0.9 * image.shape[1])
        assert out_mask[pixels == 0].sum() == 0


def test_overlays_never_change_the_mask_but_do_draw() -> None:
    image, mask = _scan()
    cfg = replace(OFF, overlay_prob=1.0, overlay_items_range=(3, 6))
    changed = 0
    for seed in range(30):
        pixels, out_mask = randomise_domain(image, mask, np.random.default_rng(seed), cfg)
        assert np.array_equal(out_mask, mask)
        changed += int(not np.array_equal(pixels, image))
    assert changed == 30


def test_calipers_land_on_the_lesion_boundary() -> None:
    image = np.zeros((96, 96), np.float32)
    _, mask = _scan()
    cfg = replace(OFF, overlay_prob=1.0)
    near_lesion = 0
    for seed in range(40):
        canvas = image.copy()
        draw_overlays(canvas, mask, np.random.default_rng(seed), cfg)
        near = cv2.dilate(mask, np.ones((5, 5), np.uint8)) - cv2.erode(mask, np.ones((5, 5), np.uint8))
        near_lesion += int((canvas[near == 1] > 0).any())
    assert near_lesion > 0


def test_same_seed_same_output_different_seed_different() -> None:
    image, mask = _scan()
    first = randomise_domain(image, mask, np.random.default_rng(7), ALL_ON)
    second = randomise_domain(image, mask, np.random.default_rng(7), ALL_ON)
    other = randomise_domain(image, mask, np.random.default_rng(8), ALL_ON)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


def test_all_off_is_the_identity() -> None:
    image, mask = _scan()
    pixels, out_mask = randomise_domain(image, mask, np.random.default_rng(0), OFF)
    assert np.array_equal(pixels, image) and np.array_equal(out_mask, mask)


def test_tgc_changes_row_means_not_shape() -> None:
    image = np.full((64, 64), 100.0, np.float32)
    mask = np.zeros((64, 64), np.uint8)
    pixels, out_mask = randomise_domain(image, mask, np.random.default_rng(1), replace(OFF, tgc_prob=1.0))
    assert pixels.shape == image.shape and np.array_equal(out_mask, mask)
    rows = pixels.mean(axis=1)
    assert rows.max() - rows.min() > 1.0
    assert np.allclose(pixels, rows[:, None])  # a gain per row: each row stays uniform


def test_augment_without_domain_is_unchanged() -> None:
    image = np.random.default_rng(1).integers(0, 255, (48, 48)).astype(np.uint8)
    mask = (image > 128).astype(np.uint8)
    cfg = AugmentConfig()
    for seed in range(10):
        got, got_mask = augment(image, mask, np.random.default_rng(seed), cfg)
        rng = np.random.default_rng(seed)
        moved, moved_mask = augment_geometry(image, mask, rng, cfg)
        assert np.array_equal(got, augment_intensity(moved, rng, cfg))
        assert np.array_equal(got_mask, moved_mask)


def test_augment_with_domain_applies_it_after_intensity() -> None:
    image, mask = _scan()
    image = image.astype(np.uint8)
    cfg = AugmentConfig(domain=ALL_ON)
    got, got_mask = augment(image, mask, np.random.default_rng(4), cfg)
    rng = np.random.default_rng(4)
    moved, moved_mask = augment_geometry(image, mask, rng, cfg)
    want, want_mask = randomise_domain(augment_intensity(moved, rng, cfg), moved_mask, rng, ALL_ON)
    assert np.array_equal(got, want) and np.array_equal(got_mask, want_mask)


def test_config_is_json_friendly() -> None:
    for cfg in (AugmentConfig(), AugmentConfig(domain=DomainRandomConfig())):
        loaded = json.loads(json.dumps(asdict(cfg)))
        want = None if cfg.domain is None else json.loads(json.dumps(asdict(cfg.domain)))
        assert loaded["domain"] == want


def test_real_busbra_frame_survives_many_draws(busbra_root: Path) -> None:
    with (busbra_root / "labels.csv").open(newline="") as handle:
        row = next(csv.DictReader(handle))
    grey = cv2.imread(str(busbra_root / row["image"]), cv2.IMREAD_GRAYSCALE)
    lesion = cv2.imread(str(busbra_root / row["mask"]), cv2.IMREAD_GRAYSCALE)
    if grey is None or lesion is None:
        pytest.skip(f"could not read {row['image']} / {row['mask']} under {busbra_root}")
    image = cv2.resize(grey, (192, 192), interpolation=cv2.INTER_AREA).astype(np.float32)
    mask = (cv2.resize(lesion, (192, 192), interpolation=cv2.INTER_NEAREST) > 127).astype(np.uint8)
    for seed in range(20):
        pixels, out_mask = randomise_domain(image, mask, np.random.default_rng(seed), ALL_ON)
        assert pixels.shape == (192, 192) and pixels.dtype == np.float32 and np.isfinite(pixels).all()
        assert pixels.min() >= 0 and pixels.max() <= 255
        assert set(np.unique(out_mask)) <= {0, 1} and 0 < out_mask.sum() < mask.sum()
