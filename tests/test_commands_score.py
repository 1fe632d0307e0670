"""`c5desk score` on bad input (issue 15): every bad --out/--masks/--overlays/--frames/--batch-size/--model is
one line on stderr, before anything is scored; a reader that dies mid-run makes the command exit non-zero."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from c5desk import batch
from c5desk.batch import reader as batch_reader
from c5desk.cli import main
from c5desk.model.bundle import make_random_bundle

CPU = ["--device", "cpu", "--backend", "torch"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_random_bundle(tmp_path_factory.mktemp("bundles") / "tiny", arch="c5net_tiny", input_size=64)


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    root = tmp_path / "cases"
    root.mkdir()
    shutil.copy(get_testdata_file("OBXXXX1A_2frame.dcm"), root / "cine.dcm")
    shutil.copy(get_testdata_file("JPGLosslessP14SV1_1s_1f_8b.dcm"), root / "calibrated.dcm")
    return root


def run_score(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["score", *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("c5desk score: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("out_is_folder", "is a folder"),
        ("out_parent_missing", "does not exist"),
        ("masks_is_file", "masks folder"),
        ("overlays_is_file", "overlays folder"),
    ],
)
def test_bad_outputs_are_one_line_before_the_model_loads(
    capsys: pytest.CaptureFixture[str], cases: Path, tmp_path: Path, case: str, expected: str
) -> None:
    """The model named does not even exist: the output is checked first, and nothing is written."""
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"mine")
    args = {
        "out_is_folder": ["--out", str(tmp_path)],
        "out_parent_missing": ["--out", str(tmp_path / "missing" / "r.csv")],
        "masks_is_file": ["--out", str(tmp_path / "r.csv"), "--masks", str(taken)],
        "overlays_is_file": ["--out", str(tmp_path / "r.csv"), "--overlays", str(taken)],
    }[case]
    code, err = run_score(capsys, str(cases), *args, "--model", str(tmp_path / "no-such-bundle"), *CPU)
    assert code == 1 and expected in one_error_line(err)
    assert taken.read_bytes() == b"mine" and not (tmp_path / "r.csv").exists()


def test_masks_that_is_a_file_writes_no_ok_row(
    capsys: pytest.CaptureFixture[str], cases: Path, bundle: Path, tmp_path: Path
) -> None:
    """Before: the row was written as ok, then the mask write crashed with a traceback."""
    taken = tmp_path / "taken"
    taken.write_bytes(b"mine")
    out = tmp_path / "r.csv"
    code, err = run_score(
        capsys, str(cases), "--out", str(out), "--masks", str(taken), "--model", str(bundle)
    )
    assert code == 1 and "is a file" in one_error_line(err)
    assert not out.exists() and taken.read_bytes() == b"mine"


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--frames", "0", "--frames"),
        ("--frames", "²", "--frames"),
        ("--frames", "-3", "--frames"),
        ("--batch-size", "0", "between 1 and 256"),
        ("--batch-size", "1000000", "between 1 and 256"),
    ],
)
def test_bad_choices_are_one_line(
    capsys: pytest.CaptureFixture[str],
    cases: Path,
    bundle: Path,
    tmp_path: Path,
    option: str,
    value: str,
    expected: str,
) -> None:
    out = tmp_path / "r.csv"
    code, err = run_score(capsys, str(cases), "--out", str(out), f"{option}={value}", "--model", str(bundle))
    assert code == 1 and expected in one_error_line(err) and not out.exists()


@pytest.mark.parametrize("damage", ["model_json_is_a_folder", "weights_truncated", "not_json", "missing"])
def test_an_unreadable_model_is_one_line(
    capsys: pytest.CaptureFixture[str], cases: Path, bundle: Path, tmp_path: Path, damage: str
) -> None:
    model = tmp_path / "model"
    if damage != "missing":
        shutil.copytree(bundle, model)
    if damage == "model_json_is_a_folder":
        (model / "model.json").unlink()
        (model / "model.json").mkdir()
    elif damage == "weights_truncated":
        weights = model / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "not_json":
        (model / "model.json").write_bytes(b"\xff\xfe{")
    out = tmp_path / "r.csv"
    code, err = run_score(capsys, str(cases), "--out", str(out), "--model", str(model), *CPU)
    assert code == 1 and "model" in one_error_line(err) and not out.exists()


class ReaderKilled(BaseException):
    """Kills the reader thread itself, past every per-file guard."""


def test_a_reader_that_dies_makes_the_command_fail(
    capsys: pytest.CaptureFixture[str],
    cases: Path,
    bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: '0 scored, 0 errors', exit 0 and a header-only CSV."""

    def dies(*_args):
        raise ReaderKilled("numpy could not allocate")

    monkeypatch.setattr(batch_reader, "guarded_items", dies)
    out = tmp_path / "r.csv"
    code, err = run_score(capsys, str(cases), "--out", str(out), "--model", str(bundle), *CPU)
    assert code == 1
    assert "0 scored, 2 errors" in err and "reading stopped early (ReaderKilled" in err
    rows = batch.read_rows(out)
    assert [r["status"] for r in rows] == ["error", "error"]


def test_score_writes_path_free_picture_names_into_the_csv(
    capsys: pytest.CaptureFixture[str], cases: Path, bundle: Path, tmp_path: Path
) -> None:
    out, masks, overlays = tmp_path / "r.csv", tmp_path / "masks", tmp_path / "overlays"
    argv = [
        str(cases),
        "--out",
        str(out),
        "--frames",
        "all",
        "--masks",
        str(masks),
        "--overlays",
        str(overlays),
    ]
    code, err = run_score(capsys, *argv, "--model", str(bundle), *CPU)
    assert code == 0 and "3 scored, 0 errors" in err
    rows = batch.read_rows(out)
    assert sorted(r["mask_file"] for r in rows) == sorted(p.name for p in masks.iterdir())
    assert sorted(r["overlay_file"] for r in rows) == sorted(p.name for p in overlays.iterdir())
    assert not any("cine" in r["mask_file"] or "calibrated" in r["overlay_file"] for r in rows)


@pytest.mark.parametrize("keep_identity", [False, True])
def test_overlays_blank_burned_in_text_unless_identity_is_kept(
    capsys: pytest.CaptureFixture[str], bundle: Path, tmp_path: Path, keep_identity: bool
) -> None:
    import cv2

    # US1_UNCR.dcm carries "BAPTIST MED CTR", a date and more in white in its top 100 rows; the overlay's own
    # legend (score, model) takes the top left, so the text is looked for below and right of it.
    source = tmp_path / "us1.dcm"
    shutil.copy(get_testdata_file("US1_UNCR.dcm"), source)
    flags = ["--keep-identity"] if keep_identity else []
    args = [str(source), "--out", str(tmp_path / "r.csv"), "--model", str(bundle), "--overlays"]
    code, _err = run_score(capsys, *args, str(tmp_path / "overlays"), *CPU, *flags)
    assert code == 0
    [overlay_file] = (tmp_path / "overlays").iterdir()
    band = cv2.imread(str(overlay_file))[50:100, 360:].astype(int)
    white = int(((band.min(axis=2) >= 150) & (np.ptp(band, axis=2) <= 30)).sum())
    assert (white > 300) if keep_identity else (white == 0), white
