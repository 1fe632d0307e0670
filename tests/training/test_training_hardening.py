"""Issue 15 hardening of training: a category a command does not need never stops it (TI-RADS 4a-4c, or
an unreadable one: unknown, with a warning); the per-image CSV is spreadsheet-safe, read back as written."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.model.bundle import make_random_bundle
from training.data import DataError, DataWarning, load_labelled
from training.evaluate import ImageResult, evaluate, per_image_csv
from training.per_image import read_per_image, results_from_csv
from training.retrain import load_corrections

HEADER = ["image", "mask", "label", "group", "tirads", "category", "note"]
ROWS = [  # (label, tirads, category, note)
    ("malignant", "4a", "", ""),
    ("benign", "4B", "", ""),
    ("malignant", "", "TR4c", ""),
    ("benign", "", "K-TIRADS 3", "x" * 5000),  # unreadable category, over-long note: neither is needed
]


def _folder(root: Path, names: list[str] | None = None) -> Path:
    rows = []
    for i, (label, tirads, category, note) in enumerate(ROWS):
        name = (names or [f"img/{i}.png" for i in range(len(ROWS))])[i]
        rng = np.random.default_rng(i)
        image = (100 + 30 * rng.random((72, 96))).astype(np.uint8)
        mask = np.zeros((72, 96), np.uint8)
        cv2.ellipse(mask, (30 + 4 * i, 36), (14, 9), 0, 0, 360, 255, cv2.FILLED)
        for path, pixels in ((root / name, image), (root / f"masks/{i}.png", mask)):
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), pixels)
        rows.append([name, f"masks/{i}.png", label, f"p{i % 2}", tirads, category, note])
    with (root / "labels.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return root


def test_training_data_takes_tirads_letters_and_warns_on_unneeded_values(tmp_path):
    folder = _folder(tmp_path / "thyroid")
    with pytest.warns(DataWarning) as caught:
        samples = load_labelled(folder, 64)
        corrections = load_corrections(folder, 64)  # what `training retrain --data FOLDER` loads
    assert len(samples) == len(corrections) == 4 and samples.class_counts() == (2, 2)
    messages = sorted({str(w.message) for w in caught})
    assert messages == [
        "thyroid/labels.csv line 5: category taken as unknown: category 'K-TIRADS 3' is not a BI-RADS or "
        "TI-RADS assessment (e.g. 'BI-RADS 4a')",
        "thyroid/labels.csv line 5: note left out: note is 5000 characters long (at most 4000)",
    ]


def test_evaluate_is_not_stopped_by_a_category_it_does_not_need(tmp_path):
    folder = _folder(tmp_path / "thyroid")
    bundle = make_random_bundle(tmp_path / "bundle", arch="c5net_tiny", input_size=64)
    with pytest.warns(DataWarning, match="category taken as unknown"):
        summary = evaluate(bundle, folder, n_boot=5, out_csv=tmp_path / "per_image.csv")
    assert summary["n"] == 4 and summary["n_classified"] == 4


def test_per_image_csv_quotes_formula_names_and_reads_them_back(tmp_path):
    names = ["=1+1.png", "+cmd.png", "@x.png", "plain.png"]
    folder = _folder(tmp_path / "data", names)
    results = [
        ImageResult(image=name, label=ROWS[i][0], p_malignant=0.25 * i, uncertainty=0.1, segmented=True,
                    calibrated=False, dice=0.5, iou=0.4, hd95_px=3.0)
        for i, name in enumerate(names)
    ]  # fmt: skip
    path = tmp_path / "per_image.csv"
    path.write_text(per_image_csv(results, "px"))
    with path.open(newline="") as stream:
        written = [row["image"] for row in csv.DictReader(stream)]
    assert written == ["'=1+1.png", "'+cmd.png", "'@x.png", "plain.png"]
    assert list(read_per_image(path)) == names
    assert [r.image for r in results_from_csv(path, folder)] == names  # grouped through labels.csv


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("out_csv", "--csv results: is a folder, not a file"),
        ("plots_dir", "--plots results: is a file, not a folder"),
    ],
)
def test_evaluate_refuses_a_folder_for_a_file_and_vice_versa_before_any_work(tmp_path, option, message):
    folder = _folder(tmp_path / "data")
    target = tmp_path / "results"
    target.mkdir() if option == "out_csv" else target.write_text("mine")
    with pytest.raises(DataError, match=f"^{message}$"):
        evaluate(tmp_path / "no-bundle-needed", folder, **{option: target})  # refused before loading it


@pytest.mark.parametrize("command", ["finetune", "pretrain", "retrain"])
def test_a_bad_out_is_refused_before_any_training(tmp_path, monkeypatch, capsys, command):
    import training.cli as training_cli
    from training import recipes, retrain_cli

    def must_not_train(*args, **kwargs):
        raise AssertionError("trained although --out was unusable")

    for module, name in ((recipes, "finetune"), (recipes, "pretrain"), (retrain_cli, "run")):
        monkeypatch.setattr(module, name, must_not_train)
    taken = tmp_path / "taken"
    taken.write_text("a file of the user's", encoding="utf-8")
    extra = ["--base", str(tmp_path), "--data", str(tmp_path)] if command == "retrain" else []
    assert training_cli.main([command, "--out", str(taken), *extra]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error: " in err[0] and "taken" in err[0], err
    assert taken.read_text(encoding="utf-8") == "a file of the user's"
