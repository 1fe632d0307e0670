"""The window over a real frame, offscreen: open, step through cine, and survive a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtWidgets

from c5desk.gui.app import create_application
from c5desk.gui.main_window import MainWindow
from c5desk.settings import RESOURCES

SAMPLE = RESOURCES / "samples" / "bus_sample.png"


@pytest.fixture
def window(qtbot):
    create_application()
    win = MainWindow(load_model=False)  # the model's own tests are in test_reading_flow.py
    qtbot.addWidget(win)
    win.show()
    return win


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a, **k: seen.append(a[2]))
    return seen


def test_opens_the_bundled_sample(window) -> None:
    assert window.open_path(str(SAMPLE))
    shown = window.canvas.image_item.image
    assert shown is not None and shown.shape == window.session.frame.pixels.shape
    assert "uncalibrated" in window.statusBar().currentMessage()


def test_cine_slider_steps_frames(window) -> None:
    from pydicom.data import get_testdata_file

    assert window.open_path(get_testdata_file("OBXXXX1A_2frame.dcm"))
    assert window.slider.isEnabled() and window.slider.maximum() == 1
    window.slider.setValue(1)
    assert window.session.frame.index == 1


def test_bad_file_gives_message_and_keeps_current_frame(window, warnings, tmp_path: Path) -> None:
    window.open_path(str(SAMPLE))
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"DICM" + b"\x00" * 50)
    assert not window.open_path(str(bad))
    assert len(warnings) == 1 and warnings[0]
    assert window.session.frame is not None and window.session.path == SAMPLE
    assert window.open_path(str(SAMPLE))  # the window still works
