"""`c5desk gui` when Qt's system libraries are missing: the exact libraries and the apt-get line to install
them, exit 1, and Qt never imported (so Qt's own misleading message never appears)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from c5desk.commands import gui

MISSING = {"libxcb-cursor.so.0", "libxcb-icccm.so.4"}
EXPECTED = (
    "c5desk gui: Qt cannot start: missing system libraries libxcb-cursor.so.0, libxcb-icccm.so.4. "
    "Install them with:\n  sudo apt-get install -y libxcb-cursor0 libxcb-icccm4\n"
)
# Run as a fresh process: the test process has Qt loaded already (pytest-qt).
SCRIPT = f"""
import sys
import c5desk.commands.gui as gui
gui.loadable = lambda library: library not in {sorted(MISSING)!r}
from c5desk.cli import main
code = main(["gui"])
qt = [m for m in sys.modules if m.startswith(("PySide6", "shiboken6", "pyqtgraph", "c5desk.gui"))]
print(code, sorted(qt))
"""


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "WAYLAND", "C5DESK_"))}
    env.update(C5DESK_CONFIG=str(tmp_path / "config"), C5DESK_LOGS=str(tmp_path / "logs"), **extra)
    return env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check is for Linux's Qt libraries")
def test_missing_libraries_are_named_with_the_install_line(tmp_path: Path) -> None:
    env = environment(tmp_path, DISPLAY=":0")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.stderr == EXPECTED
    assert done.stdout.strip() == "1 []"  # exit code 1; nothing of Qt imported


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check is for Linux's Qt libraries")
def test_which_libraries_depend_on_the_platform(monkeypatch) -> None:
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    offscreen = {package for package, _ in gui.required_libraries()}
    assert "libgl1" in offscreen and "libxcb-cursor0" not in offscreen
    assert gui.missing_libraries_message(lambda library: library not in MISSING) is None  # not needed
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert {"libgl1", "libxcb-cursor0"} <= {package for package, _ in gui.required_libraries()}
    assert gui.missing_libraries_message(lambda library: True) is None


def test_dev_sh_installs_the_same_packages() -> None:
    """scripts/dev.sh reads the very list `c5desk gui` checks (one list, two readers)."""
    script = (Path(__file__).parents[1] / "scripts" / "dev.sh").read_text(encoding="utf-8")
    assert gui.QT_LIBRARIES.name in script and not re.search(r"libxcb-cursor0", script)
    rows = [line.split() for line in gui.QT_LIBRARIES.read_text(encoding="utf-8").splitlines()]
    rows = [row for row in rows if row and not row[0].startswith("#")]
    assert all(len(row) == 3 and row[0] in ("offscreen", "x11") for row in rows)
