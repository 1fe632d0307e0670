"""Model → Retrain… end to end with the real training package: a tiny base model, corrections in a store,
the dialog runs `python -m training retrain` in its own process, plots it, shows the gate, activates."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtWidgets
from synthetic_lesions import FAST, write_folder

from c5desk.gui.app import create_application
from c5desk.gui.retrain_dialog import RetrainDialog
from c5desk.io import open_source
from c5desk.model.bundle import read_spec
from c5desk.model.catalog import Catalog
from c5desk.store import Store
from training.cli import main as training_main


@pytest.mark.slow
def test_retrain_dialog_runs_real_training_and_activates(tmp_path: Path, qtbot, monkeypatch) -> None:
    create_application()
    data = write_folder(tmp_path / "data", 12, seed=1)
    base = tmp_path / "base"
    args = ["finetune", "--data", str(data), "--epochs", "1", "--replay", "8", "--val-fraction", "0.25"]
    assert training_main([*args, "--out", str(base), "--version", "tiny-base", *FAST]) == 0
    corrections = write_folder(tmp_path / "corr", 8, seed=2)
    with Store.create(tmp_path / "store") as store:
        for i in range(8):
            with open_source(corrections / "img" / f"f{i}.png") as source:
                frame_id = store.add_frame(source.frame(0), case_key=f"case{i // 2}")
            mask = cv2.imread(str(corrections / "img" / f"m{i}.png"), cv2.IMREAD_GRAYSCALE) > 0
            store.save_annotation(frame_id, mask, "malignant" if i % 2 else "benign")
    models = tmp_path / "models"
    command = [
        sys.executable,
        "-m",
        "training",
        "retrain",
        "--base",
        str(base),
        "--data",
        str(tmp_path / "store"),
    ]
    command += ["--out", str(models), "--progress", "json", "--cancel-file", "{cancel_file}", "--epochs", "2"]
    command += [
        "--publish-anyway",
        "--threads",
        "1",
        "--version",
        "tiny-r1",
    ]  # a tiny model may fail the gate
    command += ["--work", str(tmp_path / "work")]  # never resume another run's checkpoint
    catalog = Catalog(models, tmp_path / "shipped")
    dialog = RetrainDialog(None, tmp_path / "store", base, catalog, command)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=240_000)
    verdict = dialog.verdict_panel.verdict_line.text()
    assert "Accepted" in verdict or "GATE OVERRIDDEN" in verdict, dialog.details.toPlainText()[-2000:]
    monkeypatch.setattr(  # an overridden bundle is activated only after a question: answer it
        QtWidgets.QMessageBox, "question", lambda *a, **k: QtWidgets.QMessageBox.StandardButton.Yes
    )
    assert len(dialog.curves.series["epoch_loss"][0]) == 2 and dialog.curves.series["step_loss"][0]
    with qtbot.waitSignal(dialog.activated, timeout=10_000) as signal:
        dialog.activate_button.click()
    assert signal.args[0] == "tiny-r1" and read_spec(Path(signal.args[1])).parent == "tiny-base"
    assert catalog.active_version() == "tiny-r1" and catalog.active().folder == models / "tiny-r1"
    with Store.open(tmp_path / "store") as store:
        assert {v.id: v.parent for v in store.model_versions()}["tiny-r1"] == "tiny-base"
