"""scripts/evaluate_card.sh (every evaluation behind a model card) and scripts/card_table.py (its table,
printed from those files) on a random model-v2 bundle and three tiny labelled sets."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.model.bundle import make_random_bundle

ROOT = Path(__file__).resolve().parents[2]
SETS = ("busbra", "bus_uclm", "breast_lesions_usg")


def labelled_set(folder: Path, seed: int) -> None:
    """Three test rows (benign, malignant, lesion-free) and one train row the evaluation must leave out."""
    (folder / "img").mkdir(parents=True)
    rows = []
    for i, (label, split) in enumerate([("benign", "test"), ("malignant", "test"), ("normal", "test"),
                                        ("benign", "train")]):  # fmt: skip
        rng = np.random.default_rng(seed * 10 + i)
        image = (90 + 40 * rng.random((72, 96))).astype(np.uint8)
        mask = np.zeros(image.shape, np.uint8)
        if label != "normal":
            cv2.circle(mask, (30 + 10 * i, 36), 12, 255, -1)
        image[mask > 0] //= 3
        cv2.imwrite(str(folder / f"img/{i}.png"), image)
        cv2.imwrite(str(folder / f"img/m{i}.png"), mask)
        rows.append([f"img/{i}.png", f"img/m{i}.png", label, split, f"p{i}"])
    with (folder / "labels.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows([["image", "mask", "label", "split", "group"], *rows])


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("card")
    for seed, name in enumerate(SETS):
        labelled_set(root / "data" / name, seed)
    bundle = make_random_bundle(root / "bundle", input_size=64, prompts=True, presence=True)
    env = {**os.environ, "C5DESK": str(Path(sys.executable).parent / "c5desk")}
    script = ROOT / "scripts" / "evaluate_card.sh"
    done = subprocess.run([str(script), str(bundle), str(root / "eval"), str(root / "data")], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return root / "eval"


def test_every_set_and_mode_is_evaluated_in_the_bundle_layout(evaluated: Path) -> None:
    for name in SETS:
        for mode in ("none", "box", "clicks"):
            assert (evaluated / "prompted" / f"{name}-{mode}.json").is_file(), (name, mode)
    assert (evaluated / "test_metrics.json").read_text() == (
        evaluated / "prompted/busbra-none.json"
    ).read_text()
    assert (evaluated / "per_image.csv").is_file() and (evaluated / "roc.png").is_file()


def test_the_table_is_printed_from_those_files(evaluated: Path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("card_table", ROOT / "scripts" / "card_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([f"tiny={evaluated}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + len(SETS) and lines[2].startswith("| BUS-BRA | tiny | ")
    assert all(
        "(2) |" in line and "(1 frame)" in line for line in lines[2:]
    )  # 2 lesion frames, 1 lesion-free
    assert module.main([f"tiny={evaluated.parent / 'missing'}"]) == 1
    assert module.main(["no-folder-given"]) == 2


def test_the_presence_cut_is_the_highest_that_keeps_every_sites_lesions_found() -> None:
    spec = importlib.util.spec_from_file_location("cut", ROOT / "scripts" / "choose_presence_cut.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # site a: 20 lesions at P(lesion) 0.9; site b: 20 lesions (one at 0.12, one at 0.45) and 2 lesion-free
    present = np.array([0.9] * 20 + [0.12, 0.45] + [0.9] * 18 + [0.4, 0.01])
    lesion = np.array([True] * 40 + [False, False])
    sites = np.array(["a"] * 20 + ["b"] * 22)
    report = module.table(present, np.ones(42, bool), lesion, sites)
    assert report["b"]["cuts"][0.15] == (0.95, 0.5) and report["a"]["cuts"][0.5] == (1.0, None)
    assert module.chosen_cut(report, 0.95) == 0.3  # b keeps 19 of 20 up to 0.3, 18 at 0.5
    assert module.chosen_cut(report, 1.0) == 0.1
