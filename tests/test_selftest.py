"""`c5desk --self-test`: one verdict line, exit 0/1, on both engines; the frozen entry's argument handling."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from c5desk.cli import main as cli_main
from c5desk.model.bundle import save_bundle
from c5desk.model.onnx_graphs import export_bundle_graphs
from c5desk.model.registry import create_model
from c5desk.selftest import Options, main, run_self_test

ROOT = Path(__file__).resolve().parent.parent
SIZE = 64


def seg_bias_bundle(folder: Path, bias: float) -> Path:
    """Random weights whose mask head outputs `bias` everywhere: +4 finds a 'lesion' (the whole analysed
    frame), -4 finds none. Saved as a random- test bundle, with its ONNX graphs."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create_model("c5net_tiny", input_size=SIZE)
    with torch.no_grad():
        model.decoder.head.weight.zero_()
        model.decoder.head.bias.fill_(bias)
    save_bundle(
        model,
        folder,
        arch="c5net_tiny",
        arch_args={"input_size": SIZE},
        version=f"random-selftest-{bias:+.0f}",
        notes="FOR TESTS ONLY: random weights, not a trained model.",
    )
    return export_bundle_graphs(folder)


@pytest.fixture(scope="module")
def lesion_bundle(tmp_path_factory) -> Path:
    return seg_bias_bundle(tmp_path_factory.mktemp("selftest") / "lesion", 4.0)


def verdict(capsys) -> str:
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_passes_on_a_working_bundle(lesion_bundle: Path, backend: str, capsys) -> None:
    assert main(["--bundle", str(lesion_bundle), "--allow-untrained", "--backend", backend]) == 0
    line = verdict(capsys)
    assert line.startswith("c5desk self-test: PASS model random-selftest-+4 on CPU")
    assert f"via {backend}" in line
    assert "P(malignant)" in line and " px" in line and "score" in line


def test_cli_dispatches_the_flag(lesion_bundle: Path, capsys) -> None:
    assert cli_main(["--self-test", "--bundle", str(lesion_bundle), "--allow-untrained"]) == 0
    assert verdict(capsys).startswith("c5desk self-test: PASS")


def test_refuses_random_weights_even_as_the_default(lesion_bundle: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("C5DESK_MODEL", str(lesion_bundle))  # the default bundle, as an installation sees it
    assert main([]) == 1
    assert verdict(capsys) == (
        f"c5desk self-test: FAIL: bundle 'random-selftest-+4' at {lesion_bundle} has random test weights, "
        "not a trained model"
    )


def test_fails_when_nothing_is_found(tmp_path: Path, capsys) -> None:
    empty = seg_bias_bundle(tmp_path / "empty", -4.0)
    assert main(["--bundle", str(empty), "--allow-untrained", "--backend", "onnxruntime"]) == 1
    assert verdict(capsys) == (
        "c5desk self-test: FAIL: no lesion found on the sample frame, which shows a biopsy-proven one"
    )


def test_fails_on_a_broken_installation(lesion_bundle: Path, tmp_path: Path, capsys) -> None:
    assert main(["--bundle", str(tmp_path / "missing"), "--allow-untrained"]) == 1
    assert "FAIL: no model bundle at" in verdict(capsys)
    assert (
        main(["--bundle", str(lesion_bundle), "--allow-untrained", "--sample", str(tmp_path / "x.png")]) == 1
    )
    line = verdict(capsys)
    assert line.startswith("c5desk self-test: FAIL: the sample frame") and line.endswith("installation")


def test_fails_on_non_finite_output(lesion_bundle: Path, monkeypatch) -> None:
    import c5desk.inference as inference

    real = inference.make_predictor

    def poisoned(*args, **kwargs):
        predictor = real(*args, **kwargs)
        original, keeping = predictor.engine.forward, predictor.engine.forward_keeping

        def forward(batch):
            seg, cls, present = original(batch)
            seg[:, 0, 0] = np.nan
            return seg, cls, present

        def forward_keeping(batch):  # predict() of one frame keeps its features
            seg, cls, present, features = keeping(batch)
            seg[:, 0, 0] = np.nan
            return seg, cls, present, features

        predictor.engine.forward, predictor.engine.forward_keeping = forward, forward_keeping
        return predictor

    monkeypatch.setattr(inference, "make_predictor", poisoned)
    passed, line = run_self_test(Options(bundle=lesion_bundle, backend="onnxruntime", allow_untrained=True))
    assert not passed
    assert line.startswith("c5desk self-test: FAIL: model produced no finite result for frame 0")
    assert "\n" not in line


def test_fails_when_too_slow(lesion_bundle: Path) -> None:
    options = Options(bundle=lesion_bundle, backend="onnxruntime", allow_untrained=True, max_seconds=0.0)
    passed, line = run_self_test(options)
    assert not passed and line.startswith("c5desk self-test: FAIL: scoring took")


def test_unexpected_errors_still_give_one_line(lesion_bundle: Path, monkeypatch) -> None:
    import c5desk.inference as inference

    def explode(*args, **kwargs):
        raise OSError("libonnxruntime.so: cannot open shared object file\nmore detail")

    monkeypatch.setattr(inference, "make_predictor", explode)
    passed, line = run_self_test(Options(bundle=lesion_bundle, allow_untrained=True))
    assert (
        not passed
        and line == "c5desk self-test: FAIL: OSError: libonnxruntime.so: cannot open shared object file"
    )


def load_entry():
    spec = importlib.util.spec_from_file_location("c5desk_entry", ROOT / "installer" / "entry.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frozen_entry_opens_the_window_by_default(tmp_path: Path) -> None:
    entry = load_entry()
    image = tmp_path / "scan.png"
    image.write_bytes(b"")
    assert entry.frozen_argv([]) == ["gui"]
    assert entry.frozen_argv([str(image)]) == ["gui", str(image)]
    assert entry.frozen_argv(["--self-test"]) == ["--self-test"]
    assert entry.frozen_argv(["score", str(image)]) == ["score", str(image)]
    assert entry.frozen_argv(["no-such-command"]) == ["no-such-command"]  # the CLI reports it


LEAN = """
import importlib.abc, importlib.util, sys
spec = importlib.util.spec_from_file_location("bundle_contents", sys.argv[1])
contents = importlib.util.module_from_spec(spec)
spec.loader.exec_module(contents)
blocked = set(contents.excludes("lean"))

class LeanBundle(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        parts = name.split(".")
        if any(".".join(parts[:i]) in blocked for i in range(1, len(parts) + 1)):
            raise ModuleNotFoundError(f"No module named {name!r} (left out of the lean bundle)")

sys.meta_path.insert(0, LeanBundle())
from c5desk.cli import main
code = main(sys.argv[2:])
leaked = sorted(m for m in sys.modules if m.split(".")[0] in blocked or m in blocked)
print("leaked:", leaked)
sys.exit(code)
"""


def run_lean(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    """`c5desk ARGV` with every module the lean bundle leaves out made unimportable (no build needed)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "C5DESK_CONFIG": str(tmp_path / "config")}
    env.pop("C5DESK_MODEL", None)
    contents = ROOT / "installer" / "bundle_contents.py"
    command = [sys.executable, "-c", LEAN, str(contents), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def test_the_lean_bundle_modules_suffice_for_the_self_test(lesion_bundle: Path, tmp_path: Path) -> None:
    result = run_lean(tmp_path, "--self-test", "--bundle", str(lesion_bundle), "--allow-untrained")
    assert result.returncode == 0, result.stdout + result.stderr
    verdict_line, leaked = result.stdout.strip().splitlines()
    assert verdict_line.startswith("c5desk self-test: PASS") and "via onnxruntime" in verdict_line
    assert leaked == "leaked: []"


def test_the_window_check_outlines_the_sample(lesion_bundle: Path, tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "C5DESK_CONFIG": str(tmp_path / "config")}
    argv = ["--self-test", "--bundle", str(lesion_bundle), "--allow-untrained", "--gui"]
    command = [sys.executable, "-m", "c5desk.cli", *argv]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "; window (offscreen)" in result.stdout and "outline" in result.stdout


def test_the_lean_bundle_modules_suffice_for_the_window(lesion_bundle: Path, tmp_path: Path) -> None:
    result = run_lean(tmp_path, "--self-test", "--bundle", str(lesion_bundle), "--allow-untrained", "--gui")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "window (offscreen)" in result.stdout


def test_the_lean_bundle_modules_suffice_for_scoring(lesion_bundle: Path, tmp_path: Path) -> None:
    from c5desk.selftest import SAMPLE

    out = tmp_path / "scores.csv"
    result = run_lean(tmp_path, "score", str(SAMPLE), "--out", str(out), "--model", str(lesion_bundle))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ",ok," in out.read_text(encoding="utf-8")
