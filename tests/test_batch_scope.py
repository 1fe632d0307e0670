"""The batch CSV's scope columns: `in_scope` true/false with its reason, a Doppler frame told from B-mode,
and CSVs written before the columns existed resumed rather than refused."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom.data import get_testdata_file

from c5desk.batch import COLUMNS, OLD_COLUMNS, score_paths
from c5desk.inference import make_predictor
from c5desk.model.bundle import make_random_bundle


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory):
    bundle = make_random_bundle(tmp_path_factory.mktemp("bundles") / "tiny", arch="c5net_tiny", input_size=64)
    return make_predictor(bundle, device="cpu", backend="torch")


def speckle(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.rayleigh(40.0, (120, 160)) + 10, 0, 255).astype(np.uint8)


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    root = tmp_path / "cases"
    root.mkdir()
    cv2.imwrite(str(root / "a_bmode.png"), speckle(0))
    colour = cv2.cvtColor(speckle(1), cv2.COLOR_GRAY2BGR)
    cv2.ellipse(colour, (80, 60), (30, 10), 15, 0, 360, (30, 30, 220), cv2.FILLED)  # red flow (BGR)
    cv2.imwrite(str(root / "b_flow.png"), colour)
    doppler = get_testdata_file("US1_UNCR.dcm", download=False)
    if doppler:
        shutil.copy(doppler, root / "c_doppler.dcm")
    return root


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS and COLUMNS[-3:-1] == ["in_scope", "scope_reason"]
        return {Path(row["source"]).name: row for row in reader}


def test_scope_columns_tell_doppler_from_b_mode(predictor, cases: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    summary = score_paths([cases], predictor, out)
    assert summary.errors == 0
    found = rows(out)
    assert found["a_bmode.png"]["in_scope"] == "true" and found["a_bmode.png"]["scope_reason"] == ""
    assert found["b_flow.png"]["in_scope"] == "false"
    assert found["b_flow.png"]["scope_reason"].startswith("colour Doppler")
    if "c_doppler.dcm" in found:  # GE LOGIQ lymph node with power Doppler (pydicom-data)
        assert found["c_doppler.dcm"]["in_scope"] == "false"


@pytest.mark.parametrize("old", OLD_COLUMNS)
def test_a_csv_from_before_the_scope_columns_is_resumed(predictor, cases: Path, tmp_path: Path, old) -> None:
    out = tmp_path / "scores.csv"
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=old)
        writer.writeheader()
        writer.writerow(dict.fromkeys(old, "") | {"source": str(cases / "a_bmode.png"), "frame": "0",
                                                  "status": "ok", "p_malignant": "0.5"})  # fmt: skip
    summary = score_paths([cases], predictor, out)
    assert summary.skipped == 1  # the row already scored is kept, not scored again
    found = rows(out)
    assert found["a_bmode.png"]["p_malignant"] == "0.5" and found["a_bmode.png"]["in_scope"] == ""
    assert found["b_flow.png"]["in_scope"] == "false"
