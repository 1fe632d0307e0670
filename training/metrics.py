"""Evaluation metrics in plain numpy (+ OpenCV for erosion): no scikit-learn, no scipy.

Conventions (all per image; aggregates are means over images):
- dice (c5desk.lesion.overlap.dice, the app's own), iou: 1.0 when both masks are empty (nothing to find,
  nothing found).
- hd95: 95th-percentile symmetric Hausdorff distance between the two mask boundaries, taken as
  max(P95 of pred→true distances, P95 of true→pred distances) (the MONAI definition). Boundary pixels are
  mask pixels with a 4-neighbour outside the mask (or on the image edge); distances are exact Euclidean
  between pixel centres in mm when `mm_per_px` (x, y) is given — anisotropic pixels are handled exactly —
  else in pixels. 0.0 when both masks are empty; NaN when exactly one is empty (the distance is undefined).
  Aggregates EXCLUDE NaN values (nanmean) and report how many images were left out.
- roc_auc: Mann-Whitney U / (n_pos * n_neg) with mid-ranks, i.e. a tie between a positive and a negative
  counts one half. NaN when either class is absent.
- accuracy / sensitivity / specificity: a score >= threshold is called positive (malignant), the same rule
  the app uses for its label. NaN when the denominator is zero (e.g. sensitivity without positives).
- bootstrap_ci: percentile interval over resampled GROUPS (patients) when a group label per image is given,
  else over resampled images. Images of one patient (left/right breast, repeated views) are not independent;
  resampling them one by one treats them as if they were and gives intervals that are too narrow. Paired
  arrays are resampled together (AUC keeps each score with its label; two models keep the same patients);
  resamples where the statistic is undefined (NaN, e.g. AUC with one class) are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from c5desk.lesion.overlap import dice as dice  # the one Dice, re-exported with the other metrics

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_CHUNK = 1 << 22  # distance-matrix elements per chunk (32 MiB of float64)


def iou(pred: np.ndarray, true: np.ndarray) -> float:
    pred, true = _pair(pred, true)
    union = int(np.logical_or(pred, true).sum())
    return 1.0 if union == 0 else int(np.logical_and(pred, true).sum()) / union


def boundary(mask: np.ndarray) -> np.ndarray:
    """Mask pixels with at least one 4-neighbour outside the mask; pixels on the image edge count."""
    mask = np.asarray(mask, dtype=bool)
    eroded = cv2.erode(mask.astype(np.uint8), _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return mask & ~eroded.astype(bool)


def hd95(pred: np.ndarray, true: np.ndarray, mm_per_px: tuple[float, float] | None = None) -> float:
    """95th-percentile symmetric Hausdorff distance (see the module docstring); mm if calibrated else px."""
    pred, true = _pair(pred, true)
    has_pred, has_true = bool(pred.any()), bool(true.any())
    if not has_pred and not has_true:
        return 0.0
    if has_pred != has_true:
        return float("nan")
    sx, sy = (1.0, 1.0) if mm_per_px is None else (float(mm_per_px[0]), float(mm_per_px[1]))
    if not (sx > 0 and sy > 0 and np.isfinite(sx) and np.isfinite(sy)):
        raise ValueError(f"mm_per_px must be two positive numbers, got {mm_per_px!r}")
    edge_pred, edge_true = boundary(pred), boundary(true)
    forward = directed_distances(edge_pred, edge_true, sx, sy)
    backward = directed_distances(edge_true, edge_pred, sx, sy)
    return float(max(np.percentile(forward, 95), np.percentile(backward, 95)))


def directed_distances(
    source: np.ndarray, target: np.ndarray, sx: float = 1.0, sy: float = 1.0
) -> np.ndarray:
    """For every True pixel of `source`, the exact Euclidean distance to the nearest True pixel of `target`.

    Separable: first the vertical pixel gap to the nearest target pixel in every column (two cumulative
    scans), then for each source point the minimum over target columns of (sx*dx)^2 + (sy*gap)^2. Exact for
    any pixel spacing, and O(points x target columns) rather than O(points x target points).
    """
    rows = np.arange(source.shape[0], dtype=np.float64)[:, None]
    above = np.maximum.accumulate(np.where(target, rows, -np.inf), axis=0)
    below = np.minimum.accumulate(np.where(target, rows, np.inf)[::-1], axis=0)[::-1]
    columns = np.flatnonzero(target.any(axis=0))
    gap = np.minimum(rows - above, below - rows)[:, columns] * sy  # (H, k) vertical distance in units
    ys, xs = np.nonzero(source)
    out = np.empty(len(ys), dtype=np.float64)
    step = max(1, _CHUNK // max(len(columns), 1))
    for start in range(0, len(ys), step):
        y, x = ys[start : start + step], xs[start : start + step]
        dx = (x[:, None] - columns[None, :]) * sx
        out[start : start + step] = np.sqrt(np.min(dx * dx + gap[y] ** 2, axis=1))
    return out


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve by mid-ranks (Mann-Whitney); NaN when one class is absent."""
    scores, labels = _scored(scores, labels)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = midranks(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of the ranks they span."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)  # the last (1-based) rank of each distinct value
    return (ends - (counts - 1) / 2.0)[inverse.reshape(-1)]


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) from (0, 0) to (1, 1), one point per distinct score (high to low).

    A tie between classes becomes one diagonal step, so the trapezoid area equals roc_auc.
    """
    scores, labels = _scored(scores, labels)
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # last index of each distinct score
    tp = np.cumsum(labels)[last]
    fp = (last + 1) - tp
    n_pos, n_neg = max(int(labels.sum()), 1), max(len(labels) - int(labels.sum()), 1)
    fpr = np.r_[0.0, fp / n_neg]
    tpr = np.r_[0.0, tp / n_pos]
    return fpr, tpr, np.r_[np.inf, scores[last]]


def confusion(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, int]:
    scores, labels = _scored(scores, labels)
    called = scores >= threshold
    return {
        "tp": int(np.sum(called & labels)),
        "fp": int(np.sum(called & ~labels)),
        "tn": int(np.sum(~called & ~labels)),
        "fn": int(np.sum(~called & labels)),
    }


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    c = confusion(scores, labels, threshold)
    return _ratio(c["tp"] + c["tn"], sum(c.values()))


def sensitivity(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    c = confusion(scores, labels, threshold)
    return _ratio(c["tp"], c["tp"] + c["fn"])


def specificity(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    c = confusion(scores, labels, threshold)
    return _ratio(c["tn"], c["tn"] + c["fp"])


def calibration_bins(
    scores: np.ndarray, labels: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-width bins over [0, 1]: (mean score, fraction positive, count) per bin; NaN for empty bins."""
    scores, labels = _scored(scores, labels)
    which = np.clip((scores * n_bins).astype(int), 0, n_bins - 1)  # 1.0 falls in the last bin
    counts = np.bincount(which, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, weights=scores, minlength=n_bins) / counts
        observed = np.bincount(which, weights=labels.astype(np.float64), minlength=n_bins) / counts
    return confidence, observed, counts.astype(int)


def expected_calibration_error(scores: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> float:
    """Sum over bins of (bin share of samples) x |mean score - fraction positive|; NaN without samples."""
    confidence, observed, counts = calibration_bins(scores, labels, n_bins)
    if counts.sum() == 0:
        return float("nan")
    used = counts > 0
    return float(np.sum(counts[used] * np.abs(confidence[used] - observed[used])) / counts.sum())


def bootstrap_ci(
    data: np.ndarray | Sequence[np.ndarray],
    statistic: Callable[..., float],
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    groups: Sequence[object] | np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of statistic(*arrays), resampling groups (else samples) with replacement.

    `data` is one per-sample array or a sequence of equal-length arrays resampled with the same indices
    (e.g. (scores, labels) for AUC, or two models' values for a paired difference). With `groups` (one
    label per sample, e.g. the patient) whole groups are drawn and all their samples taken: the cluster
    bootstrap, for samples that are not independent. Without, every sample is its own group (the image
    bootstrap; the same draws as before groups existed). Resamples where the statistic is NaN (e.g. AUC of
    a resample with one class) are dropped; (nan, nan) when there are no samples or none is defined.
    """
    arrays = [np.asarray(data)] if isinstance(data, np.ndarray) else [np.asarray(a) for a in data]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("bootstrap_ci: all arrays must have the same length")
    members = cluster_members(n if groups is None else groups)
    if len(members[1]) != n:
        raise ValueError(f"bootstrap_ci: {len(members[1])} group labels for {n} samples")
    if n == 0 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot, dtype=np.float64)
    for b in range(n_boot):  # one resample at a time: memory stays O(n) for any n_boot
        idx = resample_clusters(members, rng)
        values[b] = statistic(*(a[idx] for a in arrays))
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def cluster_members(groups: int | Sequence[object] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first position of each group, sample order by group): groups numbered by first appearance.

    An int n means n samples, each its own group. Numbering by first appearance (not sorted) makes
    singleton groups draw exactly what the image bootstrap draws for the same seed.
    """
    if isinstance(groups, (int, np.integer)):
        return np.arange(int(groups) + 1), np.arange(int(groups))
    labels = list(groups)
    code_of: dict[object, int] = {}
    codes = np.array([code_of.setdefault(g, len(code_of)) for g in labels], dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(code_of)))]
    return starts, order


def resample_clusters(members: tuple[np.ndarray, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Sample indices of one cluster-bootstrap resample: all groups' count drawn with replacement."""
    starts, order = members
    n_groups = len(starts) - 1
    chosen = rng.integers(0, n_groups, n_groups)
    sizes = starts[chosen + 1] - starts[chosen]
    offsets = np.repeat(starts[chosen] - (np.cumsum(sizes) - sizes), sizes)
    return order[offsets + np.arange(int(sizes.sum()))]


def nanmean(values: np.ndarray) -> float:
    """Mean of the finite values; NaN (not a warning) when there are none."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, true = np.asarray(pred, dtype=bool), np.asarray(true, dtype=bool)
    if pred.shape != true.shape or pred.ndim != 2:
        raise ValueError(f"masks must be 2-D and of the same shape, got {pred.shape} and {true.shape}")
    return pred, true


def _scored(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if scores.shape != labels.shape:
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite numbers")
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError("labels must be 0 (benign) or 1 (malignant)")
    return scores, labels.astype(bool)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")
