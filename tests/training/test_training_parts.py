"""Training building blocks: augmentation, patient-disjoint splits, checkpoints, gate, cancel, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from synthetic_lesions import FAST, json_events, write_folder

from c5desk.model import create_model
from c5desk.settings import PROJECT_ROOT
from training import checkpoint as ckpt
from training.augment import NO_AUGMENT, AugmentConfig, augment
from training.cli import main
from training.data import DataError, Samples, group_split, load_labelled
from training.loop import FitConfig, make_optimizer
from training.progress import Reporter


def samples(groups: list[str]) -> Samples:
    n = len(groups)
    return Samples(
        np.zeros((n, 8, 8), np.uint8),
        np.zeros((n, 8, 8), np.uint8),
        np.arange(n) % 2,
        groups,
        list(map(str, range(n))),
    )


def test_augmentation_never_flips_depth() -> None:
    """A lesion in the upper half stays in the upper half (no vertical flip), whatever the draw."""
    image = np.full((64, 64), 100, np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[8:20, 20:44] = 1
    rng = np.random.default_rng(0)
    for _ in range(200):
        pixels, moved = augment(image, mask, rng, AugmentConfig())
        rows = np.flatnonzero(moved.any(axis=1))
        assert rows.size and rows.max() < 32
        assert pixels.dtype == np.float32 and pixels.min() >= 0 and pixels.max() <= 255
        assert set(np.unique(moved)) <= {0, 1}


def test_augmentation_is_reproducible_and_neutral_when_off() -> None:
    image = np.random.default_rng(1).integers(0, 255, (32, 32)).astype(np.uint8)
    mask = (image > 128).astype(np.uint8)
    first = augment(image, mask, np.random.default_rng(5), AugmentConfig())
    second = augment(image, mask, np.random.default_rng(5), AugmentConfig())
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    plain, same = augment(image, mask, np.random.default_rng(5), NO_AUGMENT)
    assert np.array_equal(plain, image.astype(np.float32)) and np.array_equal(same, mask)


def test_group_split_keeps_patients_on_one_side() -> None:
    groups = [f"p{i // 3}" for i in range(60)]
    train, val = group_split(samples(groups), 0.2, seed=3)
    assert not {groups[i] for i in train} & {groups[i] for i in val}
    assert 9 <= len(val) <= 15 and len(train) + len(val) == 60
    assert np.array_equal(val, group_split(samples(groups), 0.2, seed=3)[1])


def test_the_test_split_is_never_loaded_for_training(tmp_path) -> None:
    folder = write_folder(tmp_path / "d", 4, seed=0, split="test")
    with pytest.raises(DataError, match="no usable rows"):
        load_labelled(folder, 64, exclude=("test",))
    assert main(["finetune", "--data", str(folder), "--split", "test", "--out", str(tmp_path / "o")]) == 1


def test_busbra_training_rows_exclude_fold_5(busbra_root, tmp_path) -> None:
    table = (busbra_root / "labels.csv").read_text().splitlines()
    keep = [
        table[0],
        *[r for r in table[1:] if r.endswith(",test")][:2],
        *[r for r in table[1:] if ",train" in r][:3],
    ]
    subset = tmp_path / "busbra"
    subset.mkdir()
    for name in ("Images", "Masks"):
        (subset / name).symlink_to(busbra_root / name)
    (subset / "labels.csv").write_text("\n".join(keep) + "\n")
    loaded = load_labelled(subset, 64, splits=["train"], exclude=("test",))
    assert len(loaded) == 3 and loaded.images.shape == (3, 64, 64)
    assert set(loaded.labels) <= {0, 1}


def test_rows_of_one_image_train_as_one_frame_with_every_lesion(tmp_path) -> None:
    """A labelled folder with a lesion column (c5desk's export of a frame with two lesions): one sample,
    the union of the lesion masks, malignant because one lesion is."""
    import cv2

    folder = tmp_path / "lesions"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "images" / "f.png"), rng.integers(0, 255, (64, 64), dtype=np.uint8))
    for number, (y0, x0) in enumerate([(5, 5), (40, 40)], start=1):
        mask = np.zeros((64, 64), np.uint8)
        mask[y0 : y0 + 10, x0 : x0 + 10] = 255
        cv2.imwrite(str(folder / "masks" / f"f_{number}.png"), mask)
    (folder / "labels.csv").write_text(
        "image,mask,label,lesion,split\n"
        "images/f.png,masks/f_1.png,benign,1,train\n"
        "images/f.png,masks/f_2.png,malignant,2,train\n"
    )
    loaded = load_labelled(folder, 64)
    assert len(loaded) == 1 and loaded.labels.tolist() == [1]
    assert loaded.masks[0, 10, 10] and loaded.masks[0, 45, 45] and not loaded.masks[0, 30, 30]


def test_checkpoint_round_trips_model_and_optimizer(tmp_path) -> None:
    model = create_model("unet_resnet", input_size=64)
    optimizer = make_optimizer(model, FitConfig())
    model(torch.zeros(2, 1, 64, 64))[0].sum().backward()
    optimizer.step()
    ckpt.save_checkpoint(tmp_path, model, optimizer, {"fingerprint": "abc", "epoch": 3})
    fresh = create_model("unet_resnet", input_size=64)
    fresh_optimizer = make_optimizer(fresh, FitConfig())
    assert ckpt.load_checkpoint(tmp_path, fresh, fresh_optimizer, "other run") is None
    state = ckpt.load_checkpoint(tmp_path, fresh, fresh_optimizer, "abc")
    assert state["epoch"] == 3
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    moments = [s["exp_avg"] for s in fresh_optimizer.state.values()]
    assert moments and any(m.abs().sum() > 0 for m in moments)


def test_cancel_by_flag_file_then_resume(tmp_path, monkeypatch, capsys) -> None:
    folder = write_folder(tmp_path / "d", 8, seed=2)
    flag = tmp_path / "stop"
    original = Reporter.emit

    def stop_after_first_epoch(self, event, **fields):
        original(self, event, **fields)
        if event == "epoch":
            flag.touch()

    monkeypatch.setattr(Reporter, "emit", stop_after_first_epoch)
    args = ["finetune", "--data", str(folder), "--epochs", "2", "--replay", "0", "--out", str(tmp_path / "b")]
    args += ["--work", str(tmp_path / "w"), "--cancel-file", str(flag), *FAST]
    assert main(args) == 130
    assert not (tmp_path / "b").exists()
    assert [e for e in json_events(capsys.readouterr().out) if e["event"] == "cancelled"]
    monkeypatch.setattr(Reporter, "emit", original)
    flag.unlink()
    assert main(args) == 0
    start = next(e for e in json_events(capsys.readouterr().out) if e["event"] == "start")
    assert start["resumed_from"] == 1 and (tmp_path / "b" / "model.json").is_file()


def test_sigint_cancels_cleanly(tmp_path) -> None:
    folder = write_folder(tmp_path / "d", 8, seed=3)
    command = [sys.executable, "-m", "training", "finetune", "--data", str(folder), "--epochs", "50"]
    command += ["--replay", "0", "--out", str(tmp_path / "b"), "--work", str(tmp_path / "w"), *FAST]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True, env=env)
    for line in process.stdout:
        if '"event": "epoch"' in line:
            process.send_signal(signal.SIGINT)
            break
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 130
    assert '"event": "cancelled"' in out and not (tmp_path / "b").exists()


def test_two_process_ddp_on_cpu(tmp_path) -> None:
    """torchrun + gloo: two ranks share each epoch; rank 0 alone writes the bundle."""
    folder = write_folder(tmp_path / "d", 16, seed=4)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["-m", "training", "finetune", "--data", str(folder), "--epochs", "1", "--replay", "0"]
    command += ["--device", "cpu", "--out", str(tmp_path / "b"), "--work", str(tmp_path / "w"), *FAST]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    start = [e for e in json_events(result.stdout) if e["event"] == "start"]
    # 16 frames, 2 held out (one patient) → 14 train frames: 7 per rank, batch 4 → 1 step per epoch (alone: 3)
    assert len(start) == 1 and start[0]["total_steps"] == 1
    assert (tmp_path / "b" / "model.json").is_file()


def test_a_corrected_mask_starts_a_new_run_instead_of_resuming(tmp_path, capsys) -> None:
    """Same file names, same recipe, one mask changed: the finished checkpoint must not be reused."""
    import cv2

    folder = write_folder(tmp_path / "d", 8, seed=6)
    args = [
        "finetune",
        "--data",
        str(folder),
        "--epochs",
        "1",
        "--replay",
        "0",
        "--work",
        str(tmp_path / "w"),
    ]
    assert main([*args, "--out", str(tmp_path / "b1"), *FAST]) == 0
    mask = cv2.imread(str(folder / "img" / "m0.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(folder / "img" / "m0.png"), cv2.dilate(mask, np.ones((9, 9), np.uint8)))
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "b2"), *FAST]) == 0
    start = next(e for e in json_events(capsys.readouterr().out) if e["event"] == "start")
    assert start["resumed_from"] == 0
