"""c5desk.lesion.overlap: the one Dice used by evaluation, validation, flip-TTA uncertainty and the store."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from c5desk.lesion.overlap import dice, dice_per_image


def _square(top: int, left: int, size: int, shape: tuple[int, int] = (20, 24)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_two_empty_masks_agree() -> None:
    empty = np.zeros((8, 9), bool)
    assert dice(empty, empty) == 1.0
    assert dice(empty, _square(1, 1, 3, (8, 9))) == 0.0


def test_disjoint_identical_and_partial_overlap() -> None:
    a, b = _square(0, 0, 4), _square(10, 10, 4)
    assert dice(a, b) == 0.0
    assert dice(a, a) == 1.0
    shifted = _square(0, 2, 4)  # 8 of 16 pixels shared
    assert dice(a, shifted) == pytest.approx(2 * 8 / 32)
    assert dice(a, shifted) == dice(shifted, a)


def test_nonzero_values_count_as_inside_and_large_masks_do_not_overflow() -> None:
    a = _square(0, 0, 4).astype(np.uint8) * 255
    assert dice(a, _square(0, 0, 4)) == 1.0
    big = np.ones((3000, 3000), np.uint8)  # 9e6 pixels: uint8 sums would wrap
    assert dice(big, big) == 1.0


def test_batched_equals_per_image() -> None:
    rng = np.random.default_rng(3)
    pred = rng.random((7, 16, 18)) > 0.6
    truth = rng.random((7, 16, 18)) > 0.5
    pred[2] = truth[2] = False  # both empty
    pred[3] = False  # one empty
    truth[4] = pred[4]  # identical
    batched = dice_per_image(pred, truth)
    assert batched.shape == (7,) and batched.dtype == np.float64
    assert batched.tolist() == pytest.approx([dice(p, t) for p, t in zip(pred, truth, strict=True)])
    assert batched[2] == 1.0 and batched[3] == 0.0 and batched[4] == 1.0
    assert dice_per_image(np.zeros((0, 4, 4), bool), np.zeros((0, 4, 4), bool)).shape == (0,)


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="same shape"):
        dice(np.zeros((3, 3), bool), np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="3-D"):
        dice_per_image(np.zeros((3, 3), bool), np.zeros((3, 3), bool))


def test_the_callers_share_it() -> None:
    """Evaluation, training validation, inference and the store all use this one function."""
    from c5desk.inference.contract import combine_views
    from c5desk.store.active import correction
    from training import metrics, validate

    assert metrics.dice is dice and validate.dice_per_image is dice_per_image
    a, b = _square(0, 0, 4), _square(0, 2, 4)
    assert correction(a, "benign", b, "benign")[0] == pytest.approx(1 - dice(a, b))
    seg = np.stack([a, b[:, ::-1]]).astype(np.float32)  # the view, then the mirrored view as run
    _, _, _, seg_unc = combine_views(seg, np.array([0.2, 0.4]), 1, tta=True)
    assert seg_unc.tolist() == pytest.approx([1 - dice(a, b)])


def test_imports_numpy_only() -> None:
    code = "import sys, c5desk.lesion.overlap; print(sorted({'torch', 'cv2'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
