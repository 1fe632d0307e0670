"""Issue 13, the cine: the slider seeks where it is clicked, the play/pause icons are the style's own, the
shown frame is scored during playback (never "no model" while one is loaded), and the per-frame strip with
"Score all frames" (cancellable) and "Go to the most suspicious frame" (G)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import send_mouse, wait_for_model
from PIL import Image
from PySide6 import QtCore, QtWidgets

pytestmark = pytest.mark.timeout(180)
FRAMES = 12


def write_clip(path: Path, count: int = FRAMES) -> Path:
    """A multi-page TIFF clip whose frames differ (a bright square moving down)."""
    pages = []
    for i in range(count):
        image = np.full((64, 80), 40, np.uint8)
        image[10 + 3 * i : 24 + 3 * i, 20:40] = 200
        pages.append(Image.fromarray(image))
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return path


def click(widget: QtWidgets.QWidget, point: QtCore.QPoint) -> None:
    send_mouse(widget, "hover", point)
    send_mouse(widget, "press", point)
    send_mouse(widget, "release", point)
    QtWidgets.QApplication.processEvents()


def test_clicking_the_slider_groove_seeks_to_the_clicked_frame(qtbot, make_window, tmp_path) -> None:
    window = make_window(load_model=False)
    assert window.open_path(write_clip(tmp_path / "clip.tif"))
    slider = window.slider
    assert slider.isEnabled() and slider.maximum() == FRAMES - 1
    x = round(slider.width() * 0.6)
    wanted = slider.value_at(x)
    assert wanted not in (0, slider.pageStep())  # a page step from 0 would land on 10
    click(slider, QtCore.QPoint(x, slider.height() // 2))
    assert window.session.frame.index == wanted == slider.value()
    click(slider, QtCore.QPoint(2, slider.height() // 2))  # the far left end: the first frame
    assert window.session.frame.index == 0


def test_play_and_pause_show_the_styles_media_icons(qtbot, make_window, tmp_path) -> None:
    window = make_window(load_model=False)
    window.open_path(write_clip(tmp_path / "clip.tif"))
    button, style = window.cine.play_button, window.cine.style()

    def shows(pixmap: QtWidgets.QStyle.StandardPixmap) -> bool:
        expected = style.standardIcon(pixmap).pixmap(16).toImage()
        return not button.icon().isNull() and button.icon().pixmap(16).toImage() == expected

    assert shows(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay) and button.text() not in ("▶", "⏸")
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)
    assert window.cine.playing and shows(QtWidgets.QStyle.StandardPixmap.SP_MediaPause)
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)
    assert not window.cine.playing and shows(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay)


def test_playback_scores_the_shown_frames_and_never_says_no_model(qtbot, make_window, tmp_path) -> None:
    window = make_window()
    wait_for_model(qtbot, window)
    clip = write_clip(tmp_path / "clip.tif")
    assert window.open_path(clip)
    seen: list[str] = []
    window.cine.timer.timeout.connect(lambda: seen.append(window.score_panel.verdict.text()))
    window.actions["play"].trigger()
    qtbot.waitUntil(lambda: len(window.scores.of(str(clip))) >= 3 and len(seen) >= 3, timeout=60_000)
    window.actions["play"].trigger()
    assert not window.cine.playing
    assert seen and not [text for text in seen if "no model" in text]
    assert window.cine.strip.scores == window.scores.of(str(clip))  # the strip paints what was scored


def test_score_all_frames_then_go_to_the_most_suspicious(qtbot, make_window, tmp_path) -> None:
    window = make_window()
    wait_for_model(qtbot, window)
    clip = str(write_clip(tmp_path / "clip.tif"))
    window.open_path(clip)
    assert window.cine.score_all_button.isVisible() and window.cine.strip.isVisible()
    qtbot.mouseClick(window.cine.score_all_button, QtCore.Qt.MouseButton.LeftButton)
    assert window.scorer.running and window.actions["score_all"].text().startswith("Cancel scoring")
    qtbot.waitUntil(lambda: not window.scorer.running, timeout=120_000)
    assert sorted(window.scores.of(clip)) == list(range(FRAMES))
    assert window.actions["score_all"].text() == "Score all frames"
    assert len(window.cine.strip.scores) == FRAMES
    best, p = window.scores.most_suspicious(clip)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)  # shortcuts reach the active window only
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_G)
    assert window.session.frame.index == best
    assert f"{p:.2f}" in window.statusBar().currentMessage()


def test_scoring_all_frames_can_be_cancelled(qtbot, make_window, tmp_path) -> None:
    window = make_window()
    wait_for_model(qtbot, window)
    window.open_path(write_clip(tmp_path / "clip.tif", 40))
    window.actions["score_all"].trigger()
    assert window.scorer.running
    window.actions["score_all"].trigger()  # the same command cancels
    assert not window.scorer.running and window.actions["score_all"].text() == "Score all frames"
    assert window.statusBar().currentMessage().startswith("Scoring stopped")
    qtbot.waitUntil(lambda: window.link.worker.pending == 0, timeout=60_000)
    assert len(window.scores.of(str(tmp_path / "clip.tif"))) < 40  # nothing more was queued


def test_the_strip_seeks_and_a_single_frame_has_no_strip(qtbot, make_window, tmp_path) -> None:
    from c5desk.settings import RESOURCES

    window = make_window(load_model=False)
    window.open_path(write_clip(tmp_path / "clip.tif"))
    strip = window.cine.strip
    x = round(strip.x_of(8))
    click(strip, QtCore.QPoint(x, strip.height() // 2))
    assert window.session.frame.index == 8
    window.open_path(RESOURCES / "samples" / "bus_sample.png")
    assert not strip.isVisible() and not window.cine.score_all_button.isVisible()
