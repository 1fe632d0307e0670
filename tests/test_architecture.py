"""The import rules of ARCHITECTURE.md, checked: the core runs without Qt and never imports training."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import c5desk


def core_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(c5desk.__path__, prefix="c5desk.")]
    return sorted(n for n in names if not n.startswith("c5desk.gui"))


def test_core_modules_exist() -> None:
    mods = core_modules()
    assert "c5desk.io" in mods and "c5desk.cli" in mods


def test_core_imports_without_qt_or_training() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "banned = ('PySide6', 'pyqtgraph', 'shiboken6', 'training')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in banned)\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"core pulled in: {result.stdout.strip()}"


def test_reading_frames_does_not_import_torch() -> None:
    code = "import sys, c5desk.io, c5desk.commands.info; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
