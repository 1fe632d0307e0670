"""The statistical retrain gate on synthetic per-frame scores: paired bootstrap intervals, non-inferiority,
AUC judged only with enough frames of each class, bounded margin/tolerance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from c5desk.cli import main as cli_main
from c5desk.model.bundle import make_random_bundle
from c5desk.model.catalog import Catalog
from c5desk.model.metrics_view import gate_overridden, gate_text
from training.cli import main
from training.gate import FAILED, MIN_PER_CLASS, NOT_JUDGED, PASSED, FrameScores, GateRule, judge


def frames(
    dice: np.ndarray, labels: np.ndarray | None = None, scores: np.ndarray | None = None
) -> FrameScores:
    n = len(dice)
    labels = np.full(n, -1) if labels is None else labels
    scores = np.full(n, 0.5) if scores is None else scores
    return FrameScores(
        np.asarray(dice, float), np.asarray(scores, float), labels, np.array([f"p{i}" for i in range(n)])
    )


def pair(gain: float, noise: float, n: int = 24, seed: int = 0) -> tuple[FrameScores, FrameScores]:
    rng = np.random.default_rng(seed)
    old = rng.uniform(0.5, 0.8, n)
    new = np.clip(old + gain + rng.normal(0, noise, n), 0, 1)
    return frames(old), frames(new)


DEFAULT = GateRule(0.0, 0.02)


def report_for(corrections, replay, rule: GateRule = DEFAULT):
    return judge({"corrections": corrections[0], "replay": replay[0]},
                 {"corrections": corrections[1], "replay": replay[1]}, rule, seed=3)  # fmt: skip


def check(report, part: str, metric: str):
    return next(c for c in report.checks if c.part == part and c.metric == metric)


def test_a_clear_improvement_passes_and_says_improved() -> None:
    report = report_for(pair(0.08, 0.02), pair(0.0, 0.002, seed=1))
    dice = check(report, "corrections", "dice")
    assert report.verdict == PASSED and dice.status == PASSED and dice.note == "improved"
    assert dice.interval[0] > 0 and dice.n == 24


def test_a_clear_regression_fails() -> None:
    report = report_for(pair(0.08, 0.02), pair(-0.06, 0.01, seed=1))
    replay = check(report, "replay", "dice")
    assert report.verdict == FAILED and replay.status == FAILED and replay.interval[1] < -0.02
    assert any(r.startswith("replay Dice") and "failed" in r for r in report.reasons)


def test_noise_within_the_margin_is_non_inferior() -> None:
    rule = GateRule(margin=0.05, tolerance=0.05)
    report = report_for(pair(0.0, 0.02), pair(0.0, 0.02, seed=1), rule)
    dice = check(report, "corrections", "dice")
    assert dice.interval[0] < 0 < dice.interval[1]  # not shown better, not shown worse
    assert report.verdict == PASSED and dice.note == "non-inferior"


def test_auc_with_three_benign_frames_is_not_judged_and_does_not_decide() -> None:
    labels = np.array([0] * 3 + [1] * 21)
    old, new = pair(0.05, 0.01)
    awful = frames(new.dice, labels, np.r_[np.full(3, 0.9), np.full(21, 0.1)])  # AUC 0: would fail
    report = report_for((frames(old.dice, labels, np.linspace(0, 1, 24)), awful), pair(0.0, 0.002, seed=1))
    auc = check(report, "corrections", "auc")
    assert auc.status == NOT_JUDGED and auc.interval is None
    assert "not enough benign (n=3) frames to judge" in auc.note and str(MIN_PER_CLASS) in auc.note
    assert report.verdict == PASSED


def test_auc_with_enough_frames_is_gated() -> None:
    labels = np.array([0, 1] * 12)
    old, new = pair(0.05, 0.01)
    good = np.where(labels == 1, 0.9, 0.1)
    report = report_for(
        (frames(old.dice, labels, good), frames(new.dice, labels, 1 - good)), pair(0.0, 0.002, 1)
    )
    auc = check(report, "corrections", "auc")
    assert auc.status == FAILED and auc.difference == pytest.approx(-1.0) and report.verdict == FAILED


def test_the_same_seed_gives_the_same_intervals() -> None:
    data = (pair(0.01, 0.03), pair(0.0, 0.01, seed=1))
    assert report_for(*data).to_json() == report_for(*data).to_json()


def test_the_report_json_holds_verdict_thresholds_and_intervals() -> None:
    data = report_for(pair(0.08, 0.02), pair(0.0, 0.002, seed=1)).override().to_json()
    assert data["verdict"] == PASSED and data["overridden"] is True and data["seed"] == 3
    thresholds = {"margin": 0.0, "tolerance": 0.02, "min_per_class": MIN_PER_CLASS, "replay_gates": True}
    assert data["thresholds"] == thresholds
    assert all(len(c["interval"]) == 2 for c in data["checks"] if c["metric"] == "dice")


@pytest.mark.parametrize(
    "option,value", [("--margin", "1"), ("--tolerance", "-0.01"), ("--margin", "nan"), ("--tolerance", "x")]
)
def test_margin_and_tolerance_are_bounded(option: str, value: str, tmp_path, capsys) -> None:
    argv = ["retrain", "--base", str(tmp_path), "--data", str(tmp_path), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exc:
        main([*argv, option, value])
    assert exc.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def gated_bundle(folder, version: str, overridden: bool):
    """A random bundle whose model.json holds a gate report, as `training retrain` writes it."""
    bundle = make_random_bundle(folder, input_size=32, version=version)
    regressed = report_for(pair(0.08, 0.02), pair(-0.06, 0.01, seed=1))
    report = regressed.override() if overridden else report_for(pair(0.08, 0.02), pair(0.0, 0.002, seed=1))
    spec = json.loads((bundle / "model.json").read_text())
    spec["metrics"] = {"gate": report.to_json()}
    (bundle / "model.json").write_text(json.dumps(spec))
    return bundle


def test_c5desk_models_marks_an_overridden_bundle(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("C5DESK_MODEL", raising=False)
    monkeypatch.setenv("C5DESK_CONFIG", str(tmp_path / "config"))
    monkeypatch.setattr("c5desk.model.catalog.SHIPPED_MODELS", tmp_path / "shipped")
    models = tmp_path / "config" / "data" / "models"
    gated_bundle(models / "forced", "random-forced", overridden=True)
    gated_bundle(models / "fine", "random-fine", overridden=False)
    forced, fine = Catalog().get("random-forced"), Catalog().get("random-fine")
    assert gate_overridden(forced) and not gate_overridden(fine)
    assert gate_text(forced).startswith("GATE OVERRIDDEN (gate failed: corrections Dice +0.0")
    assert gate_text(fine).startswith("gate passed: corrections Dice +0.0") and "replay Dice " in gate_text(
        fine
    )
    assert cli_main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "GATE OVERRIDDEN (gate failed" in next(line for line in lines if "random-forced" in line)
    assert "OVERRIDDEN" not in next(line for line in lines if "random-fine" in line)
    assert lines[-1].startswith("GATE OVERRIDDEN: published although the retrain gate failed")
    assert cli_main(["models", "--json"]) == 0
    rows = {row["version"]: row for row in json.loads(capsys.readouterr().out)}
    assert (
        rows["random-forced"]["gate_overridden"] is True and rows["random-forced"]["gate_verdict"] == "failed"
    )
    assert rows["random-fine"]["gate_overridden"] is False and rows["random-fine"]["gate"].startswith(
        "gate passed"
    )
