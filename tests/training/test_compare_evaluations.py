"""scripts/compare_evaluations.py and training.per_image: paired patient bootstrap from per-image CSVs."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from training.data import DataError
from training.evaluate import CSV_COLUMNS
from training.per_image import image_groups, main, summary_from_csv

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_evaluations.py"
INTERVAL = re.compile(r"Δ(\w+) ([+-]\d\.\d+) \[([+-]\d\.\d+), ([+-]\d\.\d+)\]")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("compare_evaluations", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _pair(tmp_path: Path, patients: list[str], column: str | None = "patient") -> tuple[Path, Path, Path]:
    """Two models' per-image CSVs over the same images, and a labelled folder naming each image's patient.

    Images of one patient are identical views: every view of a patient gets the same values."""
    rng = np.random.default_rng(1)
    rows_a, rows_b, table, seen = [], [], [], {}
    for i, patient in enumerate(patients):
        if patient not in seen:  # dice of B, Dice gain of A, malignant, P(malignant) of A and of B
            malignant = int(rng.random() < 0.5)
            seen[patient] = (rng.uniform(0.6, 0.9), rng.normal(0.01, 0.03), malignant,
                             *np.clip(0.3 + 0.3 * malignant + rng.normal(0, 0.2, 2), 0, 1))  # fmt: skip
        dice, gain, malignant, p_a, p_b = seen[patient]
        label = "malignant" if malignant else "benign"
        image = f"Images/{i:03d}.png"
        rows_a.append([image, label, p_a, dice + gain, 0.7, 3.0, 0.1])
        rows_b.append([image, label, p_b, dice, 0.7, 3.0, 0.1])
        table.append([image, f"Masks/{i:03d}.png", label, "test", *([patient] if column else [])])
    header = ["image", "mask", "label", "split", *([column] if column else [])]
    folder = tmp_path / "data"
    _write(folder / "labels.csv", header, table)
    a = _write(tmp_path / "a.csv", list(CSV_COLUMNS), rows_a)
    b = _write(tmp_path / "b.csv", list(CSV_COLUMNS), rows_b)
    return a, b, folder


def _parse(lines: list[str]) -> dict[str, tuple[float, float, float]]:
    found = {m[1]: tuple(map(float, m.groups()[1:])) for line in lines if (m := INTERVAL.search(line))}
    return found


def test_paired_patient_bootstrap_is_wider_than_the_image_one(tmp_path: Path, script) -> None:
    patients = [f"p{i // 4}" for i in range(80)]  # 20 patients, four identical views each
    a, b, folder = _pair(tmp_path, patients)
    lines = script.compare(a, b, folder, n_boot=500)
    assert lines[0].startswith("resampling 20 patients/groups")
    grouped = _parse(lines)
    _a, _b, plain = _pair(tmp_path / "plain", patients, column=None)
    image_lines = script.compare(a, b, plain, n_boot=500)
    assert image_lines[0].startswith("resampling images")
    by_image = _parse(image_lines)
    assert grouped["Dice"][0] == by_image["Dice"][0]  # the same difference, only its interval changes
    width = {name: values[2] - values[1] for name, values in grouped.items()}
    assert width["Dice"] > 1.5 * (by_image["Dice"][2] - by_image["Dice"][1])
    assert script.compare(a, b, folder, n_boot=500) == lines  # seeded


def test_image_resampling_draws_what_the_old_script_drew(tmp_path: Path, script) -> None:
    """Without a patient column the intervals are the former image bootstrap's, draw for draw."""
    from training.metrics import bootstrap_ci

    a, b, folder = _pair(tmp_path, [f"p{i}" for i in range(30)], column=None)
    lines = script.compare(a, b, folder, n_boot=300, seed=2)
    dice = [np.array([float(r["dice"]) for r in csv.DictReader(p.open())]) for p in (a, b)]
    low, high = bootstrap_ci(dice, lambda x, y: x.mean() - y.mean(), 300, 2)
    assert _parse(lines)["Dice"][1:] == (round(low, 3), round(high, 3))


def test_missing_labels_or_images_are_reported(tmp_path: Path, script, capsys) -> None:
    a, b, folder = _pair(tmp_path, ["p1", "p1", "p2"])
    assert script.main([str(a), str(b), "--data", str(tmp_path / "nowhere")]) == 1
    assert "no labels.csv" in capsys.readouterr().err
    _write(
        folder / "labels.csv", ["image", "mask", "label", "patient"], [["Images/000.png", "m", "benign", "p"]]
    )
    with pytest.raises(DataError, match="lacks 2 image"):
        image_groups(folder, ["Images/000.png", "Images/001.png", "Images/002.png"])
    assert script.main([str(a), str(b), "--data", str(folder)]) == 1


def test_group_column_wins_over_patient(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    header = ["image", "mask", "label", "group", "patient"]
    rows = [
        ["x.png", "m", "benign", "g1", "a"],
        ["y.png", "m", "benign", "g1", "b"],
        ["z.png", "m", "benign", "", "c"],
    ]
    _write(folder / "labels.csv", header, rows)
    groups = image_groups(folder, ["x.png", "y.png", "z.png"])
    assert groups[0] == groups[1] != groups[2]


def test_summary_from_csv_writes_patient_intervals(tmp_path: Path) -> None:
    a, _b, folder = _pair(tmp_path, [f"p{i // 2}" for i in range(40)])
    summary = summary_from_csv(a, folder, n_boot=200)
    assert summary["ci_resampling"] == "group" and summary["n_groups"] == 20 and summary["n"] == 40
    assert (
        main([str(a), "--data", str(folder), "--bootstrap", "200", "--json", str(tmp_path / "s.json")]) == 0
    )
    assert json.loads((tmp_path / "s.json").read_text()) == summary
