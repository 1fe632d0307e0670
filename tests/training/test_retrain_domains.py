"""Improve vs adapt (--domain), distillation from the base, forgetting per scanner, steps per retrain."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_lesions import FAST, json_events, write_folder

from c5desk.model.bundle import read_spec
from training import retrain_cli
from training.cli import main
from training.data import Samples
from training.domains import ADAPT, IMPROVE, base_domains, retrain_kind
from training.gate import PASSED, REPORTED, FrameScores, GateRule, judge
from training.gate import judge as real_judge
from training.retrain import training_mix
from training.teachers import distillation_loss


# ---- pure parts ----------------------------------------------------------------------------------------
def test_the_kind_of_retrain_follows_the_domain() -> None:
    shipped = {"stage": "finetune", "data": {"folder": "busbra"}}
    assert base_domains(shipped) == ["busbra"]
    assert retrain_kind(shipped, None).mode == IMPROVE
    assert retrain_kind(shipped, "busbra").mode == IMPROVE
    adapt = retrain_kind(shipped, "thyroid")
    assert adapt.mode == ADAPT and adapt.domains == ["thyroid"] and adapt.lineage == "thyroid"
    assert not adapt.replay_gates
    child = {"stage": "retrain", "domain": "thyroid", "domains": ["thyroid"], "lineage": "thyroid"}
    again = retrain_kind(child, "thyroid")  # improving the new lineage keeps its domain and lineage
    assert again.mode == IMPROVE and again.domains == ["thyroid"] and again.replay_gates
    v2 = {"stage": "finetune", "data": {"folder": "busbra, bus_uclm, breast_lesions_usg"}}  # several folders
    assert base_domains(v2) == ["busbra", "bus_uclm", "breast_lesions_usg"]
    assert retrain_kind(v2, "bus_uclm").mode == IMPROVE and retrain_kind(v2, "hc18").mode == ADAPT


def test_a_retrained_card_states_its_own_intended_use_first_and_keeps_the_base_card() -> None:
    from c5desk.model.metrics_view import intended_use_first
    from training.domains import card_text, with_base_card

    kind = retrain_kind({"data": {"folder": "busbra"}}, "thyroid")
    own = card_text("v2", "v1", kind, {"verdict": "passed", "reasons": ["r"]}, (3, 1), "store")
    card = with_base_card(own, "# Card of v1\n## Intended use\nbreast lesions\n## Data\nx", "v1")
    shown = intended_use_first(card)
    assert shown.index("For **thyroid** only") < shown.index("breast lesions")
    assert "### Intended use" in card and "## Data" not in card.replace("### Data", "")


def scores(dice: list[float], groups: list[str] | None = None) -> FrameScores:
    n = len(dice)
    return FrameScores(
        np.asarray(dice, float),
        np.full(n, 0.5),
        np.full(n, -1),
        np.asarray(groups or [f"g{i}" for i in range(n)]),
    )


def test_adapting_reports_replay_without_gating_and_scanners_never_gate() -> None:
    before = {"corrections": scores([0.4] * 8), "replay": scores([0.9] * 8), "replay · A": scores([0.9] * 4)}
    after = {"corrections": scores([0.8] * 8), "replay": scores([0.5] * 8), "replay · A": scores([0.5] * 4)}
    improve = judge(before, after, GateRule())
    assert improve.verdict == "failed"  # same domain: forgetting the replay data refuses it
    adapt = judge(before, after, GateRule(replay_gates=False))
    assert adapt.verdict == PASSED and adapt.thresholds["replay_gates"] is False
    by_part = {(c.part, c.metric): c for c in adapt.checks}
    assert by_part[("replay", "dice")].status == REPORTED and "not gating" in by_part[("replay", "dice")].note
    assert by_part[("replay · A", "dice")].status == REPORTED and ("replay · A", "auc") not in by_part
    assert {(c.part, c.metric): c for c in improve.checks}[("replay · A", "dice")].status == REPORTED


def test_distillation_is_zero_in_agreement_and_weights_frames() -> None:
    torch.manual_seed(0)
    seg, cls = torch.randn(3, 1, 8, 8), torch.randn(3, 2)
    assert float(distillation_loss((seg, cls), (seg, cls), torch.ones(3))) == pytest.approx(0.0, abs=1e-5)
    other = (torch.randn(3, 1, 8, 8), torch.randn(3, 2))
    assert float(distillation_loss((seg, cls), other, torch.ones(3))) > 0
    assert float(distillation_loss((seg, cls), other, torch.zeros(3))) == 0.0  # no frame distilled


def tiny_samples(n: int, tag: str) -> Samples:
    return Samples(
        np.zeros((n, 4, 4), np.uint8), np.zeros((n, 4, 4), np.uint8), np.zeros(n, np.int64),
        [f"{tag}{i}" for i in range(n)], [f"{tag}{i}" for i in range(n)],
    )  # fmt: skip


def test_training_mix_distils_new_frames_only_when_improving() -> None:
    corrections, replay = tiny_samples(3, "c"), tiny_samples(6, "r")
    mix, weights = training_mix(corrections, replay, 1.0, distill_new=True)
    assert len(mix) == 12 and weights.tolist() == [1.0] * 12
    mix, weights = training_mix(corrections, replay, 1.0, distill_new=False)
    assert weights.tolist() == [0.0] * 6 + [1.0] * 6 and mix.names[-1] == "r5"


def test_steps_scale_with_the_corrections_within_the_budget() -> None:
    steps = [retrain_cli.auto_steps(n) for n in (0, 8, 19, 75, 1000)]
    assert steps == sorted(steps) and steps[0] == retrain_cli.MIN_STEPS and steps[-1] == retrain_cli.MAX_STEPS


# ---- end to end: a real (tiny) retrain of each kind ------------------------------------------------------
@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A finetuned bundle whose replay sample says which scanner each frame comes from."""
    root = tmp_path_factory.mktemp("domains")
    folder = write_folder(root / "data", 16, seed=21)
    with (folder / "labels.csv").open(newline="") as stream:
        rows = list(csv.reader(stream))
    rows = [rows[0] + ["device"]] + [[*row, f"scanner {'AB'[i % 2]}"] for i, row in enumerate(rows[1:])]
    with (folder / "labels.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows(rows)
    bundle = root / "base"
    args = ["finetune", "--data", str(folder), "--epochs", "1", "--replay", "10", "--val-fraction", "0.25"]
    assert main([*args, "--out", str(bundle), "--version", "tiny-base", *FAST]) == 0
    return bundle


def run_retrain(capsys, bundle: Path, tmp: Path, *options: str) -> dict:
    corrections = write_folder(tmp / "corr", 8, seed=23)
    argv = ["retrain", "--base", str(bundle), "--data", str(corrections), "--out", str(tmp / "models")]
    assert main([*argv, "--work", str(tmp / "w"), "--epochs", "1", *options, *FAST[2:]]) == 0
    return [e for e in json_events(capsys.readouterr().out) if e["event"] == "verdict"][-1]


def test_improving_distils_and_reports_forgetting_per_scanner(base, tmp_path, capsys) -> None:
    with (base / "replay" / "labels.csv").open() as stream:
        assert {r["device"] for r in csv.DictReader(stream)} == {"scanner A", "scanner B"}
    verdict = run_retrain(capsys, base, tmp_path, "--publish-anyway", "--version", "tiny-i", "--distill", "1")
    parts = set(verdict["base"])
    assert {"corrections", "replay"} < parts and any(p.startswith("replay · scanner") for p in parts)
    spec = read_spec(tmp_path / "models" / "tiny-i")
    assert spec.training["mode"] == IMPROVE and spec.training["recipe"]["distill"] == 1.0
    assert spec.metrics["gate"]["thresholds"]["replay_gates"] is True


def replay_ruined_judge(before, after, rule, seed):
    """The real gate on a candidate that forgot the replay data entirely but learnt the corrections."""
    after = {p: replace(s, dice=np.zeros_like(s.dice)) if p != "corrections" else s for p, s in after.items()}
    before = {
        p: replace(s, dice=np.zeros_like(s.dice)) if p == "corrections" else s for p, s in before.items()
    }
    return real_judge(before, after, rule, seed)


def test_adapting_to_a_new_domain_is_a_new_lineage_gated_on_its_own_frames(
    base, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr(retrain_cli, "judge", replay_ruined_judge)
    verdict = run_retrain(capsys, base, tmp_path, "--domain", "thyroid", "--version", "tiny-t")
    assert verdict["accepted"] is True and verdict["overridden"] is False  # replay forgotten, yet published
    assert verdict["mode"] == ADAPT and verdict["domain"] == "thyroid"
    assert any(r.startswith("replay Dice") and "not gating" in r for r in verdict["reasons"])
    spec = read_spec(tmp_path / "models" / "tiny-t")
    assert spec.parent == "tiny-base"
    assert spec.training["mode"] == ADAPT and spec.training["domains"] == ["thyroid"]
    assert spec.training["domain"] == "thyroid" and spec.training["lineage"] == "thyroid"
    card = (tmp_path / "models" / "tiny-t" / "MODEL_CARD.md").read_text()
    assert "For **thyroid** only" in card and "adapt to a new domain" in card
    # the same forgetting when improving the base's own domain (its data folder's name) is refused
    refused = run_retrain(capsys, base, tmp_path / "again", "--domain", "data")
    assert refused["accepted"] is False and refused["bundle"] is None


def test_a_domain_name_must_be_short_and_printable(base, tmp_path, capsys) -> None:
    corrections = write_folder(tmp_path / "corr", 8, seed=23)
    argv = ["retrain", "--base", str(base), "--data", str(corrections), "--out", str(tmp_path / "m")]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--domain", "x" * 41])
    assert exit_info.value.code == 2


def test_an_old_replay_sample_gets_its_scanners_back_by_content(base, tmp_path) -> None:
    from training.replay import replay_devices
    from training.replay_label import main as label_main

    copy = tmp_path / "old"
    table = base / "replay" / "labels.csv"
    with table.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert label_main([str(base), str(base.parent / "data"), "--copy-to", str(copy)]) == 0
    with (copy / "replay" / "labels.csv").open("w", newline="") as stream:  # as written before the column
        writer = csv.DictWriter(stream, [c for c in rows[0] if c != "device"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    assert replay_devices(copy) is None
    assert label_main([str(copy), str(base.parent / "data")]) == 0
    assert replay_devices(copy) == [r["device"] for r in rows if r["split"] == "val"]


def test_a_checkpoint_of_the_other_kind_of_retrain_is_never_resumed() -> None:
    from training.loop import FitConfig, fingerprint

    model, samples, cfg = torch.nn.Identity(), tiny_samples(4, "c"), FitConfig(distill=1.0)
    improve = fingerprint(model, samples, None, cfg, "all frames distilled")
    adapt = fingerprint(model, samples, None, cfg, "replay only")
    assert improve != adapt and improve == fingerprint(model, samples, None, cfg, "all frames distilled")
