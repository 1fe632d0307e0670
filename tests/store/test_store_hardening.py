"""Issue 15 hardening of the store: export --out checks, per-row CSV problems, duplicate rows, ambiguous
masks, TI-RADS 4a-4c, spreadsheet-safe CSV cells, and the leftovers of killed exports and imports.

Killed processes are real: a child Python is stopped with os._exit at a chosen point (no timing involved).
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from store_helpers import write_labelled_folder

from c5desk.cli import main
from c5desk.settings import data_root
from c5desk.store import Store, StoreError
from c5desk.store.exports import run_export
from c5desk.store.importer import import_labelled_folder

MARKER = ".c5desk-export"  # outputs.MARKER, spelled out so this file also runs against older code

FORMULAS = ("=cmd|' /C calc'!A0", "+SUM(1+1)", '@HYPERLINK("http://x.example","x")', "-2+3")


def _image(path: Path, seed: int = 0, shape: tuple[int, int] = (40, 50)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8))


def _mask(path: Path, values: tuple[int, ...] = (0, 255), shape: tuple[int, int] = (40, 50)) -> None:
    mask = np.full(shape, values[0], np.uint8)
    for i, value in enumerate(values[1:], start=1):
        mask[5 * i : 5 * i + 8, 5:25] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), mask)


def _folder(tmp_path: Path, count: int = 4) -> Path:
    folder = tmp_path / "labelled"
    for seed in range(count):
        _image(folder / f"img/{seed}.png", seed)
        _mask(folder / f"msk/{seed}.png")
    return folder


def _table(folder: Path, lines: list[str] | bytes) -> None:
    data = lines if isinstance(lines, bytes) else "\n".join(lines).encode() + b"\n"
    (folder / "labels.csv").write_bytes(data)


def _import(tmp_path: Path, folder: Path):
    with Store.open(tmp_path / "store", create=True) as store:
        report = import_labelled_folder(store, folder)
        labels = {
            store.frame_record(a.frame_id).id: (a.label, a.note, a.category) for a in store.annotations()
        }
    return report, labels


def _failed_lines(report) -> dict[int, str]:
    return {int(f.where.split("line ")[1].split()[0]): f.reason for f in report.failures}


# ---- point 8: CSV syntax problems cost only their own row ------------------------------------------------
def test_unterminated_quote_fails_only_its_own_row(tmp_path):
    folder = _folder(tmp_path)
    _table(folder, [
        "image,mask,label,note",
        'img/0.png,msk/0.png,benign,"never closed',
        "img/1.png,msk/1.png,malignant,plain",
        "img/2.png,msk/2.png,benign,",
        'img/3.png,msk/3.png,benign,"two\nlines, one note"',
    ])  # fmt: skip
    report, labels = _import(tmp_path, folder)
    assert _failed_lines(report) == {
        2: "a quote opened here runs into line 3, a row of its own; close the quote"
    }
    assert sorted(v[0] for v in labels.values()) == ["benign", "benign", "malignant"]
    assert ("benign", "two\nlines, one note", None) in labels.values()  # a real multi-line note still reads


def test_quote_open_to_the_end_fails_only_its_row(tmp_path):
    folder = _folder(tmp_path)
    _table(
        folder, ["image,mask,label,note", "img/0.png,msk/0.png,benign,ok", 'img/1.png,msk/1.png,benign,"x']
    )
    report, labels = _import(tmp_path, folder)
    assert _failed_lines(report) == {3: "a quote is opened and never closed"} and len(labels) == 1


def test_over_long_cell_bad_utf8_and_extra_cells_fail_their_row_only(tmp_path):
    folder = _folder(tmp_path, 5)
    lines = [
        b"image,mask,label,note",
        b"img/0.png,msk/0.png,benign,fine",
        b"img/1.png,msk/1.png,benign," + b"x" * 200_000,
        b"img/2.png,msk/2.png,benign,caf\xe9 latin-1",
        b"img/3.png,msk/3.png,benign,a,b",
        b"img/4.png,msk/4.png,malignant,also fine",
    ]
    _table(folder, b"\n".join(lines) + b"\n")
    report, labels = _import(tmp_path, folder)
    failed = _failed_lines(report)
    assert set(failed) == {3, 4, 5}
    assert "longer than 100000 characters" in failed[3]
    assert "not UTF-8 text (byte 0xe9" in failed[4]
    assert "5 cells but the header has 4 columns" in failed[5]
    assert sorted(v[1] for v in labels.values()) == ["also fine", "fine"]


# ---- point 8: duplicate rows ----------------------------------------------------------------------------
def test_identical_rows_import_once_and_are_reported_as_duplicates(tmp_path):
    folder = _folder(tmp_path)
    row = "img/0.png,msk/0.png,benign,same"
    _table(
        folder,
        [
            "image,mask,label,note",
            row,
            "img/1.png,msk/1.png,benign,",
            row,
            "./img/0.png,msk/0.png,benign,same",
        ],
    )
    report, labels = _import(tmp_path, folder)
    assert report.failures == [] and len(labels) == 2 and report.annotations_saved == 2
    assert [d.reason for d in report.duplicates] == ["a repeat of line 2: imported once"] * 2
    assert report.summary()["duplicates"] == 2


def test_conflicting_rows_for_one_image_are_all_refused_never_last_one_wins(tmp_path, capsys):
    folder = _folder(tmp_path)
    _table(folder, [
        "image,mask,label",
        "img/0.png,msk/0.png,malignant",
        "img/1.png,msk/1.png,benign",
        "img/0.png,msk/0.png,benign",
    ])  # fmt: skip
    assert main(["import", str(tmp_path / "store"), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "1 frame(s) added, 1 annotation(s) saved, 0 already present, 0 duplicate row(s), 2 failed" in out
    assert "line 2 (img/0.png): conflicts with line 4 for the same image (label: malignant / benign)" in out
    assert "line 4 (img/0.png): conflicts with line 2" in out
    with Store.open(tmp_path / "store") as store:
        assert [a.label for a in store.annotations()] == ["benign"] and len(store.frames()) == 1


def test_same_picture_under_two_names_keeps_the_first_and_refuses_a_disagreement(tmp_path):
    folder = _folder(tmp_path)
    (folder / "img/copy.png").write_bytes((folder / "img/0.png").read_bytes())
    _table(folder, ["image,mask,label", "img/0.png,msk/0.png,malignant", "img/copy.png,msk/0.png,benign"])
    report, labels = _import(tmp_path, folder)
    assert _failed_lines(report) == {3: "the same image as line 2 with a different annotation: line 2 kept"}
    assert [v[0] for v in labels.values()] == ["malignant"]


# ---- point 8: masks and categories -----------------------------------------------------------------------
def test_a_label_map_mask_is_refused_naming_its_values(tmp_path):
    folder = _folder(tmp_path, 3)
    _mask(folder / "msk/0.png", (0, 1, 2, 3))
    _mask(folder / "msk/1.png", (0, 1))
    jpeg = np.zeros((40, 50), np.uint8)
    jpeg[10:30, 10:30] = 255
    cv2.imwrite(str(folder / "msk/2.jpg"), jpeg, [cv2.IMWRITE_JPEG_QUALITY, 75])
    _table(folder, ["image,mask,label", "img/0.png,msk/0.png,benign", "img/1.png,msk/1.png,benign",
                    "img/2.png,msk/2.jpg,malignant"])  # fmt: skip
    report, labels = _import(tmp_path, folder)
    assert _failed_lines(report) == {
        2: "mask 0.png holds the values 0, 1, 2, 3; a mask must be 0/255 or 0/1"
        " (several values, e.g. 0-3, are a label map and would be read wrongly)"
    }
    assert len(labels) == 2  # a 0/1 PNG and a noisy 0/255 JPEG are two-valued masks


def test_tirads_4a_4b_4c_are_categories(tmp_path):
    folder = _folder(tmp_path, 4)
    _table(folder, ["image,mask,label,tirads,category", "img/0.png,msk/0.png,benign,4a,",
                    "img/1.png,msk/1.png,benign,,TR4b", "img/2.png,msk/2.png,malignant,,TI-RADS 4C",
                    "img/3.png,msk/3.png,benign,5b,"])  # fmt: skip
    report, labels = _import(tmp_path, folder)
    assert sorted(v[2] for v in labels.values()) == ["TI-RADS 4a", "TI-RADS 4b", "TI-RADS 4c"]
    assert _failed_lines(report) == {5: "category '5b': only TI-RADS 4 has sub-levels (4a, 4b, 4c)"}


def test_real_rows_with_birads_letters_import(tmp_path):
    """breast_lesions_usg (real data) has BI-RADS 4a/4b/4c; skipped when the shared data is absent."""
    root = data_root() / "breast_lesions_usg"
    if not (root / "labels.csv").is_file():
        pytest.skip("breast_lesions_usg not available")
    with (root / "labels.csv").open(newline="") as stream:
        rows = [r for r in csv.DictReader(stream) if r["birads"] in ("4a", "4b", "4c")][:3]
    folder = write_labelled_folder(tmp_path / "usg", [{k: r[k] for k in ("image", "mask", "label", "birads")}
                                                      for r in rows], root)  # fmt: skip
    report, labels = _import(tmp_path, folder)
    assert report.failures == [] and sorted(v[2] for v in labels.values()) == sorted(
        f"BI-RADS {r['birads']}" for r in rows
    )


# ---- point 9: formulas are written quoted and read back as written ---------------------------------------
def _store_with_notes(tmp_path: Path) -> Path:
    folder = _folder(tmp_path, len(FORMULAS))
    with (folder / "labels.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["image", "mask", "label", "note"])
        for i, note in enumerate(FORMULAS):
            writer.writerow([f"img/{i}.png", f"msk/{i}.png", "benign", note])
    _report, labels = _import(tmp_path, folder)
    assert sorted(v[1] for v in labels.values()) == sorted(FORMULAS)
    return tmp_path / "store"


def test_csv_exports_quote_formulas_and_reimport_the_same_notes(tmp_path):
    store_dir = _store_with_notes(tmp_path)
    for fmt in ("csv", "labelled-folder"):
        assert main(["export", str(store_dir), "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
    for table in (tmp_path / "csv" / "lesions.csv", tmp_path / "labelled-folder" / "labels.csv"):
        with table.open(newline="") as stream:
            notes = sorted(row["note"] for row in csv.DictReader(stream))
        assert notes == sorted("'" + n for n in FORMULAS)  # "-2+3" is no number: a formula too
        assert not any(n.startswith(("=", "+", "@")) for n in notes)
    assert main(["import", str(tmp_path / "again"), str(tmp_path / "labelled-folder")]) == 0
    with Store.open(tmp_path / "again") as store:
        assert sorted(a.note for a in store.annotations()) == sorted(FORMULAS)


# ---- point 6: --out checked before any work ----------------------------------------------------------
@pytest.fixture
def small_store(tmp_path: Path) -> Path:
    folder = _folder(tmp_path, 2)
    _table(folder, ["image,mask,label", "img/0.png,msk/0.png,benign", "img/1.png,msk/1.png,malignant"])
    _import(tmp_path, folder)
    return tmp_path / "store"


def _bad_out(tmp_path: Path, kind: str) -> Path:
    target = tmp_path / "target"
    target.mkdir()
    if kind == "symlink":
        (tmp_path / "link").symlink_to(target, target_is_directory=True)
        return tmp_path / "link"
    if kind == "file":
        (tmp_path / "file.txt").write_text("mine")
        return tmp_path / "file.txt"
    if kind == "missing parent":
        return tmp_path / "no" / "such" / "out"
    (tmp_path / "plain").write_text("x")
    return tmp_path / "plain" / "out"  # parent is a file


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("symlink", "link: is a symbolic link"),
        ("file", "file.txt: is a file, not a folder"),
        ("missing parent", "out: the folder to hold it, "),
        ("parent is a file", "plain is a file, not a folder"),
    ],
)
def test_bad_out_is_one_line_before_any_work(small_store, tmp_path, capsys, kind, message):
    out = _bad_out(tmp_path, kind)
    assert main(["export", str(small_store), "--format", "masks", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert list((tmp_path / "target").iterdir()) == []  # nothing written through the link
    assert not (tmp_path / "no").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial-")]


def test_unwritable_out_and_a_failed_publish_are_store_errors(small_store, tmp_path, monkeypatch):
    with Store.open(small_store) as store:
        monkeypatch.setattr("c5desk.store.outputs.os.access", lambda *_: False)
        with pytest.raises(StoreError, match=r"^out: no permission to write in "):
            run_export(store, "masks", tmp_path / "out")
        monkeypatch.undo()

        def no_rename(*_args):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("c5desk.fsio.os.rename", no_rename)
        with pytest.raises(StoreError, match=r"out: the export cannot be put in place .Permission denied"):
            run_export(store, "masks", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial-")]


# ---- point 10: leftovers of killed exports and imports -------------------------------------------------
def _run_child(code: str, *args: str) -> None:
    """Run `code` in a fresh Python that ends with os._exit(9) mid-work, as a killed process would."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True
    )
    assert result.returncode == 9, result.stderr


KILLED_EXPORT = """
    import os, sys
    from pathlib import Path
    from c5desk.store.export_common import atomic_folder
    with atomic_folder(Path(sys.argv[1])) as staging:
        (staging / "masks").mkdir()
        (staging / "masks" / "half.png").write_bytes(b"half")
        os._exit(9)
"""


def test_a_killed_exports_staging_folder_is_removed_by_the_next_export(small_store, tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    _run_child(KILLED_EXPORT, str(exports / "first"))
    [left] = [p for p in exports.iterdir() if p.name.startswith(".partial-")]
    assert (left / MARKER).is_file() and not (exports / "first").exists()
    alive = exports / f".partial-{os.getpid()}-1-running"  # an export of this (live) process
    alive.mkdir()
    (alive / MARKER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": 0}))
    foreign = exports / ".partial-1-2-not-ours"  # no marker: not an export's, never touched
    foreign.mkdir()
    assert main(["export", str(small_store), "--format", "masks", "--out", str(exports / "second")]) == 0
    assert not left.exists() and alive.is_dir() and foreign.is_dir()
    assert (
        not (exports / "second" / MARKER).exists()
        and len(list((exports / "second" / "masks").iterdir())) == 2
    )


KILLED_IMPORT = """
    import os, sys
    from c5desk.store import Store, annotations
    from c5desk.store.importer import import_labelled_folder
    def killed(*args, **kwargs):
        os._exit(9)  # after the frame's and the mask's PNGs are written, before the row is committed
    annotations._insert_if_changed = killed
    import_labelled_folder(Store.open(sys.argv[1]), sys.argv[2])
"""


def _leftovers(store_dir: Path) -> tuple[set[str], Path, Path]:
    with Store.open(store_dir) as store:
        referenced = store.referenced_files()
    objects = {p.relative_to(store_dir).as_posix() for p in (store_dir / "objects").rglob("*") if p.is_file()}
    shard = store_dir / "objects" / "ab"
    shard.mkdir(exist_ok=True)
    temporary = shard / f".tmp-99999-1-ab{'0' * 62}.png"  # fsio's temporary of an object, never renamed
    temporary.write_bytes(b"half")
    journal_tmp = store_dir / "journal" / ".tmp-99999-1-frame-1.npz"
    journal_tmp.parent.mkdir(exist_ok=True)
    journal_tmp.write_bytes(b"half")
    assert objects == referenced
    return referenced, temporary, journal_tmp


def test_a_killed_imports_files_are_swept_when_the_store_is_next_opened(small_store, tmp_path):
    folder = _folder(tmp_path / "more", 3)
    _table(folder, ["image,mask,label", "img/2.png,msk/2.png,benign"])
    _image(folder / "img/2.png", seed=22)
    referenced, temporary, journal_tmp = _leftovers(small_store)
    not_ours = small_store / "objects" / "ab" / "notes.txt"
    not_ours.write_text("someone else's")
    _run_child(KILLED_IMPORT, str(small_store), str(folder))
    on_disk = {p.relative_to(small_store).as_posix() for p in (small_store / "objects").rglob("*.png")}
    temporary_name = temporary.relative_to(small_store).as_posix()
    assert len(on_disk - referenced - {temporary_name}) >= 1  # the killed row's frame (its mask is shared)
    assert list((small_store / ".c5desk-locks").glob("open-*"))  # the killed process's presence file
    with Store.open(small_store) as store:
        assert store.check() == [] and len(store.annotations()) == 2
    left = {p.relative_to(small_store).as_posix() for p in (small_store / "objects").rglob("*.png")}
    assert left == referenced and not temporary.exists() and not journal_tmp.exists() and not_ours.exists()
    assert list((small_store / ".c5desk-locks").glob("open-*")) == []


def test_fresh_unreferenced_files_stay_while_another_store_is_open(small_store):
    orphan = small_store / "objects" / "cd" / ("cd" + "1" * 62 + ".png")
    with Store.open(small_store) as first:
        orphan.parent.mkdir(exist_ok=True)
        orphan.write_bytes(b"a writer may be about to commit a row naming me")
        with Store.open(small_store) as second:
            assert orphan.exists() and second.check() == []  # first could be mid-write: kept
        assert first.check() == []
    with Store.open(small_store):
        assert not orphan.exists()  # nobody else had it open: swept at once
