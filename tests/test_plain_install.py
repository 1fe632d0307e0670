"""Every feature works from the README's app install, without the test or installer extras.

CI installs the test extra, so a module the app imports but only an extra provides would go unnoticed (this
happened: exports needed pycocotools from the test extra). `deptry` in the test command checks the imports
statically; this test runs the commands with every module that only the extras bring made unimportable.
`scripts/check_plain_install.sh` does the same in a real fresh virtual environment (slow; run by hand).
"""

from __future__ import annotations

import importlib.metadata as metadata
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from synthetic_lesions import write_folder

from c5desk.store.exports import FORMATS

DEV_EXTRAS = ("test", "installer")


def _closure(requirements: list[Requirement], extras: tuple[str, ...] = ()) -> set[str]:
    """Names of the installed distributions these requirements pull in, transitively."""
    seen: set[str] = set()
    todo = [
        r for r in requirements if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras)
    ]
    while todo:
        requirement = todo.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in seen:
            continue
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue  # e.g. a platform-specific dependency not installed here
        seen.add(name)
        todo += [
            r for r in map(Requirement, requires) if r.marker is None or r.marker.evaluate({"extra": ""})
        ]
    return seen


def dev_only_modules() -> list[str]:
    """Top-level modules provided only by distributions that the dev extras bring and the app does not."""
    declared = [Requirement(text) for text in metadata.requires("c5desk") or []]
    runtime = _closure([r for r in declared if r.marker is None])
    dev = _closure([r for r in declared if r.marker is not None], DEV_EXTRAS) - runtime
    providers = metadata.packages_distributions()
    return sorted(
        module
        for module, dists in providers.items()
        if all(d.lower().replace("_", "-") in dev for d in dists) and not module.startswith("_")
    )


PLAIN = """
import importlib.abc, json, sys
blocked = set(json.loads(sys.argv[1]))
class PlainInstall(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (only a development extra provides it)")
sys.meta_path.insert(0, PlainInstall())
from c5desk.cli import main
sys.exit(main(sys.argv[2:]))
"""


def plain(*argv: str) -> subprocess.CompletedProcess:
    import json

    command = [sys.executable, "-c", PLAIN, json.dumps(dev_only_modules()), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_the_dev_extras_really_are_blocked() -> None:
    blocked = dev_only_modules()
    assert {"pytest", "hypothesis", "deptry"} <= set(blocked)
    assert "numpy" not in blocked and "pycocotools" not in blocked and "packaging" not in blocked
    result = plain("--help")
    assert result.returncode == 0, result.stderr


def test_import_and_every_export_format_from_a_plain_install(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "labelled", 4, seed=3)
    store = tmp_path / "store"
    result = plain("import", str(store), str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    for fmt in FORMATS:
        result = plain("export", str(store), "--format", fmt, "--out", str(tmp_path / f"out-{fmt}"))
        assert result.returncode == 0, f"{fmt}: {result.stdout}{result.stderr}"
        assert f"exported 4 annotated frame(s) as {fmt}" in result.stdout, result.stdout
