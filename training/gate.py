"""The retrain gate with statistics: paired bootstrap intervals instead of point estimates on ~20 frames.

Both models are scored on the same frames, so each frame gives a paired difference (candidate − base).
Patients (groups) are resampled, not frames: frames of one patient are not independent. Rules:
  - held-out corrections, Dice: lower bound of the 95% interval of the mean difference ≥ −margin
    (non-inferior; "improved" when the lower bound is > 0);
  - replay validation part, Dice: lower bound ≥ −tolerance (the model did not forget);
  - AUC, on either part, only when each class has ≥ MIN_PER_CLASS frames: lower bound of the paired AUC
    difference ≥ −allowed. Below that a single frame moves AUC by ≥ 1/MIN_PER_CLASS and its interval spans
    most of [−1, 1], so it is reported as "not enough … frames to judge" and takes no part in the verdict.
Replay is judged as one part. When the replay sample says which scanner (device) each frame comes from,
every scanner's Dice is also compared and reported ("replay · GE Logiq 5"), never gating: a dozen frames
per scanner give intervals too wide to judge. When adapting to a new domain (retrain --domain with a name the
base model is not for) the replay checks are reported too, not gating: the new lineage is judged on the new
domain's held-out corrections alone.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from c5desk.inference.preprocess import InputSpec
from c5desk.inference.presence import PRESENCE_THRESHOLD
from c5desk.lesion.overlap import dice_per_image
from training.data import Samples
from training.metrics import bootstrap_ci, roc_auc
from training.validate import predict_samples

MIN_PER_CLASS = 10
N_BOOT = 2000
CONFIDENCE = 0.95
MAX_ALLOWED = 0.1  # a larger allowed drop would let a visibly worse model through
PASSED, FAILED, NOT_JUDGED, REPORTED = "passed", "failed", "not judged", "reported"
CORRECTIONS, REPLAY = "corrections", "replay"


@dataclass(frozen=True)
class GateRule:
    margin: float = 0.0  # candidate may be at most this much below the base on the held-out corrections
    tolerance: float = 0.02  # ... and at most this much below it on the replay validation part
    replay_gates: bool = True  # False when adapting to a new domain: replay is reported, not gating


@dataclass(frozen=True)
class FrameScores:
    """One model on one part, frame by frame: Dice, P(malignant), label (−1 unknown), patient group."""

    dice: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    groups: np.ndarray

    def summary(self) -> dict[str, float]:
        """Mean Dice, AUC and accuracy (what training.validate reports)."""
        known = self.labels >= 0
        scores, labels = self.scores[known], self.labels[known]
        auc = roc_auc(scores, labels) if known.any() else float("nan")
        accuracy = float(((scores >= 0.5) == (labels == 1)).mean()) if known.any() else float("nan")
        dice = float(self.dice.mean()) if len(self.dice) else float("nan")
        return {"dice": round(dice, 4), "auc": round(float(auc), 4), "accuracy": round(accuracy, 4)}


@dataclass(frozen=True)
class Check:
    part: str  # "corrections", "replay" or "replay · <scanner>"
    metric: str  # "dice" or "auc"
    status: str  # PASSED, FAILED, NOT_JUDGED or REPORTED (measured, not part of the verdict)
    n: int  # frames used (for AUC: frames with a known class)
    allowed: float  # the allowed drop: −allowed is the non-inferiority bound
    difference: float | None = None  # candidate − base, on all frames
    interval: tuple[float, float] | None = None
    note: str = ""


@dataclass(frozen=True)
class GateReport:
    verdict: str  # PASSED or FAILED: the statistics' verdict, never changed by an override
    checks: list[Check]
    thresholds: dict[str, float]
    seed: int
    n_boot: int = N_BOOT
    confidence: float = CONFIDENCE
    overridden: bool = False  # published although the verdict is FAILED (--publish-anyway)
    reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED

    def override(self) -> GateReport:
        return replace(self, overridden=True)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for check in data["checks"]:
            if check["interval"] is not None:
                check["interval"] = [round(v, 4) for v in check["interval"]]
            if check["difference"] is not None:
                check["difference"] = round(check["difference"], 4)
        return data


def bounded_drop(text: str) -> float:
    """argparse type for --margin / --tolerance: a number in [0, MAX_ALLOWED] (argparse exits 2 otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= MAX_ALLOWED:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text} is outside [0, {MAX_ALLOWED}] (a Dice/AUC drop)")
    return value


def frame_scores(
    model: torch.nn.Module, samples: Samples, device: str, presence_cut: float = PRESENCE_THRESHOLD
) -> FrameScores:
    """Per-frame Dice and P(malignant), with no outline below `presence_cut` (the base bundle's own cut, so
    the gate judges both models as the app would show them)."""
    spec = InputSpec.of(model.default_cfg)
    probs, scores = predict_samples(model, samples, spec, device, presence_cut=presence_cut)
    dice = dice_per_image(probs > 0.5, samples.masks > 0)
    labels = np.asarray(samples.labels, dtype=np.int64)
    groups = np.asarray(samples.groups)
    return FrameScores(np.asarray(dice, np.float64), scores.astype(np.float64), labels, groups)


def judge(
    base: dict[str, FrameScores], candidate: dict[str, FrameScores], rule: GateRule, seed: int = 0
) -> GateReport:
    """Paired comparison of the two models on each part and the verdict.

    "corrections" and "replay" are required; any other part (a scanner of the replay sample) is reported."""
    checks: list[Check] = []
    for part in [CORRECTIONS, REPLAY, *sorted(set(base) - {CORRECTIONS, REPLAY})]:
        old, new = base[part], candidate[part]
        allowed = rule.margin if part == CORRECTIONS else rule.tolerance
        gating = part == CORRECTIONS or (part == REPLAY and rule.replay_gates)
        part_checks = [dice_check(part, old, new, allowed, seed)]
        if part in (CORRECTIONS, REPLAY):  # per-scanner AUC on a dozen frames would be noise
            part_checks.append(auc_check(part, old, new, allowed, seed))
        checks.extend(c if gating else as_reported(c) for c in part_checks)
    verdict = FAILED if any(c.status == FAILED for c in checks) else PASSED
    thresholds = {
        "margin": rule.margin,
        "tolerance": rule.tolerance,
        "min_per_class": MIN_PER_CLASS,
        "replay_gates": rule.replay_gates,
    }
    return GateReport(verdict, checks, thresholds, seed, reasons=[describe(c) for c in checks])


def as_reported(check: Check) -> Check:
    """A measured check that takes no part in the verdict (what it would have said stays in the note)."""
    if check.status == NOT_JUDGED:
        return check
    note = f"{check.note}, not gating" if check.note else "not gating"
    return replace(check, status=REPORTED, note=note)


def dice_check(part: str, old: FrameScores, new: FrameScores, allowed: float, seed: int) -> Check:
    n = len(old.dice)
    if n == 0:  # no frames, no evidence: never a pass by default
        return Check(part, "dice", FAILED, 0, allowed, note="no frames to judge")
    difference = float(np.mean(new.dice - old.dice))
    interval = bootstrap_ci((old.dice, new.dice), _mean_gain, N_BOOT, seed, CONFIDENCE, old.groups)
    return _decide(Check(part, "dice", FAILED, n, allowed, difference, interval))


def auc_check(part: str, old: FrameScores, new: FrameScores, allowed: float, seed: int) -> Check:
    known = old.labels >= 0
    labels = old.labels[known]
    counts = {"benign": int((labels == 0).sum()), "malignant": int((labels == 1).sum())}
    short = [f"{name} (n={count})" for name, count in counts.items() if count < MIN_PER_CLASS]
    if short:
        note = f"not enough {' / '.join(short)} frames to judge (needs {MIN_PER_CLASS} of each)"
        return Check(part, "auc", NOT_JUDGED, int(known.sum()), allowed, note=note)
    data = (old.scores[known], new.scores[known], labels)
    difference = _auc_gain(*data)
    interval = bootstrap_ci(data, _auc_gain, N_BOOT, seed, CONFIDENCE, old.groups[known])
    return _decide(Check(part, "auc", FAILED, int(known.sum()), allowed, difference, interval))


def _decide(check: Check) -> Check:
    low = check.interval[0] if check.interval else float("nan")
    if not np.isfinite(low):
        return replace(check, interval=None, note="interval undefined")
    status = PASSED if low >= -check.allowed else FAILED  # ties pass: a no-op retrain is not worse
    note = "improved" if low > 0 else ("non-inferior" if status == PASSED else "worse")
    return replace(check, status=status, note=note)


def _mean_gain(old: np.ndarray, new: np.ndarray) -> float:
    return float(np.mean(new - old))


def _auc_gain(old: np.ndarray, new: np.ndarray, labels: np.ndarray) -> float:
    return roc_auc(new, labels) - roc_auc(old, labels)  # NaN for a one-class resample: dropped


def describe(check: Check) -> str:
    """ "corrections Dice +0.040 [+0.010, +0.070] (n=12, allowed drop 0.000): passed, improved"."""
    name = f"{check.part} {'Dice' if check.metric == 'dice' else 'AUC'}"
    if check.interval is None:
        return f"{name}: {check.status} — {check.note} (n={check.n})"
    low, high = check.interval
    numbers = f"{check.difference:+.3f} [{low:+.3f}, {high:+.3f}]"
    return f"{name} {numbers} (n={check.n}, allowed drop {check.allowed:.3f}): {check.status}, {check.note}"
