"""Batch scoring into a CSV: real files, bad files, resume, cancel, and the command line; then what must
never happen (issue 15): huge frame counts built in memory, a reader fault dropping files silently, NaN
written as a score, pictures named after paths or overwriting files, outputs that fail after scoring."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from c5desk import batch
from c5desk.batch import COLUMNS, score_paths, select_frames
from c5desk.batch import reader as batch_reader
from c5desk.cli import main
from c5desk.errors import C5Error, ReadError
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
    assert list(select_frames(count, frames)) == expected


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
    assert {r["mask_file"] for r in ok} == {p.name for p in (tmp_path / "m").glob("*.png")}
    assert {r["overlay_file"] for r in ok} == {p.name for p in (tmp_path / "o").glob("*.png")}


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


def test_a_run_that_ends_by_itself_is_not_cancelled(
    folder: Path, predictor: Predictor, tmp_path: Path
) -> None:
    """The caller's cancel event is read, never set: a normal end is "Done", and the event can be reused."""
    cancel = threading.Event()
    summary = score_paths([folder], predictor, tmp_path / "r.csv", cancel=cancel)
    assert summary.ok > 0 and not summary.cancelled and not cancel.is_set()


# ---- hardening (issue 15) ----------------------------------------------------------------------------------
def rows_of(out: Path, suffix: str) -> list[dict[str, str]]:
    """A file's rows in frame order (an error row is written at once, ok rows with their batch)."""
    rows = [r for r in read_rows(out) if r["source"].endswith(suffix)]
    return sorted(rows, key=lambda r: int(r["frame"] or -1))


def test_select_frames_never_materialises_a_huge_count() -> None:
    """A header claiming 10**15 frames: 'all' and 'N' are lazy, nothing the size of the count is built."""
    every = select_frames(10**15, "all")
    assert list(itertools.islice(every, 3)) == [0, 1, 2] and len(every) == 10**15
    spaced = select_frames(10**15, str(10**12))
    assert len(spaced) == 10**12 and spaced[0] == 0 and spaced[-1] == 10**15 - 1
    assert list(itertools.islice(spaced, 3)) == [0, 1000, 2000]


@pytest.mark.parametrize("frames", ["0", "-1", "²", "1.5", "every", ""])
def test_bad_frames_choice_is_a_one_line_error(frames: str) -> None:
    with pytest.raises(C5Error, match="--frames"):
        select_frames(10, frames)


def test_a_clip_claiming_more_frames_than_it_holds_gives_one_error_row(
    predictor: Predictor, tmp_path: Path
) -> None:
    """A real RLE cine of 10 frames whose header says 50000: its frames, then one row naming the problem."""
    ds = pydicom.dcmread(get_testdata_file("emri_small_RLE.dcm"))
    ds.NumberOfFrames = 50000
    ds.save_as(tmp_path / "claims.dcm")
    out = tmp_path / "r.csv"
    summary = score_paths([tmp_path / "claims.dcm"], predictor, out, frames="all", batch_size=4)
    rows = read_rows(out)
    errors = [r for r in rows if r["status"] == "error"]
    assert len(rows) <= 11 and len(errors) == 1 and summary.errors == 1  # not 49990 error rows
    assert "claims.dcm" in errors[0]["error"] and "\n" not in errors[0]["error"]
    assert summary.ok == len(rows) - 1 <= 10


class ClaimsTooMuch:
    """A source whose header claims 10**12 frames while its data ends after frame 2."""

    def __init__(self, real) -> None:
        self.real = real

    def __len__(self) -> int:
        return 10**12

    def frame(self, index: int):
        if index >= 3:
            raise ReadError(f"clip.dcm: cannot decode frame {index}: insufficient pixel data")
        return dataclasses.replace(self.real.frame(0), index=index)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.real.close()


def test_the_first_frame_a_file_fails_on_ends_that_file(
    folder: Path, predictor: Predictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = batch_reader.open_source
    monkeypatch.setattr(
        batch_reader,
        "open_source",
        lambda p: ClaimsTooMuch(real_open(p)) if p.name == "cine.dcm" else real_open(p),
    )
    out = tmp_path / "r.csv"
    summary = score_paths([folder], predictor, out, frames="all", batch_size=2)
    cine = rows_of(out, "cine.dcm")
    assert [(r["frame"], r["status"]) for r in cine] == [
        ("0", "ok"),
        ("1", "ok"),
        ("2", "ok"),
        ("3", "error"),
    ]
    assert "insufficient pixel data" in cine[-1]["error"] and f"{10**12 - 4} later frame" in cine[-1]["error"]
    assert summary.ok == 3 + 3 + 1 and summary.errors == 2 and not summary.aborted


def raise_array_memory_error() -> None:
    np.empty(2**62, dtype=np.uint8)  # numpy's own _ArrayMemoryError, a MemoryError subclass


def raise_memory_error() -> None:
    raise MemoryError


def raise_runtime_error() -> None:
    raise RuntimeError("decoder\nexploded")


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (raise_array_memory_error, "bus_0002-r.png: not enough memory to read it"),
        (raise_memory_error, "bus_0002-r.png: not enough memory to read it"),
        (raise_runtime_error, "bus_0002-r.png: could not read it (RuntimeError: decoder exploded)"),
    ],
)
def test_a_reader_fault_is_that_files_error_row_and_the_run_goes_on(
    folder: Path, predictor: Predictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault, expected: str
) -> None:
    real_open = batch_reader.open_source

    def faulty_open(path: Path):
        if path.name == "bus_0002-r.png":
            fault()
        return real_open(path)

    monkeypatch.setattr(batch_reader, "open_source", faulty_open)
    out = tmp_path / "r.csv"
    summary = score_paths([folder], predictor, out, frames="all")
    assert rows_of(out, "bus_0002-r.png") == [dict.fromkeys(COLUMNS, "") | {
        "source": str(folder / "bus_0002-r.png"), "status": "error", "error": expected
    }]  # fmt: skip
    assert summary.ok == 5 and summary.errors == 2 and not summary.aborted  # broken.png is the other error


def test_a_fault_preparing_one_frame_is_its_error_row(
    folder: Path, predictor: Predictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_prepare = predictor.prepare

    def prepare(frame):
        if frame.index == 1:
            raise MemoryError
        return real_prepare(frame)

    monkeypatch.setattr(predictor, "prepare", prepare)
    out = tmp_path / "r.csv"
    summary = score_paths([folder], predictor, out, frames="all")
    cine = rows_of(out, "cine.dcm")
    assert [(r["frame"], r["status"]) for r in cine] == [("0", "ok"), ("1", "error")]
    assert cine[1]["error"] == "cine.dcm: not enough memory to read it"
    assert summary.ok == 5 and summary.errors == 2


class ReaderKilled(BaseException):
    """Something no per-file guard catches: the reader thread itself dies."""


def test_a_reader_thread_that_dies_leaves_error_rows_and_says_so(
    folder: Path, predictor: Predictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_items, calls = batch_reader.guarded_items, []

    def dies_on_the_second_file(*args):
        calls.append(args)
        if len(calls) == 2:
            raise ReaderKilled("killed")
        return real_items(*args)

    monkeypatch.setattr(batch_reader, "guarded_items", dies_on_the_second_file)
    out = tmp_path / "r.csv"
    summary = score_paths([folder], predictor, out, frames="all")
    rows = read_rows(out)
    assert [r["status"] for r in rows] == ["ok"] + ["error"] * 5  # one row for each file left
    assert all("reading stopped (ReaderKilled: killed)" in r["error"] for r in rows[1:])
    assert summary.aborted == "ReaderKilled: killed" and summary.errors == 5


@pytest.mark.timeout(300)  # the code before the fix waited forever here
def test_a_reader_that_vanishes_without_a_word_is_noticed(
    folder: Path, predictor: Predictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_reader, "produce", lambda *args: None)
    out = tmp_path / "r.csv"
    summary = score_paths([folder], predictor, out)
    assert [r["status"] for r in read_rows(out)] == ["error"] * 6
    assert summary.aborted == "the reader thread stopped unexpectedly" and summary.ok == 0


def with_p(predictions, p: float):
    return [
        dataclasses.replace(pred, p_malignant=p) if pred.frame_index == 1 else pred for pred in predictions
    ]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_score_is_never_written_as_ok(
    folder: Path, predictor: Predictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: float
) -> None:
    real_predict = predictor.predict_prepared
    monkeypatch.setattr(predictor, "predict_prepared", lambda items: with_p(real_predict(items), bad))
    out = tmp_path / "r.csv"
    summary = score_paths([folder], predictor, out, frames="all", batch_size=1)
    cine = rows_of(out, "cine.dcm")
    assert [(r["frame"], r["status"]) for r in cine] == [("0", "ok"), ("1", "error")]
    assert cine[1]["p_malignant"] == "" and cine[1]["label"] == ""
    assert "no finite result" in cine[1]["error"] and summary.ok == 5
    assert all(math.isfinite(float(r["p_malignant"])) for r in read_rows(out) if r["status"] == "ok")


def test_a_non_finite_mask_is_never_written_as_ok(
    folder: Path, predictor: Predictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_predict = predictor.predict_prepared

    def nan_prob(items):
        out = real_predict(items)
        return [dataclasses.replace(p, prob=np.full_like(p.prob, np.nan)) for p in out]

    monkeypatch.setattr(predictor, "predict_prepared", nan_prob)
    summary = score_paths([folder], predictor, tmp_path / "r.csv")
    assert summary.ok == 0 and summary.errors == 6


@pytest.mark.parametrize(
    "fault", [RuntimeError("CUDA error: device-side assert"), MemoryError(), C5Error("x")]
)
def test_a_model_fault_fails_its_batch_only(
    folder: Path, predictor: Predictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: Exception
) -> None:
    real_predict, calls = predictor.predict_prepared, []

    def first_batch_fails(items):
        calls.append(len(items))
        if len(calls) == 1:
            raise fault
        return real_predict(items)

    monkeypatch.setattr(predictor, "predict_prepared", first_batch_fails)
    out = tmp_path / "r.csv"
    summary = score_paths([folder], predictor, out, frames="all", batch_size=2)
    failed = [r for r in read_rows(out) if r["status"] == "error" and not r["source"].endswith("broken.png")]
    assert len(failed) == 2 and summary.ok == 4 and summary.errors == 3
    expected = {
        RuntimeError: "this frame: could not score it (RuntimeError: CUDA error: device-side assert)",
        MemoryError: "this frame: not enough memory to score it",
        C5Error: "x",
    }[type(fault)]
    assert {r["error"] for r in failed} == {expected}


# ---- pictures: path-free, collision-free, never overwriting ------------------------------------------------
@pytest.fixture
def lookalikes(tmp_path: Path, busbra_root: Path) -> Path:
    """a/x.png, a/x.jpg and a__x.png: one name for three frames under the old naming."""
    root = tmp_path / "lookalikes"
    (root / "a").mkdir(parents=True)
    first = cv2.imread(str(busbra_root / "Images" / "bus_0002-l.png"))
    cv2.imwrite(str(root / "a" / "x.png"), first)
    cv2.imwrite(str(root / "a" / "x.jpg"), cv2.imread(str(busbra_root / "Images" / "bus_0005-l.png")))
    shutil.copy(root / "a" / "x.png", root / "a__x.png")  # the same bytes: the same frame id
    return root


def test_picture_names_are_unique_and_carry_no_path(
    lookalikes: Path, predictor: Predictor, tmp_path: Path
) -> None:
    out, masks, overlays = tmp_path / "r.csv", tmp_path / "m", tmp_path / "m"  # one folder for both
    summary = score_paths([lookalikes], predictor, out, masks_dir=masks, overlays_dir=overlays)
    rows = read_rows(out)
    assert summary.ok == 3
    names = [r["mask_file"] for r in rows] + [r["overlay_file"] for r in rows]
    assert len(set(names)) == 6 and sorted(names) == sorted(p.name for p in masks.iterdir())
    for row in rows:
        assert row["mask_file"].startswith(row["source_id"]) and row["overlay_file"].startswith(
            row["source_id"]
        )
    assert not any(part in name for name in names for part in ("lookalikes", "a__", "x."))
    for row in rows:  # each row names its own frame's mask
        mask = cv2.imread(str(masks / row["mask_file"]), cv2.IMREAD_GRAYSCALE)
        assert int((mask > 0).sum()) == int(float(row["area_px"] or 0))


def test_existing_pictures_are_never_overwritten_and_resume_stays_matched(
    lookalikes: Path, predictor: Predictor, tmp_path: Path
) -> None:
    out, masks = tmp_path / "r.csv", tmp_path / "m"
    score_paths([lookalikes], predictor, out, masks_dir=masks)
    first = {r["source"]: r["mask_file"] for r in read_rows(out)}
    for name in first.values():
        (masks / name).write_bytes(b"the user's own file")  # e.g. edited by hand since
    again = score_paths([lookalikes], predictor, out, masks_dir=masks)  # a resumed run: nothing new
    assert again.skipped == 3 and {r["source"]: r["mask_file"] for r in read_rows(out)} == first
    other = tmp_path / "other.csv"  # a new CSV into the same folder: new names beside the old files
    score_paths([lookalikes], predictor, other, masks_dir=masks)
    assert all((masks / name).read_bytes() == b"the user's own file" for name in first.values())
    second = {r["mask_file"] for r in read_rows(other)}
    assert not second & set(first.values()) and all((masks / name).stat().st_size > 100 for name in second)


# ---- outputs checked first; the CSV is spreadsheet-safe and resumable ------------------------------------
@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("out_is_folder", "is a folder"),
        ("out_parent_missing", "does not exist"),
        ("masks_is_file", "masks folder .* is a file"),
        ("overlays_is_file", "overlays folder .* is a file"),
    ],
)
def test_bad_outputs_are_refused_before_any_scoring(
    folder: Path,
    predictor: Predictor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    message: str,
) -> None:
    out, masks, overlays = tmp_path / "r.csv", None, None
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"mine")
    if case == "out_is_folder":
        out = tmp_path
    elif case == "out_parent_missing":
        out = tmp_path / "missing" / "r.csv"
    elif case == "masks_is_file":
        masks = taken
    else:
        overlays = taken
    monkeypatch.setattr(predictor, "predict_prepared", lambda items: pytest.fail("scored before checking"))
    with pytest.raises(C5Error, match=message) as caught:
        score_paths([folder], predictor, out, masks_dir=masks, overlays_dir=overlays)
    assert "\n" not in str(caught.value) and taken.read_bytes() == b"mine"
    assert not (tmp_path / "r.csv").exists() and not (tmp_path / "missing").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_an_unwritable_out_folder_is_refused(folder: Path, predictor: Predictor, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(C5Error, match="cannot be written"):
        score_paths([folder], predictor, locked / "r.csv")


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage", b"source,frame\n\x00\x00\n"])
def test_an_out_file_that_is_not_a_csv_is_a_one_line_error(
    folder: Path, predictor: Predictor, tmp_path: Path, content: bytes
) -> None:
    out = tmp_path / "r.csv"
    out.write_bytes(content)
    with pytest.raises(C5Error, match=r"r\.csv exists"):
        score_paths([folder], predictor, out)
    assert out.read_bytes() == content


def test_formula_like_names_are_written_quoted_and_still_resume(
    busbra_root: Path, predictor: Predictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(busbra_root / "Images" / "bus_0002-l.png", tmp_path / "=HYPERLINK(1).png")
    shutil.copy(busbra_root / "Images" / "bus_0005-l.png", tmp_path / "@SUM(1).png")
    out = tmp_path / "r.csv"
    score_paths(["=HYPERLINK(1).png", "@SUM(1).png"], predictor, out)
    with out.open(newline="") as handle:
        raw = [row["source"] for row in csv.DictReader(handle)]
    assert raw == ["'=HYPERLINK(1).png", "'@SUM(1).png"]
    assert [r["source"] for r in batch.read_rows(out)] == ["=HYPERLINK(1).png", "@SUM(1).png"]
    again = score_paths(["=HYPERLINK(1).png", "@SUM(1).png"], predictor, out)
    assert again.skipped == 2 and again.ok == 0 and len(read_rows(out)) == 2


def test_a_csv_from_before_the_picture_columns_resumes(
    folder: Path, predictor: Predictor, tmp_path: Path
) -> None:
    out = tmp_path / "r.csv"
    score_paths([folder], predictor, out)
    rows = read_rows(out)
    with out.open("w", newline="") as handle:  # as version 0.2 wrote it
        writer = csv.DictWriter(handle, fieldnames=COLUMNS[:-3], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    again = score_paths([folder], predictor, out)
    assert again.skipped == 5 and again.ok == 0 and len(read_rows(out)) == 6
