"""Agreement with the experts for `python -m training descriptors`: accuracy and Cohen's kappa with 95 %
bootstrap intervals per descriptor and route, which route agrees better, and the report (agreement.json and
agreement.md)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from c5desk.fsio import write_atomic
from c5desk.lesion.lexicon import DESCRIPTORS
from training import metrics as M
from training.descriptor_data import MARGIN_PRIORITY, Lesion

ROWS = ("shape", "margin", "margin_circumscribed", "echo_pattern", "posterior_features")


def cohen_kappa(truth: np.ndarray, predicted: np.ndarray, k: int) -> float:
    """Unweighted Cohen's kappa of two integer labelings in 0..k-1; NaN when chance agreement is total."""
    truth, predicted = np.asarray(truth, np.int64), np.asarray(predicted, np.int64)
    if truth.size == 0:
        return math.nan
    table = np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k) / truth.size
    observed, chance = np.trace(table), float(table.sum(axis=1) @ table.sum(axis=0))
    return math.nan if chance >= 1 - 1e-12 else (observed - chance) / (1 - chance)


def agreement(truth: list[str], predicted: list[str], classes: Sequence[str], n_boot: int) -> dict[str, Any]:
    """Accuracy and kappa with 95 % bootstrap intervals, and the confusion matrix (rows: experts)."""
    index = {term: i for i, term in enumerate(classes)}
    t, p = np.array([index[v] for v in truth]), np.array([index[v] for v in predicted])
    k = len(classes)
    confusion = np.bincount(t * k + p, minlength=k * k).reshape(k, k)
    return {
        "n": len(t),
        "accuracy": float(np.mean(t == p)),
        "accuracy_ci": M.bootstrap_ci((t, p), lambda a, b: float(np.mean(a == b)), n_boot=n_boot),
        "kappa": cohen_kappa(t, p, k),
        "kappa_ci": M.bootstrap_ci((t, p), lambda a, b: cohen_kappa(a, b, k), n_boot=n_boot),
        "classes": list(classes),
        "confusion": confusion.tolist(),
    }


def _binary(terms: list[str]) -> list[str]:
    return ["circumscribed" if t == "circumscribed" else "not circumscribed" for t in terms]


def build_report(train: list[Lesion], test: list[Lesion], routes: dict, n_boot: int) -> dict[str, Any]:
    """Per descriptor row: n, expert counts, the majority-class accuracy and each route's agreement."""
    rows: dict[str, Any] = {}
    for row in ROWS:
        name = "margin" if row == "margin_circumscribed" else row
        convert = _binary if row != name else list
        keep = [i for i, lesion in enumerate(test) if name in lesion.terms]
        truth = convert([test[i].terms[name] for i in keep])
        predicted = {route: convert([found[name][i] for i in keep]) for route, found in routes.items()}
        train_terms = convert([x.terms[name] for x in train if name in x.terms])
        vocabulary = ("circumscribed", "not circumscribed") if row != name else DESCRIPTORS[name]
        seen = {*truth, *train_terms}.union(*predicted.values())
        classes = [term for term in vocabulary if term in seen]
        majority = max(sorted(set(train_terms)), key=train_terms.count)
        entry: dict[str, Any] = {
            "n": len(truth),
            "expert_counts": {c: truth.count(c) for c in classes},
            "majority": majority,
            "majority_accuracy": truth.count(majority) / max(1, len(truth)),
        }
        entry.update({route: agreement(truth, found, classes, n_boot) for route, found in predicted.items()})
        rows[row] = _with_verdict(entry, truth, predicted, classes, n_boot)
    return {
        "descriptors": rows,
        "margin_priority": list(MARGIN_PRIORITY),
        "n_test": len(test),
        "orientation": "not measured: the expert table has no orientation column",
    }


def _with_verdict(entry: dict, truth: list[str], predicted: dict, classes: list[str], n_boot: int) -> dict:
    """Which route agrees better: "clearly" only when the paired bootstrap interval of the kappa difference
    (learned - handcrafted, the same resampled lesions for both) excludes 0."""
    if len(predicted) < 2:
        entry["better"] = next(iter(predicted))
        return entry
    index = {term: i for i, term in enumerate(classes)}
    t, h, learned = (np.array([index[v] for v in values]) for values in (truth, *predicted.values()))
    k = len(classes)
    low, high = M.bootstrap_ci(
        (t, h, learned), lambda a, b, c: cohen_kappa(a, c, k) - cohen_kappa(a, b, k), n_boot=n_boot
    )
    entry["kappa_difference"] = entry["learned"]["kappa"] - entry["handcrafted"]["kappa"]
    entry["kappa_difference_ci"] = (low, high)
    if low > 0 or high < 0:
        entry["better"] = "learned (clearly)" if low > 0 else "handcrafted (clearly)"
    else:
        higher = "learned" if entry["kappa_difference"] > 0 else "handcrafted"
        entry["better"] = f"no clear difference ({higher} higher)"
    return entry


def write_report(folder: Path, report: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    from training.evaluate import json_safe

    text = json.dumps(json_safe(report), indent=1, allow_nan=False)
    write_atomic(folder / "agreement.json", (text + "\n").encode())
    write_atomic(folder / "agreement.md", (markdown_table(report) + "\n").encode())


def markdown_table(report: dict[str, Any]) -> str:
    """A row per descriptor: n, the majority-class accuracy, each route's accuracy and kappa, the verdict."""
    first = next(iter(report["descriptors"].values()))
    routes = [route for route in ("handcrafted", "learned") if route in first]
    head = ["descriptor", "n", "majority acc"]
    head += [f"{route} {what}" for route in routes for what in ("acc [95% CI]", "κ [95% CI]")]
    head += ["Δκ learned − handcrafted [95% CI]", "better"] if len(routes) == 2 else ["better"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row, entry in report["descriptors"].items():
        cells = [row.replace("_", " "), str(entry["n"]), f"{entry['majority_accuracy']:.2f}"]
        for route in routes:
            found = entry[route]
            cells.append(_with_ci(found["accuracy"], found["accuracy_ci"]))
            cells.append(_with_ci(found["kappa"], found["kappa_ci"]))
        if len(routes) == 2:
            cells.append(_with_ci(entry["kappa_difference"], entry["kappa_difference_ci"]))
        lines.append("| " + " | ".join([*cells, entry["better"]]) + " |")
    return "\n".join(lines)


def _with_ci(value: float, ci: Sequence[float]) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    low, high = ci
    return f"{value:.2f} [{low:.2f}, {high:.2f}]" if np.isfinite(low) else f"{value:.2f}"
