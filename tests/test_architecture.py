"""The import rules of docs/ARCHITECTURE.md, checked: the layers, the core without Qt or training, and the
paths that must not pay for torch."""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import c5desk

PACKAGE = Path(c5desk.__file__).parent
BASE = {"errors", "settings", "fsio", "logs", "csvcells"}
# A part of c5desk → the parts it may import (besides itself). Kept in step with docs/ARCHITECTURE.md.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "settings": {"fsio"},
    "logs": {"settings", "fsio"},
    "fsio": set(),
    "csvcells": set(),
    "io": BASE,
    "lesion": BASE,
    "model": BASE,
    "inference": BASE | {"io", "lesion", "model"},
    "store": BASE | {"io", "lesion"},
    "reading": BASE | {"io", "lesion", "inference", "store"},
    "batch": BASE | {"io", "lesion", "inference"},
    "node": BASE | {"io", "lesion", "model", "inference", "store"},
    "selftest": BASE | {"io", "inference", "model", "gui"},  # gui only for --self-test --gui
    "gui": BASE | {"io", "lesion", "model", "inference", "store", "reading", "batch", "node"},
    "commands": BASE | {"io", "lesion", "model", "inference", "store", "batch", "node", "gui"},
    "cli": BASE | {"selftest", "commands"},
}


def part_of(module: str) -> str:
    """'c5desk.inference.factory' → 'inference'; 'c5desk.settings' → 'settings'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imported_parts(path: Path) -> set[str]:
    """The c5desk parts a module imports, at any depth, except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {part_of(a.name) for a in node.names if a.name.startswith("c5desk.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "c5desk":  # `from c5desk import settings` (not `__version__`)
                found |= {
                    a.name
                    for a in node.names
                    if (PACKAGE / a.name).is_dir() or (PACKAGE / f"{a.name}.py").exists()
                }
            elif node.module.startswith("c5desk."):
                found.add(part_of(node.module))
    return found


def test_every_part_imports_only_the_layers_below_it() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        part = part_of(module)
        if not part:
            continue
        assert part in ALLOWED, f"{module}: a new part of c5desk; add it to ALLOWED and docs/ARCHITECTURE.md"
        for used in imported_parts(path) - {part} - ALLOWED[part]:
            problems.append(f"{module} imports c5desk.{used}")
    assert problems == []


def core_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(c5desk.__path__, prefix="c5desk.")]
    return sorted(n for n in names if not n.startswith("c5desk.gui"))


def test_core_modules_exist() -> None:
    mods = core_modules()
    assert {"c5desk.io", "c5desk.cli", "c5desk.inference", "c5desk.reading.controller"} <= set(mods)
    assert "c5desk.model.catalog" in mods


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


def test_reading_frames_listing_models_and_the_inference_api_do_not_import_torch() -> None:
    code = (
        "import sys, c5desk.io, c5desk.commands.info, c5desk.commands.models, c5desk.inference, "
        "c5desk.reading.controller, c5desk.model.catalog; print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_window_module_loads_no_reader_no_torch_and_no_network_library() -> None:
    """The window must appear within its 2 s budget (benchmarks/bench_gui.py): pydicom, torch, pynetdicom and
    highdicom load later, when a file is opened, the model loads on its thread, or a DICOM dialog is used."""
    code = (
        "import sys, c5desk.gui.main_window\n"
        "heavy = ('pydicom', 'torch', 'pynetdicom', 'highdicom', 'onnxruntime', 'fpdf')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"the window's import loaded: {result.stdout.strip()}"
