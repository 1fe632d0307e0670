"""`python -m training descriptors`: BI-RADS descriptors measured against the experts of BrEaST-Lesions_USG.

Two routes, each one softmax regression per descriptor, fitted on the TRAIN rows only (regularisation and
class weighting chosen by the pooled out-of-fold Cohen's kappa over the folder's own `fold` column), scored
once on the test rows, with the expert mask as the outline:
- handcrafted: c5desk.lesion.descriptors features (what the app ships); `--fit-handcrafted` refits its
  parameter file (resources/descriptors/breast_handcrafted_v1.json) first;
- learned: the shipped bundle's encoder, its two deepest maps pooled inside the lesion, in a ring around it
  and in the column below it (pooled_features), as the app's Predictor caches them for re-scoring.
Expert terms map onto c5desk.lesion.lexicon: margin is "circumscribed" or the dominant listed subtype by
MARGIN_PRIORITY. Orientation has no expert column in this folder, so it is not measured.
Writes agreement.json and agreement.md (accuracy and kappa per descriptor with 95 % bootstrap intervals).

This module is the command; its parts are training.descriptor_data (lesions and expert terms),
descriptor_learned (the encoder's pooled features), descriptor_fit (softmax regression and its
cross-validation) and descriptor_agreement (kappa, bootstrap intervals, the report).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from c5desk.fsio import write_atomic
from c5desk.lesion import descriptors as hand
from c5desk.settings import cache_dir, data_root
from training.descriptor_agreement import ROWS, build_report, cohen_kappa, markdown_table, write_report
from training.descriptor_data import MARGIN_PRIORITY, Lesion, expert_margin, expert_terms, load_lesions
from training.descriptor_fit import Fit, fit_descriptor
from training.descriptor_learned import add_learned_features, default_bundle, pooled_features

# The parts live in training.descriptor_*; the names other code and the docs use are re-exported from here.
__all__ = [
    "ROWS",
    "add_arguments",
    "cohen_kappa",
    "expert_margin",
    "expert_terms",
    "fit_descriptor",
    "load_lesions",
    "pooled_features",
    "run",
]
# The handcrafted features each descriptor's model reads (a darker lesion makes more of what is below it).
HAND_INPUTS = {
    "shape": hand.OUTLINE,
    "margin": hand.OUTLINE + hand.MARGIN,
    "echo_pattern": hand.ECHO,
    "posterior_features": (*hand.POSTERIOR, "echo_contrast"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=data_root() / "breast_lesions_usg",
        help="labelled folder with the BI-RADS lexicon columns (default breast_lesions_usg)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=cache_dir() / "descriptors",
        help="folder for agreement.json and agreement.md",
    )
    parser.add_argument(
        "--fit-handcrafted",
        action="store_true",
        help="refit the handcrafted parameters on the train rows and write --params first",
    )
    parser.add_argument("--params", type=Path, default=hand.PARAMETERS_FILE, help="handcrafted parameters")
    parser.add_argument("--bundle", type=Path, help="bundle for the learned route (default: the shipped one)")
    parser.add_argument("--no-learned", action="store_true", help="measure the handcrafted route only")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, help="at most N rows per split (smoke tests)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="resamples for the 95%% intervals")


def run(args: argparse.Namespace) -> int:
    lesions = load_lesions(args.data, args.limit)
    for lesion in lesions:
        found = hand.lesion_features(lesion.grey, lesion.mask, lesion.mm_per_px)
        lesion.hand = found[0] if found else {}
    lesions = [lesion for lesion in lesions if lesion.hand]
    train = [lesion for lesion in lesions if lesion.split == "train"]
    test = [lesion for lesion in lesions if lesion.split == "test"]
    if args.fit_handcrafted:
        write_parameters(args.params, fit_handcrafted(train), train, args.data)
        print(f"handcrafted parameters written to {args.params}", file=sys.stderr)
    models = hand.read_parameters(args.params)  # not the cached copy: it may have just been rewritten
    routes = {"handcrafted": {n: [models[n].predict(x.hand) for x in test] for n in hand.FITTED}}
    version = None
    if not args.no_learned:
        version = add_learned_features(lesions, args.bundle or default_bundle(), args.device)
        heads = {name: _fit_route(train, name, _learned_vector) for name in hand.FITTED}
        test_x = np.stack([_learned_vector(x, "") for x in test])
        routes["learned"] = {name: heads[name].predict(test_x) for name in heads}
    report = build_report(train, test, routes, args.bootstrap)
    report.update(data=args.data.name, bundle=version, params=args.params.name, n_train=len(train))
    write_report(args.out, report)
    print(markdown_table(report))
    return 0


def _hand_vector(lesion: Lesion, name: str) -> np.ndarray:
    return np.array([lesion.hand[f] for f in HAND_INPUTS[name]])


def _learned_vector(lesion: Lesion, name: str) -> np.ndarray:
    assert lesion.learned is not None
    return lesion.learned


def _fit_route(train: list[Lesion], name: str, vector) -> Fit:
    rows = [lesion for lesion in train if name in lesion.terms]
    x = np.stack([vector(lesion, name) for lesion in rows]).astype(np.float64)
    return fit_descriptor(x, [r.terms[name] for r in rows], np.array([r.fold for r in rows]), name)


def fit_handcrafted(train: list[Lesion]) -> dict[str, Fit]:
    return {name: _fit_route(train, name, _hand_vector) for name in hand.FITTED}


def write_parameters(path: Path, fits: dict[str, Fit], train: list[Lesion], folder: Path) -> None:
    """The handcrafted parameter file c5desk.lesion.descriptors loads, with how it was made."""
    models = {}
    for name, fit in fits.items():
        model = hand.SoftmaxModel(HAND_INPUTS[name], fit.classes, fit.mean, fit.scale, fit.weights, fit.bias)
        counts = {t: sum(x.terms.get(name) == t for x in train) for t in fit.classes}
        models[name] = {
            **model.to_dict(),
            "l2": fit.config[0],
            "class_weight": "balanced" if fit.config[1] else None,
            "cv_kappa": _round(fit.cv_kappa),
            "train_counts": counts,
        }
    data = {
        "name": path.stem,
        "fitted": datetime.now(timezone.utc).date().isoformat(),
        "command": "python -m training descriptors --fit-handcrafted",
        "data": {
            "folder": folder.name,
            "split": "train",
            "lesions": len(train),
            "margin_priority": list(MARGIN_PRIORITY),
        },
        "method": "softmax regression on standardised features; l2 and class weighting by pooled "
        "out-of-fold Cohen's kappa over the train folds",
        "orientation": "rule: not parallel when the lesion is taller than wide (physical units)",
        "models": models,
    }
    write_atomic(path, (json.dumps(data, indent=1) + "\n").encode())


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)
