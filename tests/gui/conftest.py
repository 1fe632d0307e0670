"""Fixtures for the window tests: a tiny random-weight bundle, a window over a private dataset, and
message boxes that record instead of blocking."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtWidgets

from c5desk.gui.app import create_application
from c5desk.model.bundle import make_random_bundle


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    """Random weights (FOR TESTS ONLY; the window labels it as a test model)."""
    return make_random_bundle(
        tmp_path_factory.mktemp("gui-bundles") / "tiny", arch="c5net_tiny", input_size=64
    )


class Messages:
    """QMessageBox calls recorded; question() answers with `answer`."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.answer = QtWidgets.QMessageBox.StandardButton.Cancel

    def record(self, kind: str):
        def show(parent, title, text, *args, **kwargs):
            self.seen.append((kind, title, text))
            return self.answer if kind == "question" else QtWidgets.QMessageBox.StandardButton.Ok

        return show

    def of(self, kind: str) -> list[str]:
        return [text for k, _title, text in self.seen if k == kind]


@pytest.fixture
def messages(monkeypatch) -> Messages:
    recorder = Messages()
    for kind in ("warning", "information", "question", "critical"):
        monkeypatch.setattr(QtWidgets.QMessageBox, kind, recorder.record(kind))
    return recorder


@pytest.fixture
def make_window(qtbot, tiny_bundle: Path, tmp_path: Path, messages):
    """make_window(**overrides) -> a shown window on the tiny bundle (CPU, torch) and a private dataset."""
    from c5desk.gui.main_window import MainWindow
    from c5desk.gui.prefs import Prefs

    create_application()
    made = []

    def make(**kwargs) -> MainWindow:
        options = {
            "bundle": tiny_bundle,
            "device": "cpu",
            "backend": "torch",  # no CPU timing in every test window
            "store_folder": tmp_path / "dataset",
            "prefs": Prefs(tmp_path / "gui.json"),
        }
        options.update(kwargs)
        window = MainWindow(**options)
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield make
    messages.answer = QtWidgets.QMessageBox.StandardButton.Discard  # closing must never block on a prompt
    for window in made:
        window.close()
