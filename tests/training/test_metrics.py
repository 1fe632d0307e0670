"""training.metrics against hand-computed values and brute-force references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training import metrics as M


def _mask(shape: tuple[int, int], *pixels: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for y, x in pixels:
        mask[y, x] = True
    return mask


def _square(shape: tuple[int, int], cy: int, cx: int, half: int) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[cy - half : cy + half + 1, cx - half : cx + half + 1] = True
    return mask


def _brute_hd95(pred: np.ndarray, true: np.ndarray, sx: float = 1.0, sy: float = 1.0) -> float:
    """All pairs of boundary pixels, physical coordinates: the definition, without the separable trick."""
    a = np.argwhere(M.boundary(pred)) * [sy, sx]
    b = np.argwhere(M.boundary(true)) * [sy, sx]
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    return float(max(np.percentile(d.min(1), 95), np.percentile(d.min(0), 95)))


# --- dice / iou ---------------------------------------------------------------------------------------------


def test_dice_and_iou_by_hand() -> None:
    pred = _mask((4, 4), (0, 0), (0, 1), (1, 0), (1, 1))  # 4 px
    true = _mask((4, 4), (0, 1), (1, 0), (1, 1), (2, 1), (2, 2), (3, 3))  # 6 px, 3 shared
    assert M.dice(pred, true) == pytest.approx(2 * 3 / 10)
    assert M.iou(pred, true) == pytest.approx(3 / 7)
    assert M.dice(pred, pred) == 1.0 and M.iou(pred, pred) == 1.0


def test_empty_masks() -> None:
    empty, some = np.zeros((5, 5), bool), _mask((5, 5), (2, 2))
    assert M.dice(empty, empty) == 1.0 and M.iou(empty, empty) == 1.0
    assert M.dice(some, empty) == 0.0 and M.iou(empty, some) == 0.0
    assert M.hd95(empty, empty) == 0.0
    assert math.isnan(M.hd95(some, empty)) and math.isnan(M.hd95(empty, some, (0.1, 0.1)))


def test_mask_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="same shape"):
        M.dice(np.zeros((3, 3), bool), np.zeros((3, 4), bool))


# --- hd95 ---------------------------------------------------------------------------------------------------


def test_boundary_of_a_square_and_at_the_image_edge() -> None:
    assert M.boundary(_square((9, 9), 4, 4, 2)).sum() == 16  # 5x5 square: 25 - 9 interior
    full = np.ones((4, 5), bool)
    assert M.boundary(full).sum() == 4 * 5 - 2 * 3  # the image edge closes the mask


@pytest.mark.parametrize(
    ("other", "scale", "expected"),
    [
        ((5, 9), None, 4.0),  # 4 px to the right
        ((5, 9), (0.5, 2.0), 2.0),  # x spacing 0.5 mm
        ((8, 5), (0.5, 2.0), 6.0),  # 3 px down, y spacing 2 mm
        ((8, 9), None, 5.0),  # 3-4-5
        ((8, 9), (2.0, 1.0), math.sqrt(8**2 + 3**2)),
    ],
)
def test_hd95_single_pixels(other, scale, expected) -> None:
    a, b = _mask((12, 12), (5, 5)), _mask((12, 12), other)
    assert M.hd95(a, b, scale) == pytest.approx(expected)
    assert M.hd95(b, a, scale) == pytest.approx(expected)


def test_hd95_anisotropy_changes_the_nearest_point() -> None:
    a = _mask((10, 10), (2, 2))
    b = _mask((10, 10), (2, 6), (5, 2))  # 4 px right and 3 px down of a
    # px: a->b = [3]; b->a = [4, 3] whose 95th percentile (linear) is 3 + 0.95 * 1
    assert M.hd95(a, b) == pytest.approx(3.95)
    # x 0.5 mm, y 2 mm: now the pixel to the right is nearer; a->b = [2], b->a = [2, 6] -> 2 + 0.95 * 4
    assert M.hd95(a, b, (0.5, 2.0)) == pytest.approx(5.8)


def test_hd95_concentric_squares_by_hand() -> None:
    outer, inner = _square((21, 21), 10, 10, 5), _square((21, 21), 10, 10, 2)
    # inner -> outer: every boundary pixel is 3 px away. outer -> inner (40 px): 20 at 3, 8 at sqrt(10),
    # 8 at sqrt(13) and the 4 corners at sqrt(18): the 95th percentile (index 37.05) lands on a corner
    assert M.hd95(outer, inner) == pytest.approx(math.sqrt(18))
    assert M.hd95(outer, inner, (0.2, 0.2)) == pytest.approx(0.2 * math.sqrt(18))


def test_hd95_ignores_a_single_far_outlier() -> None:
    base = _square((60, 60), 15, 15, 8)  # 17x17 square: 64 boundary pixels
    noisy = base | _mask((60, 60), (55, 55))  # one stray pixel ~57 px away
    assert M.hd95(base, noisy) == 0.0  # 1 of 65 distances is far: below the 95th percentile
    assert _brute_hd95(base, noisy) == 0.0
    shifted = np.roll(base, 3, axis=1)
    assert M.hd95(base, shifted) == pytest.approx(3.0)


@pytest.mark.parametrize("scale", [(1.0, 1.0), (0.3, 0.7), (1.5, 0.25)])
def test_hd95_matches_brute_force_on_random_blobs(scale) -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        pred = rng.random((40, 50)) < 0.04
        true = np.zeros((40, 50), bool)
        y, x = rng.integers(5, 35), rng.integers(5, 45)
        true[y - 4 : y + 5, x - 6 : x + 3] = True
        true |= rng.random((40, 50)) < 0.01
        assert M.hd95(pred, true, scale) == pytest.approx(_brute_hd95(pred, true, *scale))


def test_hd95_rejects_a_bad_scale() -> None:
    a = _mask((5, 5), (1, 1))
    with pytest.raises(ValueError, match="positive"):
        M.hd95(a, a, (0.0, 1.0))


# --- AUC and ROC --------------------------------------------------------------------------------------------


def _brute_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_auc_with_ties_by_hand() -> None:
    scores = np.array([0.1, 0.4, 0.4, 0.8, 0.4])
    labels = np.array([0, 0, 1, 1, 1])
    # positives 0.4, 0.8, 0.4 vs negatives 0.1, 0.4: wins 1 + 0.5, 1 + 1, 1 + 0.5 = 5 of 6 pairs
    assert M.roc_auc(scores, labels) == pytest.approx(5 / 6)


def test_auc_matches_pairwise_count_with_many_ties() -> None:
    rng = np.random.default_rng(3)
    for n in (7, 40, 301):
        labels = rng.integers(0, 2, n)
        labels[:2] = [0, 1]
        scores = rng.integers(0, 5, n) / 4.0 + 0.1 * labels * rng.integers(0, 2, n)
        assert M.roc_auc(scores, labels) == pytest.approx(_brute_auc(scores, labels))


def test_auc_extremes_and_undefined() -> None:
    labels = np.array([0, 0, 1, 1])
    assert M.roc_auc([0.1, 0.2, 0.8, 0.9], labels) == 1.0
    assert M.roc_auc([0.9, 0.8, 0.2, 0.1], labels) == 0.0
    assert M.roc_auc([0.5] * 4, labels) == 0.5
    assert math.isnan(M.roc_auc([0.1, 0.9], [1, 1]))
    with pytest.raises(ValueError, match="labels"):
        M.roc_auc([0.1, 0.9], [0, 2])


def test_roc_curve_area_equals_auc() -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.random(200) * 0.7 + 0.3 * labels, 1)  # rounded: many ties across classes
    fpr, tpr, thresholds = M.roc_curve(scores, labels)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0) and np.all(np.diff(thresholds) < 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(M.roc_auc(scores, labels))


# --- threshold metrics and calibration ----------------------------------------------------------------------


def test_confusion_metrics_by_hand() -> None:
    scores = np.array([0.9, 0.5, 0.2, 0.7, 0.1, 0.6])
    labels = np.array([1, 1, 1, 0, 0, 0])
    # at 0.5 (inclusive): called positive 0.9, 0.5, 0.7, 0.6 -> tp 2, fn 1, fp 2, tn 1
    assert M.confusion(scores, labels, 0.5) == {"tp": 2, "fp": 2, "tn": 1, "fn": 1}
    assert M.accuracy(scores, labels, 0.5) == pytest.approx(3 / 6)
    assert M.sensitivity(scores, labels, 0.5) == pytest.approx(2 / 3)
    assert M.specificity(scores, labels, 0.5) == pytest.approx(1 / 3)
    assert M.sensitivity(scores, labels, 0.8) == pytest.approx(1 / 3)
    assert M.specificity(scores, labels, 0.8) == 1.0
    assert math.isnan(M.sensitivity([0.3], [0])) and math.isnan(M.specificity([0.3], [1]))


def test_calibration_bins_and_ece_by_hand() -> None:
    scores = np.array([0.05, 0.15, 0.95, 0.85, 1.0])
    labels = np.array([0, 1, 1, 0, 1])
    confidence, observed, counts = M.calibration_bins(scores, labels, n_bins=2)
    assert counts.tolist() == [2, 3]  # 1.0 falls in the last bin
    assert confidence == pytest.approx([0.1, (0.95 + 0.85 + 1.0) / 3])
    assert observed == pytest.approx([0.5, 2 / 3])
    expected = (2 * 0.4 + 3 * abs(2.8 / 3 - 2 / 3)) / 5
    assert M.expected_calibration_error(scores, labels, n_bins=2) == pytest.approx(expected)
    assert math.isnan(M.expected_calibration_error([], []))


# --- bootstrap ----------------------------------------------------------------------------------------------


def test_bootstrap_contains_the_estimate_and_narrows_with_n() -> None:
    rng = np.random.default_rng(11)
    small, large = rng.normal(0.8, 0.1, 30), rng.normal(0.8, 0.1, 1000)
    low_s, high_s = M.bootstrap_ci(small, np.mean, n_boot=500, seed=1)
    low_l, high_l = M.bootstrap_ci(large, np.mean, n_boot=500, seed=1)
    assert low_s < small.mean() < high_s and low_l < large.mean() < high_l
    assert (high_l - low_l) < 0.4 * (high_s - low_s)  # width shrinks like 1/sqrt(n)
    # standard error of a mean: a 95 % interval is about 2 x 1.96 sigma / sqrt(n)
    assert high_l - low_l == pytest.approx(2 * 1.96 * large.std() / math.sqrt(1000), rel=0.2)
    assert M.bootstrap_ci(small, np.mean, n_boot=500, seed=1) == (low_s, high_s)  # seeded


def test_bootstrap_resamples_pairs_and_drops_undefined() -> None:
    labels = np.array([0] * 10 + [1] * 10)
    scores = labels * 0.5 + np.linspace(0, 0.4, 20)  # perfectly separated
    low, high = M.bootstrap_ci((scores, labels), M.roc_auc, n_boot=300, seed=0)
    assert (low, high) == (1.0, 1.0)  # pairs stay together (separately resampled, AUC would wander)
    rare = np.array([1] + [0] * 9)
    low, high = M.bootstrap_ci((np.linspace(0, 1, 10), rare), M.roc_auc, n_boot=300, seed=0)
    assert 0.0 <= low <= high <= 1.0  # resamples without the positive (NaN) were dropped
    assert all(math.isnan(v) for v in M.bootstrap_ci((scores[:3], labels[:3]), M.roc_auc, n_boot=50))
    assert all(math.isnan(v) for v in M.bootstrap_ci(np.array([]), np.mean))
    with pytest.raises(ValueError, match="same length"):
        M.bootstrap_ci((scores, labels[:5]), M.roc_auc)


def test_group_bootstrap_with_one_image_per_group_is_the_image_bootstrap() -> None:
    values = np.random.default_rng(5).normal(size=40)
    singletons = [f"patient{i}" for i in range(40)]
    image = M.bootstrap_ci(values, np.mean, n_boot=300, seed=4)
    assert M.bootstrap_ci(values, np.mean, n_boot=300, seed=4, groups=singletons) == image


def test_group_bootstrap_widens_intervals_of_duplicated_patients() -> None:
    """Four identical views per patient: 200 images carry the information of 50, and only resampling the
    patients says so (the image interval is about half as wide)."""
    per_patient = np.random.default_rng(7).normal(0.8, 0.1, 50)
    values, patients = np.repeat(per_patient, 4), np.repeat(np.arange(50), 4)
    low_i, high_i = M.bootstrap_ci(values, np.mean, n_boot=1000, seed=0)
    low_g, high_g = M.bootstrap_ci(values, np.mean, n_boot=1000, seed=0, groups=patients)
    assert low_g < values.mean() < high_g
    assert (high_g - low_g) > 1.6 * (high_i - low_i)
    # the patient interval is the one of the 50 independent patients
    low_p, high_p = M.bootstrap_ci(per_patient, np.mean, n_boot=1000, seed=0)
    assert high_g - low_g == pytest.approx(high_p - low_p, rel=0.15)
    again = M.bootstrap_ci(values, np.mean, n_boot=1000, seed=0, groups=list(patients))
    assert again == (low_g, high_g)  # seeded, and any sequence of hashable labels will do


def test_group_bootstrap_keeps_groups_whole_and_paired() -> None:
    """Every resample holds whole groups, and paired arrays are taken at the same positions."""
    groups = np.array(["b", "a", "b", "c", "a", "b"])
    members = M.cluster_members(groups)
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = M.resample_clusters(members, rng)
        picked = groups[idx]
        for g in set(picked):  # a group drawn k times contributes all its members k times
            assert np.sum(picked == g) % np.sum(groups == g) == 0
    scores, labels = np.arange(6.0), np.array([0, 1, 0, 1, 1, 0])
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def record(s: np.ndarray, y: np.ndarray) -> float:
        seen.append((s, y))
        return 0.0

    M.bootstrap_ci((scores, labels), record, n_boot=20, groups=groups)
    assert all(np.array_equal(y, labels[s.astype(int)]) for s, y in seen)


def test_group_bootstrap_auc_drops_one_class_resamples() -> None:
    """Three patients, one of them malignant: many resamples miss it (AUC undefined) and are dropped."""
    scores, labels = np.array([0.1, 0.2, 0.9, 0.8, 0.3, 0.4]), np.array([0, 0, 1, 1, 0, 0])
    patients = ["p1", "p1", "p2", "p2", "p3", "p3"]
    low, high = M.bootstrap_ci((scores, labels), M.roc_auc, n_boot=200, seed=0, groups=patients)
    assert (low, high) == (1.0, 1.0)
    one_class = M.bootstrap_ci((scores[:2], labels[:2]), M.roc_auc, n_boot=20, groups=patients[:2])
    assert all(math.isnan(v) for v in one_class)
    with pytest.raises(ValueError, match="group labels"):
        M.bootstrap_ci(scores, np.mean, groups=patients[:4])


def test_nanmean_skips_undefined_values() -> None:
    assert M.nanmean(np.array([1.0, np.nan, 3.0])) == 2.0
    assert math.isnan(M.nanmean(np.array([np.nan])))
