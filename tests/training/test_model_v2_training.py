"""Training model v2: simulated prompts (RITM-style clicks, jittered boxes, prompt dropout), the v2 parts
grown from a v1 bundle and trained, lesion-free frames teaching the lesion-present output, several folders."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from synthetic_lesions import FAST, lesion_frame, write_folder

from c5desk.inference.familiarity import load as load_familiarity
from c5desk.inference.preprocess import InputSpec
from c5desk.inference.presence import PRESENCE_THRESHOLD
from c5desk.inference.prompt_maps import BOX, NEGATIVE, POSITIVE, PREVIOUS
from c5desk.model.bundle import make_random_bundle, read_spec
from c5desk.model.registry import create_model
from training import retrain
from training.cli import main
from training.data import from_arrays
from training.prompt_sim import PromptSimConfig, corrupt, simulate, simulated_clicks
from training.validate import predict_samples


def disk(size: int = 64, centre: tuple[int, int] = (30, 34), radius: int = 12) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, centre, radius, 1, -1)
    return mask


def test_no_prompt_for_dropped_or_lesion_free_frames() -> None:
    rng = np.random.default_rng(0)
    assert not simulate(disk(), rng, PromptSimConfig(drop=1.0)).any()
    assert not simulate(np.zeros((64, 64), np.uint8), rng, PromptSimConfig(drop=0.0)).any()


def test_a_box_prompt_is_the_lesion_box_jittered() -> None:
    maps = simulate(disk(), np.random.default_rng(1), PromptSimConfig(drop=0.0, box=1.0))
    ys, xs = np.nonzero(maps[BOX])
    assert abs(xs.min() - 18) <= 3 and abs(xs.max() - 42) <= 3 and abs(ys.min() - 22) <= 3
    assert not maps[POSITIVE].any() and not maps[NEGATIVE].any() and not maps[PREVIOUS].any()


def test_clicks_follow_the_ritm_protocol() -> None:
    truth = disk().astype(bool)
    positive, negative, previous = simulated_clicks(truth, np.random.default_rng(2), 1)
    assert positive == [(30, 34)] and negative == [] and previous is None  # the lesion's deepest point
    for seed in range(20):
        positive, negative, previous = simulated_clicks(truth, np.random.default_rng(seed), 4)
        assert 1 <= len(positive) + len(negative) <= 4 and positive[0] == (30, 34)
        assert all(truth[y, x] for x, y in positive) and not any(truth[y, x] for x, y in negative)
        assert previous is None or previous.shape == truth.shape


def test_corruptions_are_mostly_wrong_but_near_and_worse_with_severity() -> None:
    truth = disk().astype(bool)
    changed = 0
    for seed in range(30):
        mild = corrupt(truth, np.random.default_rng(seed), 0.1)
        severe = corrupt(truth, np.random.default_rng(seed), 0.6)
        changed += not np.array_equal(mild, truth)  # a zero shift or a blob inside leaves it as it was
        assert (mild & truth).sum() / truth.sum() > 0.5
        assert np.sum(mild != truth) <= np.sum(severe != truth) + 20
    assert changed >= 20


def test_simulation_is_deterministic() -> None:
    cfg = PromptSimConfig(drop=0.0)
    a = simulate(disk(), np.random.default_rng(7), cfg)
    b = simulate(disk(), np.random.default_rng(7), cfg)
    assert np.array_equal(a, b)


def add_lesion_free(folder: Path, count: int) -> None:
    rng = np.random.default_rng(5)
    with (folder / "labels.csv").open("a", newline="") as stream:
        writer = csv.writer(stream)
        for i in range(count):
            image = np.clip(rng.normal(120, 30, (96, 128)), 0, 255).astype(np.uint8)
            cv2.imwrite(str(folder / "img" / f"n{i}.png"), image)
            cv2.imwrite(str(folder / "img" / f"nm{i}.png"), np.zeros_like(image))
            writer.writerow([f"img/n{i}.png", f"img/nm{i}.png", "normal", f"q{i}", "train"])


@pytest.fixture(scope="module")
def v2(tmp_path_factory) -> tuple[Path, Path]:
    """A v2 bundle finetuned (2 epochs) from a v1 one on two folders, one with lesion-free frames."""
    root = tmp_path_factory.mktemp("v2")
    first, second = write_folder(root / "site_a", 8, seed=1), write_folder(root / "site_b", 6, seed=2)
    add_lesion_free(second, 4)
    init = make_random_bundle(root / "v1", input_size=64)
    out = root / "v2"
    argv = ["finetune", "--data", str(first), str(second), "--prompts", "--domain-randomise"]
    argv += ["--init", str(init), "--epochs", "2", "--replay", "9", "--val-fraction", "0.25"]
    argv += ["--out", str(out), "--work", str(root / "work"), "--version", "tiny-v2", *FAST]
    argv += ["--presence-threshold", "0.2"]
    assert main(argv) == 0
    return out, second


def test_finetune_grows_and_trains_the_v2_parts_from_a_v1_bundle(v2) -> None:
    out, _ = v2
    spec = read_spec(out)
    assert spec.prompt_support and spec.arch_args == {"input_size": 64, "prompts": True, "presence": True}
    data = spec.training["data"]
    assert data["folder"] == "site_a, site_b" and data["train"] + data["val"] == 18
    assert spec.training["recipe"]["augment"]["domain"]["fov_prob"] > 0
    weights = load_file(str(out / "model.safetensors"))
    projections = [k for k in weights if k.startswith("prompt_encoder.projections")]
    moved = [k for k in projections if np.abs(weights[k]).max() > 0]
    assert moved, "the prompt encoder's projections never left zero: the prompted path did not train"
    assert any(k.startswith("presence.") for k in weights)
    with (out / "replay" / "labels.csv").open() as stream:
        labels = [row["label"] for row in csv.DictReader(stream)]
    assert "unsure" not in labels and len(labels) == 9


def test_finetune_publishes_its_scope_statistics_and_presence_cut(v2) -> None:
    out, _ = v2
    spec = read_spec(out)
    assert spec.presence_threshold == 0.2  # as given; PRESENCE_THRESHOLD without --presence-threshold
    entry = spec.familiarity
    data = spec.training["data"]
    assert (entry["fitted_on"], entry["held_out"]) == (data["train"], data["val"]) and entry["cut"] > 0
    familiarity = load_familiarity(out, entry)
    assert familiarity is not None and familiarity.mean.shape == (2 * (128 + 256),)


def test_retraining_a_v2_bundle_keeps_training_its_prompts(v2, tmp_path: Path, capsys) -> None:
    out, corrections = v2
    models = tmp_path / "models"
    argv = ["retrain", "--base", str(out), "--data", str(corrections), "--out", str(models)]
    argv += ["--work", str(tmp_path / "w"), "--epochs", "1", "--publish-anyway", "--version", "tiny-v2-r1"]
    assert main([*argv, *FAST[2:]]) == 0, capsys.readouterr().err
    child = models / "tiny-v2-r1"
    assert read_spec(child).prompt_support
    before, after = load_file(str(out / "model.safetensors")), load_file(str(child / "model.safetensors"))
    changed = [
        k for k in before if k.startswith("prompt_encoder.") and not np.array_equal(before[k], after[k])
    ]
    assert changed, "the retrain left the prompt encoder untouched"
    # its out-of-scope check is its own: fitted on what it trained on (replay + corrections), not inherited
    entry, parent_entry = read_spec(child).familiarity, read_spec(out).familiarity
    assert entry["sha256"] != parent_entry["sha256"]
    training = read_spec(child).training
    assert entry["fitted_on"] == training["replay"]["train"] + training["corrections"]["train"]
    assert entry["held_out"] == training["replay"]["val"] + training["corrections"]["held_out"]
    assert read_spec(child).presence_threshold == read_spec(out).presence_threshold


@pytest.mark.parametrize("cut", ["0", "1", "nan", "high"])
def test_a_presence_cut_outside_0_1_is_refused_before_training(tmp_path: Path, capsys, cut: str) -> None:
    argv = ["finetune", "--data", str(tmp_path), "--prompts", "--presence-threshold", cut]
    with pytest.raises(SystemExit):
        main([*argv, "--out", str(tmp_path / "o")])
    assert "--presence-threshold" in capsys.readouterr().err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag", ["--prompts"])
def test_a_bundle_that_cannot_grow_is_refused(tmp_path: Path, capsys, flag: str) -> None:
    data = write_folder(tmp_path / "d", 6, seed=3)
    init = make_random_bundle(tmp_path / "base", arch="unet_resnet", input_size=64)
    argv = ["finetune", "--data", str(data), flag, "--init", str(init), "--arch", "unet_resnet"]
    argv += ["--epochs", "1", "--out", str(tmp_path / "o"), *FAST]
    assert main(argv) == 1
    assert "cannot" in capsys.readouterr().err


def test_familiarity_is_added_to_a_published_bundle_without_touching_its_weights(
    tmp_path: Path, capsys
) -> None:
    data = write_folder(tmp_path / "site", 8, seed=4)
    base = make_random_bundle(tmp_path / "base", input_size=64)
    out = tmp_path / "with-stats"
    argv = ["familiarity", "--base", str(base), "--data", str(data), "--val-fraction", "0.25"]
    assert main([*argv, "--presence-threshold", "0.2", "--out", str(out)]) == 0
    before, after = read_spec(base), read_spec(out)
    assert after.weights_sha256 == before.weights_sha256 and before.familiarity is None
    assert (
        after.presence_threshold == 0.2 and after.familiarity["fitted_on"] > after.familiarity["held_out"] > 0
    )
    assert load_familiarity(out, after.familiarity) is not None
    assert (out / "model.safetensors").read_bytes() == (base / "model.safetensors").read_bytes()
    assert main([*argv, "--out", str(out)]) == 1  # never overwritten
    assert "already exists" in capsys.readouterr().err
    assert main([*argv, "--presence-threshold", "1.5", "--out", str(tmp_path / "bad")]) == 1
    assert "presence_threshold must be" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_the_retrain_gate_judges_both_models_at_the_base_bundles_presence_cut(
    v2, tmp_path: Path, monkeypatch, capsys
) -> None:
    out, corrections = v2
    base = tmp_path / "base"
    shutil.copytree(out, base)
    spec = json.loads((base / "model.json").read_text())
    spec["presence_threshold"] = 0.35
    (base / "model.json").write_text(json.dumps(spec))
    cuts = []
    measure = retrain.measure

    def spy(model, parts, device, presence_cut=PRESENCE_THRESHOLD):
        cuts.append(presence_cut)
        return measure(model, parts, device, presence_cut)

    monkeypatch.setattr(retrain, "measure", spy)
    argv = ["retrain", "--base", str(base), "--data", str(corrections), "--out", str(tmp_path / "models")]
    argv += ["--work", str(tmp_path / "w"), "--epochs", "1", "--publish-anyway", "--version", "tiny-v2-cut"]
    assert main([*argv, *FAST[2:]]) == 0, capsys.readouterr().err
    assert cuts == [0.35, 0.35]  # before and after training, not the default cut


def test_frames_under_the_presence_cut_get_no_outline_in_the_gates_scores() -> None:
    torch.manual_seed(0)
    model = create_model("c5net_tiny", input_size=64, presence=True).eval()
    samples = from_arrays([(lesion, mask, 1, "g", "f") for lesion, mask in _two_lesions()], 64)
    spec = InputSpec.of(model.default_cfg)
    never, always = (predict_samples(model, samples, spec, "cpu", presence_cut=c)[0] for c in (0.0, 1.0))
    assert never.max() > 1e-3 and always.max() < 1e-9  # the cut alone decides whether an outline is left


def _two_lesions() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(2):
        image, mask = lesion_frame(rng, malignant=False)
        small = cv2.resize(mask, (64, 64), interpolation=cv2.INTER_NEAREST)
        frames.append((cv2.resize(image, (64, 64)), small))
    return frames
