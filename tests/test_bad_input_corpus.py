"""Every command over the bad-input corpus (scripts/make_bad_inputs.py), each in a memory-capped process.

What must hold for every hostile or careless input: a one-line error naming the file, no traceback, memory
bounded (the address-space limit below would stop a process that decoded a bomb), and the other files'
rows still there.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from c5desk.model.bundle import make_random_bundle
from c5desk.store import Store

ROOT = Path(__file__).resolve().parents[1]
# torch reserves about 4 GB of address space on import; a decoded bomb needs tens of GB.
ADDRESS_SPACE_LIMIT = 7 << 30
RUN_CLI = "import sys; from c5desk.cli import main; sys.exit(main())"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="resource limits and FIFOs of Linux")


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def c5desk(*args: object, timeout: float = 600, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `c5desk ARGS` as a user would, under the memory cap."""
    return subprocess.run(
        [sys.executable, "-c", RUN_CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_cap_memory,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=cwd,
    )


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stdout, result.stdout[-3000:]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    tiny = make_random_bundle(root / "tiny", input_size=32)
    out = root / "corpus"
    script = ROOT / "scripts" / "make_bad_inputs.py"
    subprocess.run([sys.executable, script, out, "--bundle", tiny], check=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def cases(corpus: Path) -> dict:
    return json.loads((corpus / "cases.json").read_text(encoding="utf-8"))


def test_info_says_one_line_for_each_bad_file(corpus: Path, cases: dict) -> None:
    # One capped process calls the command once per file, as a user's loop would.
    names = list(cases["frames"])
    program = (
        "import contextlib, io, json, sys\n"
        "from c5desk.cli import main\n"
        "out = {}\n"
        "for path in sys.argv[1:]:\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):\n"
        "        code = main(['info', path])\n"
        "    out[path] = [code, err.getvalue()]\n"
        "print(json.dumps(out))\n"
    )
    paths = [str(corpus / "frames" / name) for name in names]
    result = subprocess.run(
        [sys.executable, "-c", program, *paths],
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=_cap_memory,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    said = json.loads(result.stdout.splitlines()[-1])
    for name, word in cases["frames"].items():
        code, err = said[str(corpus / "frames" / name)]
        lines = err.strip().splitlines()
        assert code != 0 and len(lines) == 1, (name, err)
        assert "Traceback" not in err and name in lines[0], (name, err)
        assert word.lower() in lines[0].lower(), (name, lines[0])


def _rows(csv_path: Path) -> list[dict[str, str]]:
    with csv_path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_score_writes_every_file_once_with_bounded_memory(corpus: Path, cases: dict, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    result = c5desk(
        "score",
        corpus / "frames",
        "--out",
        out,
        "--frames",
        "all",
        "--model",
        corpus.parent / "tiny",
        "--backend",
        "torch",
        "--masks",
        tmp_path / "masks",
        "--overlays",
        tmp_path / "overlays",
    )
    assert_clean(result)
    rows = _rows(out)
    by_source: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_source.setdefault(Path(row["source"].lstrip("'")).name, []).append(row)
    for name in cases["good_frames"]:
        frames = by_source[Path(name).name]
        assert all(row["status"] == "ok" for row in frames), frames
    assert len([r for r in rows if r["source"].endswith("cine.dcm") and r["status"] == "ok"]) == 2
    for name in cases["frames"]:
        errors = by_source.get(name, [])
        assert len(errors) == 1 and errors[0]["status"] == "error", (
            name,
            errors,
        )  # one row, not one per frame
        assert "\n" not in errors[0]["error"] and errors[0]["error"], name
    masks = sorted(p.name for p in (tmp_path / "masks").iterdir())
    ok_rows = [r for r in rows if r["status"] == "ok"]
    assert len(masks) == len(ok_rows) == len({r["mask_file"] for r in ok_rows})  # no collision
    assert not any("sub" in name or "HYPERLINK" in name for name in masks)  # names carry no path
    cells = [cell for row in csv.reader(out.read_text(encoding="utf-8").splitlines()) for cell in row]
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)  # a spreadsheet never runs a cell


def test_a_file_named_like_a_formula_is_written_quoted(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    name = "=HYPERLINK(1).png"
    result = c5desk("score", name, "--out", out, "--model", corpus.parent / "tiny", cwd=corpus / "frames")
    assert_clean(result)
    assert result.returncode == 0, result.stderr
    assert f"'{name}" in out.read_text(encoding="utf-8")  # quoted: a spreadsheet shows it, never runs it
    assert [row["source"] for row in _rows(out)] == [f"'{name}"]


def test_broken_bundles_never_give_a_result(corpus: Path, cases: dict, tmp_path: Path) -> None:
    for name in cases["bundles"]:
        out = tmp_path / f"{name}.csv"
        result = c5desk(
            "score", corpus / "frames" / "good_a.png", "--out", out, "--model", corpus / "bundles" / name
        )
        assert_clean(result)
        assert result.returncode != 0, (name, result.stdout, result.stderr)
        rows = _rows(out) if out.exists() else []
        assert not any(row["status"] == "ok" for row in rows), (name, rows)
        if not rows:
            assert len(result.stderr.strip().splitlines()) == 1, (name, result.stderr)


def test_import_keeps_good_rows_and_names_each_bad_one(corpus: Path, tmp_path: Path) -> None:
    store_folder = tmp_path / "store"
    result = c5desk("import", store_folder, corpus / "labelled")
    assert_clean(result)
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    # traversal, both conflicting rows, a label-map mask, an unterminated quote, an over-long cell, bad UTF-8
    for line in (6, 8, 9, 10, 11, 13, 14):
        assert f"FAILED labels.csv line {line} " in said, (line, said)
    assert "FAILED labels.csv line 12 " not in said  # the row after the open quote is its own row
    assert "DUPLICATE labels.csv line 7 " in said
    with Store.open(store_folder) as store:
        notes = {a.note for a in store.annotations()}
        assert {"plain note", "=cmd|' /C calc'!A0", "+SUM(1+1)"} <= notes
        assert len(store.frames()) == 5  # f0 (once), f1, f2, f3 and f7 after the open quote


def test_export_escapes_formulas_and_refuses_a_linked_out(corpus: Path, tmp_path: Path) -> None:
    store_folder = tmp_path / "store"
    assert c5desk("import", store_folder, corpus / "labelled").returncode == 0
    result = c5desk("export", store_folder, "--format", "csv", "--out", tmp_path / "csv")
    assert_clean(result)
    assert result.returncode == 0, result.stderr
    written = "\n".join(p.read_text(encoding="utf-8") for p in (tmp_path / "csv").glob("*.csv"))
    assert "=cmd|" in written and ",=cmd|" not in written and ',"=cmd|' not in written
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    linked = c5desk("export", store_folder, "--format", "labelled-folder", "--out", tmp_path / "link")
    assert_clean(linked)
    assert linked.returncode != 0 and len(linked.stderr.strip().splitlines()) == 1, linked.stderr


def test_evaluate_is_not_stopped_by_a_label_it_does_not_need(corpus: Path, tmp_path: Path) -> None:
    store_folder = tmp_path / "store"
    assert c5desk("import", store_folder, corpus / "labelled").returncode == 0
    folder = tmp_path / "folder"
    assert c5desk("export", store_folder, "--format", "labelled-folder", "--out", folder).returncode == 0
    assert "4a" in (folder / "labels.csv").read_text(encoding="utf-8").lower()
    report = tmp_path / "metrics.json"
    result = c5desk(
        "evaluate", corpus.parent / "tiny", folder, "--json", report, "--bootstrap", 20, "--no-tta"
    )
    assert_clean(result)
    assert result.returncode == 0 and report.is_file(), result.stderr
    raw = c5desk("evaluate", corpus.parent / "tiny", corpus / "labelled", "--json", tmp_path / "raw.json")
    assert_clean(raw)  # the broken labels.csv: rows reported or the folder refused in one line
