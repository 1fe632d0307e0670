"""The whole loop on a handful of synthetic frames: finetune → evaluate → retrain → gate → publish."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from synthetic_lesions import FAST, json_events, lesion_frame, write_folder

from c5desk.model.bundle import read_spec
from c5desk.model.catalog import Catalog
from c5desk.model.metrics_view import gate_text
from training import retrain_cli
from training.cli import main
from training.gate import judge as real_judge


def retrain(capsys, bundle: Path, data: Path, out: Path, work: Path, *options: str) -> dict:
    """Run `training retrain` (fast settings) and return its verdict event; it must exit 0."""
    argv = ["retrain", "--base", str(bundle), "--data", str(data), "--out", str(out), "--work", str(work)]
    assert main([*argv, *options, *FAST[2:]]) == 0
    return [e for e in json_events(capsys.readouterr().out) if e["event"] == "verdict"][-1]


def digest(folder: Path) -> str:
    return hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())
    ).hexdigest()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """A finetuned bundle (2 epochs on 12 frames) and its training folder."""
    root = tmp_path_factory.mktemp("train")
    folder = write_folder(root / "data", 12, seed=1)
    bundle = root / "base"
    code = main(
        [
            "finetune",
            "--data",
            str(folder),
            "--epochs",
            "2",
            "--replay",
            "8",
            "--val-fraction",
            "0.25",
            "--out",
            str(bundle),
            "--work",
            str(root / "work"),
            "--version",
            "tiny-base",
            *FAST,
        ]
    )
    assert code == 0
    return bundle, folder


def test_finetune_publishes_a_bundle_with_replay_sample(base, capsys) -> None:
    bundle, _ = base
    spec = read_spec(bundle)
    assert spec.version == "tiny-base" and spec.arch == "c5net_tiny" and spec.input_size == 64
    assert (
        spec.training["stage"] == "finetune"
        and spec.training["data"]["train"] + spec.training["data"]["val"] == 12
    )
    assert "dice" in spec.metrics["validation"]
    with (bundle / "replay" / "labels.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert {r["split"] for r in rows} == {"train", "val"} and len(rows) == 8
    assert all((bundle / "replay" / r["image"]).is_file() for r in rows)


def test_evaluate_writes_the_agreed_json(base, tmp_path) -> None:
    bundle, folder = base
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(bundle), str(folder), "--json", str(out), "--bootstrap", "50"]) == 0
    result = json.loads(out.read_text())
    for key in ("dice", "iou", "hd95", "auc", "accuracy", "sensitivity", "specificity", "n"):
        assert key in result
    assert result["n"] == 12 and set(result["ci"]) >= {"dice", "auc"}


def test_retrain_publishes_a_child_and_leaves_the_base_untouched(base, tmp_path, capsys) -> None:
    bundle, _ = base
    before = digest(bundle)
    corrections = write_folder(tmp_path / "corr", 8, seed=7)
    models = tmp_path / "models"
    verdict = retrain(
        capsys,
        bundle,
        corrections,
        models,
        tmp_path / "w",
        "--epochs",
        "1",
        "--margin",
        "0.1",
        "--tolerance",
        "0.1",
        "--publish-anyway",  # published whatever the tiny model's verdict; marked when it failed
        "--version",
        "tiny-r1",
    )
    assert verdict["version"] == "tiny-r1" and verdict["overridden"] is (not verdict["accepted"])
    assert set(verdict["base"]) == {"corrections", "replay"} and "dice" in verdict["candidate"]["replay"]
    child = read_spec(models / "tiny-r1")
    assert child.parent == "tiny-base" and child.training["stage"] == "retrain"
    gate = child.metrics["gate"]  # the verdict, its thresholds and intervals travel with the bundle
    assert gate["verdict"] == ("passed" if verdict["accepted"] else "failed")
    assert gate["overridden"] is verdict["overridden"] and gate["seed"] == 0
    assert gate["thresholds"] == {"margin": 0.1, "tolerance": 0.1, "min_per_class": 10, "replay_gates": True}
    assert gate["mode"] == "improve" and child.training["domains"] == [child.training["domain"]]
    assert (models / "tiny-r1" / "MODEL_CARD.md").is_file()
    dice = {c["part"]: c for c in gate["checks"] if c["metric"] == "dice"}
    assert set(dice) == {"corrections", "replay"} and dice["replay"]["n"] == child.training["replay"]["val"]
    assert all(len(c["interval"]) == 2 and c["interval"][0] <= c["interval"][1] for c in dice.values())
    assert gate["candidate"]["corrections"]["dice"] == verdict["candidate"]["corrections"]["dice"]
    assert (models / "tiny-r1" / "replay" / "labels.csv").is_file()
    assert digest(bundle) == before
    # published means listed: `c5desk models` and Model → Versions… see it, and it can be activated
    assert verdict["catalogue"].startswith("added to the model catalogue")
    assert Catalog().get("tiny-r1").folder == (models / "tiny-r1").resolve()
    assert Catalog().active_version() is None  # activating stays the user's decision


def sabotaged_judge(before, after, rule, seed):
    """The real gate, on a candidate made to lose every frame's Dice: a certain rejection."""
    ruined = {part: replace(s, dice=np.zeros_like(s.dice)) for part, s in after.items()}
    perfect = {part: replace(s, dice=np.ones_like(s.dice)) for part, s in before.items()}
    return real_judge(perfect, ruined, rule, seed)


def test_retrain_rejected_by_the_gate_publishes_nothing(base, tmp_path, capsys, monkeypatch) -> None:
    bundle, _ = base
    corrections = write_folder(tmp_path / "corr", 8, seed=8)
    models = tmp_path / "models"
    monkeypatch.setattr(retrain_cli, "judge", sabotaged_judge)
    verdict = retrain(capsys, bundle, corrections, models, tmp_path / "w", "--epochs", "1")
    assert verdict["accepted"] is False and verdict["bundle"] is None and verdict["overridden"] is False
    assert verdict["gate"]["verdict"] == "failed"
    assert any(r.startswith("replay Dice -1.000") and "failed" in r for r in verdict["reasons"])
    assert not models.exists() or not any(models.iterdir())


def test_a_failed_gate_overridden_is_published_and_marked(base, tmp_path, capsys, monkeypatch) -> None:
    bundle, _ = base
    corrections = write_folder(tmp_path / "corr", 8, seed=8)
    models = tmp_path / "models"
    monkeypatch.setattr(retrain_cli, "judge", sabotaged_judge)
    options = ("--epochs", "1", "--publish-anyway", "--version", "tiny-forced")
    verdict = retrain(capsys, bundle, corrections, models, tmp_path / "w", *options)
    assert verdict["accepted"] is False and verdict["overridden"] is True and verdict["bundle"]
    gate = read_spec(models / "tiny-forced").metrics["gate"]
    assert gate["verdict"] == "failed" and gate["overridden"] is True  # the override never turns it "passed"
    assert "GATE OVERRIDDEN" in gate_text(Catalog().get("tiny-forced"))


def test_retrain_with_mean_teacher_on_unlabelled_frames(base, tmp_path, capsys) -> None:
    bundle, _ = base
    corrections = write_folder(tmp_path / "corr", 8, seed=9)
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    rng = np.random.default_rng(3)
    for i in range(4):
        cv2.imwrite(str(unlabelled / f"u{i}.png"), lesion_frame(rng, i % 2 == 0)[0])
    verdict = retrain(
        capsys,
        bundle,
        corrections,
        tmp_path / "m",
        tmp_path / "w",
        "--epochs",
        "1",
        "--unlabelled",
        str(unlabelled),
        "--consistency",
        "1",
        "--publish-anyway",
    )
    assert verdict["bundle"] is not None
    assert read_spec(Path(verdict["bundle"])).training["unlabelled"] == 4


def test_retrain_without_a_replay_sample_is_refused(tmp_path, capsys) -> None:
    from c5desk.model.bundle import make_random_bundle

    bundle = make_random_bundle(tmp_path / "b", input_size=64)
    corrections = write_folder(tmp_path / "corr", 8, seed=5)
    code = main(["retrain", "--base", str(bundle), "--data", str(corrections), "--out", str(tmp_path / "m")])
    assert code == 1
    assert "no replay sample" in capsys.readouterr().err


def test_pretrain_on_an_isic_style_folder(tmp_path) -> None:
    root = tmp_path / "isic"
    rng = np.random.default_rng(2)
    rows = [["split", "image", "mask_jpeg", "malignant"]]
    (root / "x").mkdir(parents=True)
    for i in range(8):
        grey, mask = lesion_frame(rng, i % 2 == 1)
        cv2.imwrite(str(root / "x" / f"i{i}.jpg"), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
        cv2.imwrite(str(root / "x" / f"m{i}.jpg"), mask * 255)
        rows.append(["train" if i < 6 else "val", f"x/i{i}.jpg", f"x/m{i}.jpg", str(i % 2)])
    with (root / "labels.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows(rows)
    out = tmp_path / "pre"
    assert main(["pretrain", "--data", str(root), "--epochs", "1", "--out", str(out), *FAST]) == 0
    spec = read_spec(out)
    assert spec.training["stage"] == "pretrain" and spec.training["data"]["train"] == 6
    # the source stage initialises the target stage
    folder = write_folder(tmp_path / "target", 8, seed=4)
    fine = tmp_path / "fine"
    args = ["finetune", "--data", str(folder), "--init", str(out), "--epochs", "1", "--replay", "0"]
    assert main([*args, "--out", str(fine), *FAST]) == 0
    assert read_spec(fine).parent == spec.version
    assert not (fine / "replay").exists()


def test_retrain_reads_a_dataset_store_directly(base, tmp_path, capsys) -> None:
    """Corrections saved in the app's store (plus unannotated frames for the mean teacher) feed retraining."""
    from c5desk.io import open_source
    from c5desk.store import Store

    bundle, _ = base
    folder = write_folder(tmp_path / "corr", 10, seed=11)
    with Store.open(tmp_path / "store", create=True) as store:
        for i in range(10):
            with open_source(folder / "img" / f"f{i}.png") as source:
                frame_id = store.add_frame(source.frame(0), case_key=f"case{i // 2}")
            if i < 8:
                mask = cv2.imread(str(folder / "img" / f"m{i}.png"), cv2.IMREAD_GRAYSCALE) > 0
                store.save_annotation(frame_id, mask, "malignant" if i % 2 else "benign")
    models = tmp_path / "models"
    args = ["retrain", "--base", str(bundle), "--data", str(tmp_path / "store"), "--out", str(models)]
    args += ["--epochs", "1", "--publish-anyway", "--unlabelled", str(tmp_path / "store")]
    assert main([*args, "--consistency", "0.5", "--work", str(tmp_path / "w"), *FAST[2:]]) == 0
    verdict = [e for e in json_events(capsys.readouterr().out) if e["event"] == "verdict"][-1]
    spec = read_spec(Path(verdict["bundle"]))
    assert spec.training["corrections"]["train"] + spec.training["corrections"]["held_out"] == 8
    assert spec.training["unlabelled"] == 2
