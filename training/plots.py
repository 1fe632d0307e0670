"""ROC curve and reliability (calibration) diagram as PNGs, drawn with matplotlib.

Both plots share one square [0, 1] x [0, 1] frame with a grid, labelled axes, a dashed diagonal (chance for
ROC, perfect calibration for reliability) and the headline number (AUC, ECE) in the legend, so a PNG pasted
into a report stands on its own.

matplotlib is a training-time dependency only (the lean app bundle leaves it out), so it is imported inside
the functions, never at module level. No display is ever touched: the figure is a plain
matplotlib.figure.Figure on an explicit Agg canvas (the non-interactive raster backend), and pyplot, with
its process-wide backend and figure registry, is never imported — plotting from a worker thread or next to
a Qt GUI cannot open a window or switch anyone's backend. Files are written atomically (c5desk.fsio).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from c5desk.fsio import atomic_path
from training.metrics import calibration_bins, expected_calibration_error, roc_auc, roc_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INCHES, DPI = 6.4, 100  # a 640 x 640 pixel PNG
CURVE, BAR, DIAGONAL = "#1f5fa8", "#a9c8ec", "#808080"


def plot_roc(path: Path, scores: np.ndarray, labels: np.ndarray, *, title: str = "ROC curve") -> Path:
    """ROC of P(malignant) against labels (1 = malignant) with the AUC in the legend."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=int)
    figure, axes = _frame(title, "False positive rate (1 − specificity)", "True positive rate (sensitivity)")
    n_pos, n_neg = int(labels.sum()), int(len(labels) - labels.sum())
    auc = roc_auc(scores, labels) if len(labels) else float("nan")
    counts = f"n = {len(labels)} ({n_pos} malignant, {n_neg} benign)"
    if np.isfinite(auc):
        fpr, tpr, _ = roc_curve(scores, labels)
        axes.plot(fpr, tpr, color=CURVE, linewidth=2, label=f"AUC = {auc:.3f}; {counts}")
    else:
        axes.plot([], [], color=CURVE, label=f"AUC undefined: needs both classes; {counts}")
    axes.plot([0, 1], [0, 1], linestyle="--", color=DIAGONAL, linewidth=1, label="chance")
    axes.legend(loc="lower right", fontsize=9)
    return _save(figure, Path(path))


def plot_reliability(
    path: Path, scores: np.ndarray, labels: np.ndarray, *, n_bins: int = 10, title: str = "Reliability"
) -> Path:
    """Fraction malignant per equal-width score bin (bars, with counts) against the diagonal, with the ECE."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=int)
    figure, axes = _frame(title, "Predicted P(malignant)", "Observed fraction malignant")
    confidence, observed, counts = calibration_bins(scores, labels, n_bins)
    used = np.flatnonzero(counts)
    ece = expected_calibration_error(scores, labels, n_bins) if len(labels) else float("nan")
    headline = f"ECE = {ece:.3f}" if np.isfinite(ece) else "ECE undefined: no samples"
    lefts = used / n_bins
    label = f"{headline}; {n_bins} bins, n = {len(labels)} (frames per bin at the foot)"
    bars = axes.bar(
        lefts, observed[used], width=1 / n_bins, align="edge", color=BAR, edgecolor=CURVE, label=label
    )
    (dots,) = axes.plot(
        confidence[used], observed[used], "o", color="black", markersize=4, label="mean score"
    )
    for left, count in zip(lefts, counts[used], strict=True):
        axes.annotate(str(count), (left + 0.5 / n_bins, 0.01), ha="center", fontsize=7, color=DIAGONAL)
    (diagonal,) = axes.plot(
        [0, 1], [0, 1], linestyle="--", color=DIAGONAL, linewidth=1, label="perfect calibration"
    )
    axes.legend(handles=[bars, dots, diagonal], loc="upper left", fontsize=9)
    return _save(figure, Path(path))


def _frame(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Axes]:
    """A square figure on the Agg canvas with one [0, 1] x [0, 1] axes: grid, labels and title."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(INCHES, INCHES), dpi=DPI)
    FigureCanvasAgg(figure)  # attaches itself: rendering is Agg, with no GUI backend involved
    axes = figure.add_subplot()
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel=xlabel, ylabel=ylabel, aspect="equal")
    axes.set_title(title, fontsize=11, wrap=True)
    axes.set_xticks(np.linspace(0, 1, 6))
    axes.set_yticks(np.linspace(0, 1, 6))
    axes.grid(True, color="#e1e1e1", linewidth=0.8)
    axes.set_axisbelow(True)
    figure.tight_layout()
    return figure, axes


def _save(figure: Figure, path: Path) -> Path:
    """PNG written under a temporary name, then renamed into place (format given: the name may not say)."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=DPI)
    return path
