"""`training descriptors`: expert labels mapped to the lexicon, kappa, the fits, and the command end to end
on a small synthetic labelled folder with a random-weight bundle."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.lesion.descriptors import FITTED, read_parameters
from c5desk.lesion.lexicon import DESCRIPTORS
from c5desk.model.bundle import make_random_bundle
from training.cli import main as training_main
from training.descriptor_agreement import ROWS, cohen_kappa
from training.descriptor_data import expert_margin, expert_terms
from training.descriptor_fit import fit_descriptor
from training.descriptor_learned import pooled_features

# (shape, margin, echogenicity, posterior) as the expert table spells them, one kind of lesion each
KINDS = [
    ("oval", "circumscribed", "hypoechoic", "no"),
    ("irregular", "not circumscribed - spiculated&indistinct", "heterogeneous", "shadowing"),
    ("round", "circumscribed", "anechoic", "enhancement"),
]
HEADER = ["image", "mask", "label", "split", "fold", "mm_per_px"]
HEADER += ["shape", "margin", "echogenicity", "posterior_features"]


def lesion_image(kind: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A 96x128 speckled frame with an oval, a spiky or a round lesion (darker, with its posterior)."""
    mask = np.zeros((96, 128), np.uint8)
    centre = (int(rng.integers(50, 78)), int(rng.integers(36, 46)))
    if kind == 1:
        angles = np.arange(16) * np.pi / 8
        radii = np.where(np.arange(16) % 2 == 0, 24, 10)
        points = np.stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(mask, [np.rint(points).astype(np.int32)], 1)
    else:
        cv2.ellipse(mask, centre, (22, 12) if kind == 0 else (15, 15), 0, 0, 360, 1, cv2.FILLED)
    level = np.full(mask.shape, 120.0)
    level[mask > 0] = (50, 60, 8)[kind]
    rows, cols = np.nonzero(mask)
    level[rows.max() + 1 :, cols.min() : cols.max() + 1] *= (1.0, 0.4, 1.6)[kind]
    grey = level * rng.rayleigh(1.0, mask.shape) / math.sqrt(math.pi / 2)
    return np.clip(grey, 0, 255).astype(np.uint8), mask


def write_folder(folder: Path, n_train: int = 12, n_test: int = 6) -> Path:
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    rows = []
    for i in range(n_train + n_test):
        kind, split = i % 3, "train" if i < n_train else "test"
        grey, mask = lesion_image(kind, rng)
        cv2.imwrite(str(folder / "images" / f"{i}.png"), grey)
        cv2.imwrite(str(folder / "masks" / f"{i}.png"), mask * 255)
        fold = str(i % 4 + 1) if split == "train" else "5"
        label = "malignant" if kind == 1 else "benign"
        rows.append([f"images/{i}.png", f"masks/{i}.png", label, split, fold, "0.1", *KINDS[kind]])
    cv2.imwrite(str(folder / "images" / "normal.png"), np.full((96, 128), 120, np.uint8))
    rows.append(["images/normal.png", "", "normal", "test", "5", "0.1", *["not applicable"] * 4])
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([HEADER, *rows])
    return folder


# ---- expert labels and agreement ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expert", "ours"),
    [
        ("circumscribed", "circumscribed"),
        ("not circumscribed - indistinct", "indistinct"),
        ("not circumscribed - microlobulated&indistinct", "microlobulated"),
        ("not circumscribed - angular&microlobulated&indistinct", "angular"),
        ("not circumscribed - spiculated&angular&microlobulated&indistinct", "spiculated"),
        ("not applicable", None),
    ],
)
def test_expert_margins_map_to_the_dominant_subtype(expert: str, ours: str | None) -> None:
    assert expert_margin(expert) == ours


def test_expert_terms_use_the_lexicon_spelling_and_skip_what_is_not_applicable() -> None:
    row = {"shape": "oval", "margin": "circumscribed"}
    row |= {"echogenicity": "complex cystic/solid", "posterior_features": "no"}
    assert expert_terms(row) == {
        "shape": "oval",
        "margin": "circumscribed",
        "echo_pattern": "complex cystic and solid",
        "posterior_features": "no posterior features",
    }
    assert expert_terms(dict.fromkeys(row, "not applicable")) == {}


def test_cohen_kappa_matches_hand_computed_values() -> None:
    truth = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    assert cohen_kappa(truth, truth, 3) == pytest.approx(1.0)
    assert cohen_kappa(truth, np.zeros(10, int), 3) == pytest.approx(0.0)
    # 2x2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.4
    a = np.r_[np.zeros(25, int), np.ones(25, int)]
    b = np.r_[np.zeros(20, int), np.ones(5, int), np.zeros(10, int), np.ones(15, int)]
    assert cohen_kappa(a, b, 2) == pytest.approx(0.4)
    assert math.isnan(cohen_kappa(np.zeros(5, int), np.zeros(5, int), 2))


def test_a_separable_descriptor_is_learned_from_train_folds() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    x = np.c_[y + rng.normal(0, 0.2, 60), rng.normal(0, 1, 60)]
    labels = [DESCRIPTORS["shape"][i] for i in y]
    fit = fit_descriptor(x, labels, np.arange(60) % 4, "shape")
    assert fit.cv_kappa > 0.9
    assert fit.predict(np.array([[0.0, 0.0], [2.0, 0.0]])) == ["oval", "irregular"]


def test_pooled_features_average_the_views_of_the_two_coarsest_maps() -> None:
    maps = [np.zeros((2, 8, 16, 16)), np.ones((2, 4, 8, 8)), np.full((2, 3, 4, 4), 2.0)]
    mask = np.zeros((2, 1, 64, 64), np.float32)
    mask[:, :, 16:40, 16:48] = 1
    vector = pooled_features(maps, mask)
    assert vector.shape == (3 + 3 * 4,)
    assert np.allclose(vector[:3], 2.0) and np.allclose(vector[3:], 1.0)


# ---- the command -----------------------------------------------------------------------------------------
def test_the_command_fits_measures_and_writes_the_table(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "lexicon")
    bundle = make_random_bundle(tmp_path / "bundle", arch="c5net_tiny", input_size=64)
    params, out = tmp_path / "params.json", tmp_path / "out"
    argv = ["descriptors", "--data", str(folder), "--out", str(out), "--params", str(params)]
    argv += ["--fit-handcrafted", "--bundle", str(bundle), "--bootstrap", "50"]
    assert training_main(argv) == 0

    fitted = json.loads(params.read_text(encoding="utf-8"))
    assert fitted["data"]["folder"] == "lexicon"
    assert (fitted["data"]["split"], fitted["data"]["lesions"]) == ("train", 12)
    assert set(read_parameters(params)) == set(FITTED)
    assert fitted["models"]["shape"]["train_counts"] == {"oval": 4, "round": 4, "irregular": 4}

    report = json.loads((out / "agreement.json").read_text(encoding="utf-8"))
    assert list(report["descriptors"]) == list(ROWS)
    assert report["n_test"] == 6 and report["n_train"] == 12  # the normal frame has no lesion to describe
    for entry in report["descriptors"].values():
        assert entry["n"] == 6
        for route in ("handcrafted", "learned"):
            assert 0 <= entry[route]["accuracy"] <= 1
            assert sum(map(sum, entry[route]["confusion"])) == 6
    assert report["descriptors"]["shape"]["handcrafted"]["accuracy"] == 1.0  # three clear-cut kinds
    table = (out / "agreement.md").read_text(encoding="utf-8")
    assert table.startswith("| descriptor | n | majority acc | handcrafted acc")
    assert table.count("\n") == 2 + len(ROWS)


def test_the_handcrafted_route_alone_needs_no_bundle(tmp_path: Path, capsys) -> None:
    folder = write_folder(tmp_path / "lexicon")
    params = tmp_path / "params.json"
    argv = ["descriptors", "--data", str(folder), "--out", str(tmp_path / "out"), "--params", str(params)]
    argv += ["--fit-handcrafted", "--no-learned", "--bootstrap", "20", "--limit", "9"]
    assert training_main(argv) == 0
    assert "learned" not in capsys.readouterr().out
    assert json.loads(params.read_text(encoding="utf-8"))["data"]["lesions"] == 9


def test_a_folder_without_lexicon_columns_is_a_clear_error(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "labels.csv").write_text("image,mask,label,split\n", encoding="utf-8")
    assert training_main(["descriptors", "--data", str(folder), "--no-learned"]) == 1
    assert "BI-RADS lexicon columns" in capsys.readouterr().err
