"""training.plots: ROC and reliability PNGs drawn by matplotlib (Agg, no display), written atomically."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from training import plots


def _data(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = (rng.random(n) < 0.35).astype(int)
    return np.clip(0.3 + 0.35 * labels + rng.normal(0, 0.2, n), 0, 1), labels


@pytest.mark.parametrize("draw", [plots.plot_roc, plots.plot_reliability])
def test_a_matplotlib_png_with_its_headline(tmp_path: Path, draw) -> None:
    scores, labels = _data()
    path = tmp_path / "sub" / "plot.png"
    assert draw(path, scores, labels, title="a title") == path
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and b"Matplotlib" in data  # drawn by matplotlib, not OpenCV
    image = cv2.imread(str(path))
    assert image.shape[:2] == (640, 640) and image.std() > 10
    assert [p.name for p in path.parent.iterdir()] == ["plot.png"]  # no temporary left behind


def test_headlines_name_auc_and_ece(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The legend carries the AUC and the ECE; axes are labelled; the diagonal is drawn."""
    figures = []
    monkeypatch.setattr(plots, "_save", lambda figure, path: figures.append(figure) or path)
    scores, labels = _data()
    plots.plot_roc(tmp_path / "r.png", scores, labels)
    plots.plot_reliability(tmp_path / "c.png", scores, labels)
    roc, reliability = (figure.axes[0] for figure in figures)
    assert "AUC = " in " ".join(t.get_text() for t in roc.get_legend().get_texts())
    assert "ECE = " in " ".join(t.get_text() for t in reliability.get_legend().get_texts())
    for axes in (roc, reliability):
        assert axes.get_xlabel() and axes.get_ylabel()
        assert any(list(line.get_xdata()) == [0, 1] == list(line.get_ydata()) for line in axes.lines)


def test_undefined_headlines_still_draw(tmp_path: Path) -> None:
    plots.plot_roc(tmp_path / "r.png", np.array([0.2, 0.7]), np.array([1, 1]))  # one class: no AUC
    plots.plot_reliability(tmp_path / "c.png", np.array([]), np.array([]))  # nothing to bin
    assert cv2.imread(str(tmp_path / "r.png")) is not None and cv2.imread(str(tmp_path / "c.png")) is not None


def test_matplotlib_only_when_plotting_and_never_pyplot() -> None:
    code = (
        "import sys\n"
        "import c5desk.lesion.overlap, c5desk.inference.contract, c5desk.store.active\n"
        "import training.plots, training.evaluate\n"
        "before = sorted(m for m in sys.modules if m.startswith('matplotlib'))\n"
        "import numpy as np, tempfile, pathlib\n"
        "out = pathlib.Path(tempfile.mkdtemp()) / 'r.png'\n"
        "training.plots.plot_roc(out, np.array([.1, .9]), np.array([0, 1]))\n"
        "print(before, 'matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] True False"
