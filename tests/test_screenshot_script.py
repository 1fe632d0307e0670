"""scripts/screenshot.py, issue 13's proof pictures: `--scenario box` drives a window offscreen and writes a
1280x720 PNG showing the dragged box and the outline inside it; `--scenario lesions` shows two lesions boxed
on a real BUS-UCLM frame, the other one dashed in its colour."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "screenshot.py"
HANG_GUARD_S = 900  # a hung window, not a slow machine: the script itself waits on conditions only


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )


def pixels_near(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    return int((np.abs(image.astype(int) - np.array(rgb)).sum(axis=-1) < tolerance).sum())


@pytest.mark.slow
@pytest.mark.timeout(HANG_GUARD_S + 60)
def test_the_box_scenario_writes_a_1280x720_picture_of_the_box_and_its_outline(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    from PIL import Image

    from c5desk.gui.canvas import POSITIVE_RGB
    from c5desk.gui.overlays import CONTOUR_RGB

    result = run_script("--scenario", "box", "--out-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    picture = tmp_path / "box.png"
    assert f"scenario box: wrote {picture}" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box.png"]  # written atomically: no leftovers
    with Image.open(picture) as opened:
        assert opened.format == "PNG" and opened.size == (1280, 720)
        image = np.asarray(opened.convert("RGB"))
    grey = image.mean(axis=-1)
    assert grey.std() > 10 and len(np.unique(grey)) > 100  # a rendered window, not a blank
    assert pixels_near(image, CONTOUR_RGB) > 200  # the outline (yellow)
    assert pixels_near(image, POSITIVE_RGB) > 200  # the dragged box (green, dashed)


@pytest.mark.slow
@pytest.mark.timeout(HANG_GUARD_S + 60)
def test_the_lesions_scenario_shows_two_lesions_on_a_real_frame(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    from PIL import Image

    from c5desk.gui.overlays import CONTOUR_RGB, LESION_RGB
    from c5desk.settings import data_root

    if not (data_root() / "bus_uclm").is_dir():
        pytest.skip(f"bus_uclm not found under {data_root()} (set C5DESK_DATA)")
    result = run_script("--scenario", "lesions", "--out-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    with Image.open(tmp_path / "lesions.png") as opened:
        assert opened.size == (1280, 720)
        image = np.asarray(opened.convert("RGB"))
    assert pixels_near(image, CONTOUR_RGB) > 200  # the active lesion's outline (yellow)
    assert pixels_near(image, LESION_RGB[0]) > 100  # lesion 1, dashed in its own colour
