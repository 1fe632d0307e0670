"""The log file: commands and the app leave a trace a support engineer can read, without patient ids."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from c5desk.logs import LOG_FILE, RedactingFormatter, redact
from c5desk.model.bundle import make_random_bundle
from c5desk.settings import RESOURCES

SAMPLE = RESOURCES / "samples" / "bus_sample.png"


def test_paths_file_names_and_uids_are_redacted_and_nothing_else() -> None:
    text = (
        "cannot read /home/rad/PATIENTS/Smith_John/IM0001.dcm; C:\\Users\\rad\\Desktop\\doe jane.png; "
        "Smith_John_2024.dcm: truncated; \\\\pacs\\share\\x; study 1.2.840.113619.2.55.3.604688119; "
        "0.1 mm/px, 3/4 frames, source 1f3a9c0b2d4e5f60718a, model c5net_tiny-busbra-v1"
    )
    cleaned = redact(text)
    for secret in ("rad", "Smith", "John", "doe jane", "IM0001", "pacs", "113619"):
        assert secret not in cleaned, secret
    assert cleaned.count("<path>") == 3 and "<file>: truncated" in cleaned and "<uid>" in cleaned
    assert "0.1 mm/px, 3/4 frames, source 1f3a9c0b2d4e5f60718a, model c5net_tiny-busbra-v1" in cleaned


def test_a_traceback_keeps_its_code_locations_and_loses_the_patient() -> None:
    try:
        raise ValueError("cannot decode /data/Jane_Doe/US0007.dcm")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "reading %s failed", ("/a/Jane.dcm",), sys.exc_info()
        )
    text = RedactingFormatter("%(message)s").format(record)
    assert "Jane" not in text and "reading <path> failed" in text
    assert f'File "{__file__}"' in text and "ValueError: cannot decode <path>" in text


def run_cli(tmp_path: Path, *argv: str, stderr_none: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "C5DESK_LOGS": str(tmp_path / "logs"), "C5DESK_CONFIG": str(tmp_path / "config")}
    code = "import sys\nfrom c5desk.cli import main\n"
    if stderr_none:  # a frozen windowed app has no console at all
        code += "sys.stdout = sys.stderr = None\n"
    code += "sys.exit(main(sys.argv[1:]))\n"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return make_random_bundle(tmp_path_factory.mktemp("logs") / "tiny", input_size=64)


def test_score_logs_model_device_and_errors_but_no_names(tmp_path: Path, bundle: Path) -> None:
    patient = tmp_path / "Doe_Jane_1950-01-01"
    patient.mkdir()
    (patient / "Doe_Jane.png").write_bytes(SAMPLE.read_bytes())
    (patient / "Doe_Jane_broken.dcm").write_bytes(b"DICM" + b"\x00" * 64)
    out = tmp_path / "scores.csv"
    args = ("score", str(patient), "--out", str(out), "--model", str(bundle), "--device", "cpu")
    result = run_cli(tmp_path, *args, "--backend", "torch")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "logs" / LOG_FILE).read_text(encoding="utf-8")
    assert "c5desk score started" in text.replace("0.2.0 ", "") and "finished (exit 0)" in text
    assert "random-c5net_tiny-64-s0" in text and "CPU" in text and "could not be scored" in text
    assert "Doe" not in text and "Jane" not in text and str(tmp_path) not in text


def test_a_failing_command_is_logged_and_a_missing_stderr_breaks_nothing(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "info", str(tmp_path / "Roe_Richard.dcm"), stderr_none=True)
    assert result.returncode == 1  # the usual one-line error went nowhere, without a crash
    text = (tmp_path / "logs" / LOG_FILE).read_text(encoding="utf-8")
    assert "c5desk info failed" in text and "Roe" not in text


def test_help_opens_the_log_folder(qtbot, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("pytestqt")
    from PySide6 import QtGui

    from c5desk.gui.app import create_application
    from c5desk.gui.main_window import MainWindow
    from c5desk.gui.prefs import Prefs

    create_application()
    opened: list[str] = []
    monkeypatch.setattr(
        QtGui.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True
    )
    monkeypatch.setenv("C5DESK_LOGS", str(tmp_path / "the-logs"))
    window = MainWindow(load_model=False, prefs=Prefs(tmp_path / "gui.json"), store_folder=tmp_path / "d")
    qtbot.addWidget(window)
    window.actions["open_logs"].trigger()
    assert opened == [str(tmp_path / "the-logs")] and (tmp_path / "the-logs").is_dir()
