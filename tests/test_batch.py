"""Batch scoring into a CSV: real files, bad files, resume, cancel, and the command line."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from c5desk.batch import COLUMNS, score_paths, select_frames
from c5desk.cli import main
from c5desk.inference import Predictor, make_predictor
from c5desk.model.bundle import make_random_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return make_random_bundle(tmp_path_factory.mktemp("bundles") / "tiny", arch="c5net_tiny", input_size=64)


@pytest.fixture(scope="module")
def predictor(bundle: Path) -> Predictor:
    return make_predictor(bundle, device="cpu", backend="torch")


@pytest.fixture
def folder(tmp_path: Path, busbra_root: Path) -> Path:
    root = tmp_path / "cases"
    (root / "sub").mkdir(parents=True)
    for name in ("bus_0002-l.png", "bus_0002-r.png", "bus_0005-l.png"):
        shutil.copy(busbra_root / "Images" / name, root / name)
    shutil.copy(get_testdata_file("OBXXXX1A_2frame.dcm"), root / "sub" / "cine.dcm")
    shutil.copy(get_testdata_file("JPGLosslessP14SV1_1s_1f_8b.dcm"), root / "sub" / "calibrated.dcm")
    (root / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    return root


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        return list(reader)


@pytest.mark.parametrize(
    ("count", "frames", "expected"),
    [
        (5, "first", [0]),
        (5, "all", [0, 1, 2, 3, 4]),
        (5, "3", [0, 2, 4]),
        (2, "9", [0, 1]),
        (7, "1", [0]),
        (0, "all", []),
    ],
)
def test_select_frames(count: int, frames: str, expected: list[int]) -> None:
    assert select_frames(count, frames) == expected


def test_scores_a_folder_with_a_bad_file(folder: Path, predictor: Predictor, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    summary = score_paths(
        [folder],
        predictor,
        out,
        frames="all",
        batch_size=3,
        masks_dir=tmp_path / "m",
        overlays_dir=tmp_path / "o",
    )
    rows = read_rows(out)
    assert summary.ok == 3 + 2 + 1 and summary.errors == 1
    assert len(rows) == 7
    errors = [r for r in rows if r["status"] == "error"]
    assert len(errors) == 1 and errors[0]["source"].endswith("broken.png") and errors[0]["error"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert {r["frame"] for r in ok if r["source"].endswith("cine.dcm")} == {"0", "1"}
    calibrated = next(r for r in ok if r["source"].endswith("calibrated.dcm"))
    assert calibrated["calibrated"] == "true"
    assert all(r["calibrated"] == "false" for r in ok if r["source"].endswith(".png"))
    assert all(0 <= float(r["p_malignant"]) <= 1 and r["model_version"].startswith("random-") for r in ok)
    assert all(r["device"].startswith("CPU") for r in ok)
    assert len(list((tmp_path / "m").glob("*.png"))) == 6 and len(list((tmp_path / "o").glob("*.png"))) == 6


def test_rerun_resumes_and_retries_errors(folder: Path, predictor: Predictor, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    score_paths([folder], predictor, out, frames="first")
    again = score_paths([folder], predictor, out, frames="first")
    assert again.ok == 0 and again.skipped == 5 and again.errors == 1
    rows = read_rows(out)
    assert len(rows) == 6 and sum(r["status"] == "error" for r in rows) == 1


def test_cancel_leaves_a_valid_csv_that_resumes(folder: Path, predictor: Predictor, tmp_path: Path) -> None:
    out, cancel = tmp_path / "results.csv", threading.Event()

    def stop_after_first_batch(summary, _files) -> None:
        if summary.ok:
            cancel.set()

    first = score_paths(
        [folder], predictor, out, frames="all", batch_size=2, progress=stop_after_first_batch, cancel=cancel
    )
    assert first.cancelled and 0 < first.ok < 6
    partial = read_rows(out)
    rest = score_paths([folder], predictor, out, frames="all", batch_size=2)
    assert rest.skipped == first.ok
    rows = read_rows(out)
    assert len({(r["source"], r["frame"]) for r in rows if r["status"] == "ok"}) == 6
    assert len(partial) < len(rows)


def test_out_file_of_another_kind_is_refused(folder: Path, predictor: Predictor, tmp_path: Path) -> None:
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n")
    from c5desk.errors import C5Error

    with pytest.raises(C5Error, match="other columns"):
        score_paths([folder], predictor, out)
    assert out.read_text() == "a,b\n1,2\n"


def test_score_command(folder: Path, bundle: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli.csv"
    code = main(
        [
            "score",
            str(folder),
            "--out",
            str(out),
            "--model",
            str(bundle),
            "--device",
            "cpu",
            "--backend",
            "torch",
        ]
    )
    assert code == 0
    assert len(read_rows(out)) == 6
    assert "5 scored, 1 errors" in capsys.readouterr().err


def test_score_command_interrupted_leaves_valid_csv(folder: Path, bundle: Path, tmp_path: Path) -> None:
    """SIGINT mid-run (Ctrl+C): exit 130 and a CSV whose rows are all complete."""
    import signal
    import time

    out = tmp_path / "int.csv"
    for i in range(30):
        shutil.copy(next(folder.glob("*.png")), folder / f"copy_{i:02d}.png")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "c5desk.cli",
            "score",
            str(folder),
            "--out",
            str(out),
            "--model",
            str(bundle),
            "--device",
            "cpu",
            "--backend",
            "torch",
            "--batch-size",
            "1",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    rows = read_rows(out)
    assert proc.returncode in (0, 130), err
    assert rows and all(r["status"] in ("ok", "error") for r in rows)
    if proc.returncode == 130:
        assert "interrupted" in err and len(rows) < 36


def test_cancel_from_elsewhere_stops_the_reader(folder: Path, predictor: Predictor, tmp_path: Path) -> None:
    """A cancel raised elsewhere (the GUI's button) must not leave the reader or the scorer blocked."""
    cancel = threading.Event()
    cancel.set()
    summary = score_paths([folder], predictor, tmp_path / "r.csv", frames="all", cancel=cancel)
    assert summary.cancelled and summary.ok == 0
    assert not [t for t in threading.enumerate() if t.name == "c5desk-reader" and t.is_alive()]
    assert read_rows(tmp_path / "r.csv") == []
