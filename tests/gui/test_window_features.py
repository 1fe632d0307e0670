"""The rest of the window: folders and cine, dataset navigation and recovery, settings, help, dialogs."""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_helpers import drag, wait_for_model, wait_for_score
from PySide6 import QtCore, QtWidgets

from c5desk.gui.actions import ACTIONS, shortcut_rows
from c5desk.gui.prefs import DEFAULTS, Prefs
from c5desk.settings import RESOURCES

pytestmark = pytest.mark.timeout(180)
SAMPLE = RESOURCES / "samples" / "bus_sample.png"


def write_frames(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(count):
        image = np.full((60, 80), 30 + 40 * i, np.uint8)
        image[10 + i, 10] = 255
        paths.append(folder / f"frame{i + 1}.png")
        cv2.imwrite(str(paths[-1]), image)
    return paths


def test_folder_frame_list_and_next_previous(qtbot, make_window, tmp_path) -> None:
    paths = write_frames(tmp_path / "frames", 3)
    window = make_window(load_model=False)
    assert window.open_path(str(tmp_path / "frames"))
    assert window.frame_list.count() == 3 and window.frame_list.currentRow() == 0
    window.actions["next_frame"].trigger()
    assert window.session.path == paths[1] and window.frame_list.currentRow() == 1
    window.frame_list.setCurrentRow(2)
    assert window.session.path == paths[2]
    window.actions["previous_frame"].trigger()
    assert window.session.path == paths[1]


def test_cine_slider_and_play(qtbot, make_window) -> None:
    from pydicom.data import get_testdata_file

    window = make_window(load_model=False)
    assert window.open_path(get_testdata_file("OBXXXX1A_2frame.dcm"))
    assert window.slider.isEnabled() and window.slider.maximum() == 1
    window.actions["play"].trigger()
    assert window.cine.playing
    qtbot.waitUntil(lambda: window.session.frame.index == 1, timeout=5_000)
    window.actions["play"].trigger()
    assert not window.cine.playing and window.actions["play"].isEnabled()


def test_next_most_useful_and_recovering_an_autosave(qtbot, make_window, messages, tmp_path) -> None:
    paths = write_frames(tmp_path / "frames", 3)
    window = make_window()
    wait_for_model(qtbot, window)
    ids = []
    for i, path in enumerate(paths):  # score every frame into the dataset, as a batch run would
        window.open_path(str(path))
        wait_for_score(qtbot, window)
        store = window.ensure_store()
        ids.append(window.document.ensure_in_store(store))
        prediction = window.document.prediction
        store.add_prediction(ids[-1], prediction.model_version, 0.5, 0.2 + 0.3 * i, prediction.mask)
    window.actions["next_useful"].trigger()  # the most uncertain is on screen already: the next one
    assert window.session.path is None and window.document.frame_id == ids[1]
    wait_for_score(qtbot, window)
    window.actions["tool_brush"].trigger()
    drag(window.canvas, [(10, 10), (40, 30)])
    window.autosave()
    painted, frame_id = window.document.mask.copy(), window.document.frame_id
    messages.answer = QtWidgets.QMessageBox.StandardButton.Discard
    window.session.document = None  # as after a crash: the edits only live in the autosave journal
    window.store_folder = tmp_path / "dataset"
    window.actions["recover"].trigger()
    assert window.document.frame_id == frame_id and window.document.dirty
    assert np.array_equal(window.document.mask, painted)


def test_settings_are_remembered(qtbot, make_window, tmp_path) -> None:
    window = make_window(load_model=False)
    window.open_path(str(SAMPLE))
    window.resize(700, 520)  # the offscreen screen is small: restoring clamps to it
    window.canvas.set_brush_radius(21)
    window.actions["show_heat"].setChecked(True)
    window.actions["show_heat"].trigger()  # toggles back off, then on again below
    window.actions["show_heat"].trigger()
    window.actions["theme"].trigger()
    width = window.width()
    window.close()
    prefs = Prefs(tmp_path / "gui.json")
    assert prefs["brush_radius"] == 21 and prefs["show_heat"] and prefs["theme"] == "light"
    assert prefs["recent"] == [str(SAMPLE.resolve())] and prefs["geometry"]
    recent = next(a.menu() for a in window.menus["File"].actions() if a.menu() is not None)
    recent.aboutToShow.emit()
    assert [a.text() for a in recent.actions()] == [str(SAMPLE.resolve())]
    again = make_window(load_model=False, prefs=prefs)
    assert again.canvas.brush_radius == 21 and again.canvas.layer_visible("heat")
    assert again.actions["theme"].isChecked()
    assert again.width() == width


def test_prefs_drop_unknown_and_mistyped_keys(tmp_path) -> None:
    path = tmp_path / "gui.json"
    path.write_text('{"theme": "light", "brush_radius": "big", "nonsense": 1, "recent": ["a", 3]}')
    prefs = Prefs(path)
    assert prefs["theme"] == "light" and prefs["brush_radius"] == DEFAULTS["brush_radius"]
    assert prefs["recent"] == ["a"]
    with pytest.raises(KeyError):
        prefs["nonsense"] = 2
    path.write_text("not json")
    assert Prefs(path)["theme"] == "dark"


def test_help_lists_every_shortcut(qtbot, make_window) -> None:
    from c5desk.gui.help_dialog import HelpDialog

    window = make_window(load_model=False)
    dialog = HelpDialog(window)
    qtbot.addWidget(dialog)
    keys = {dialog.table.item(r, 2).text() for r in range(dialog.table.rowCount())}
    assert "Ctrl+Z" in keys and "Ctrl+Shift+Z, Ctrl+Y" in keys and "Ctrl+S" in keys
    assert len(shortcut_rows()) == dialog.table.rowCount()
    shortcuts = [s for act in ACTIONS for s in act.shortcuts]
    assert len(shortcuts) == len(set(shortcuts)), "a key is bound twice"
    for act in ACTIONS:
        bound = [k.toString() for k in window.actions[act.key].shortcuts()]
        assert len(bound) == len(act.shortcuts)


def test_dialogs_get_the_agreed_arguments_and_activation_reloads(qtbot, make_window, monkeypatch) -> None:
    class FakeDialog(QtWidgets.QDialog):
        activated = QtCore.Signal(str, str)
        made: typing.ClassVar[list[tuple]] = []

        def __init__(self, parent, *args) -> None:
            super().__init__(parent)
            FakeDialog.made.append(args)

    module = types.ModuleType("c5desk.gui.versions_dialog")
    module.VersionsDialog = FakeDialog
    monkeypatch.setitem(sys.modules, "c5desk.gui.versions_dialog", module)
    window = make_window()
    wait_for_model(qtbot, window)
    window.actions["versions"].trigger()
    catalog, store = FakeDialog.made[-1]
    assert store is window.session.store and catalog is window.models.catalog
    bundle = window.link.bundle
    window.models.dialogs["versions"].activated.emit("v2", str(bundle))
    assert window.link.loading
    wait_for_model(qtbot, window)
    assert window.link.bundle == bundle and "activated" in window.statusBar().currentMessage()


def test_choosing_a_bundle_makes_it_the_active_model(qtbot, make_window, tiny_bundle, tmp_path) -> None:
    """Model → Choose model bundle… goes through the catalogue: the next start (and the CLI) use it too."""
    from c5desk.model.catalog import Catalog

    catalog = Catalog(tmp_path / "models", tmp_path / "shipped")
    window = make_window(catalog=catalog)
    wait_for_model(qtbot, window)
    assert window.models.activate_folder(tiny_bundle)
    assert catalog.active().folder == tiny_bundle.resolve()
    qtbot.waitUntil(lambda: not window.link.loading, timeout=60_000)
    assert window.link.bundle == tiny_bundle.resolve() and window.link.predictor is not None
    assert not [key for key in window.prefs._values if key == "bundle"]  # no second source of truth


def test_keyboard_shortcut_reaches_the_action(qtbot, make_window) -> None:
    window = make_window(load_model=False)
    window.open_path(str(SAMPLE))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)  # shortcuts go to the active window only
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_B)
    assert window.canvas.tool == "brush"
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_BracketRight)
    assert window.canvas.brush_radius > DEFAULTS["brush_radius"]


def test_edits_survive_a_crash_through_the_autosave(qtbot, make_window, tmp_path) -> None:
    first = make_window(load_model=False)
    assert first.open_path(str(SAMPLE))
    first.actions["tool_brush"].trigger()
    drag(first.canvas, [(40, 40), (90, 60)])
    first.label_panel.note.setPlainText("typed before the crash")
    painted = first.document.mask.copy()
    first.autosave()  # what the timer does every few seconds; then the app dies without saving
    second = make_window(load_model=False)  # the next start, on the same dataset
    qtbot.waitUntil(lambda: second.session.store is not None, timeout=10_000)
    assert "(1)" in second.actions["recover"].text()
    assert second.open_path(str(SAMPLE))
    doc = second.document
    assert doc.recovered_from and doc.dirty and np.array_equal(doc.mask, painted)
    assert second.label_panel.note.toPlainText() == "typed before the crash"
    assert "Recovered" in second.statusBar().currentMessage()


def test_gain_contrast_and_overlay_opacity(qtbot, make_window) -> None:
    window = make_window(load_model=False)
    window.open_path(str(SAMPLE))
    levels = window.canvas.image_item.getLevels()
    window.tool_panel.gain.setValue(50)
    brighter = window.canvas.image_item.getLevels()
    assert brighter[0] < levels[0] and brighter[1] < levels[1]  # a lower window shows brighter
    window.tool_panel.contrast.setValue(100)
    steeper = window.canvas.image_item.getLevels()
    assert steeper[1] - steeper[0] < brighter[1] - brighter[0]
    window.tool_panel.heat_opacity.setValue(80)
    assert window.canvas.heat_item.opacity() == pytest.approx(0.8)
    window.actions["show_mask"].trigger()  # the fill off
    assert not window.canvas.mask_item.isVisible()
    window.actions["tool_brush"].trigger()
    drag(window.canvas, [(40, 40), (90, 60)])
    assert window.document.mask[50, 65]  # painting works with the fill hidden


def test_at_1280x720_the_key_controls_show_without_scrolling(qtbot, make_window) -> None:
    """Label buttons, tool buttons and the threshold slider are all in the visible part of the reading
    column (with a measured lesion on an uncalibrated frame: the tallest score panel); View and the
    descriptors are one tab away. No empty Frames panel takes room."""
    window = make_window()  # with a model: its score and the suggested descriptors widen the panels
    window.resize(1280, 720)
    wait_for_model(qtbot, window)
    assert window.open_path(str(SAMPLE))
    wait_for_score(qtbot, window)
    window.actions["tool_lasso_add"].trigger()
    drag(window.canvas, [(40, 40), (160, 40), (160, 120), (40, 120), (40, 40)])
    qtbot.waitUntil(lambda: window.document.score.measurements is not None, timeout=30_000)
    wait_for_score(qtbot, window)
    QtWidgets.QApplication.processEvents()
    assert window.width() == 1280 and window.height() == 720
    assert not window.frames_dock.isVisible() and window.canvas.width() > 0.6 * window.width()
    viewport = window.side_scroll.viewport()
    assert window.side_scroll.verticalScrollBar().value() == 0

    def in_view(widget: QtWidgets.QWidget) -> bool:
        corner = widget.mapTo(viewport, QtCore.QPoint(0, 0))
        return widget.isVisible() and viewport.rect().contains(QtCore.QRect(corner, widget.size()))

    labels = window.label_panel.buttons.buttons()
    tools = [b for b in window.tool_panel.findChildren(QtWidgets.QToolButton) if b.defaultAction()]
    assert len(labels) == 4 and len(tools) >= 5
    for widget in [*labels, *tools, window.tool_panel.threshold]:
        assert in_view(widget), widget.toolTip() or widget.text()
    tabs = window.side_tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Correct", "View", "Descriptors"]
    tabs.setCurrentIndex(1)
    assert in_view(window.tool_panel.gain)


def test_the_frames_panel_shows_only_for_a_folder_of_several_files(qtbot, make_window, tmp_path) -> None:
    write_frames(tmp_path / "one", 1)
    write_frames(tmp_path / "three", 3)
    window = make_window(load_model=False)
    window.open_path(str(tmp_path / "three"))
    assert window.frames_dock.isVisible()
    window.close()  # its layout, Frames panel shown, is remembered ...
    again = make_window(load_model=False, prefs=Prefs(tmp_path / "gui.json"))
    assert not again.frames_dock.isVisible()  # ... but nothing is open yet: no empty panel
    again.open_path(str(tmp_path / "one"))
    assert not again.frames_dock.isVisible()


def test_n_walks_the_open_folder_before_the_dataset(qtbot, make_window, tmp_path) -> None:
    paths = write_frames(tmp_path / "frames", 2)
    window = make_window(load_model=False)
    window.open_path(str(tmp_path / "frames"))
    window.actions["next_useful"].trigger()
    assert window.session.path == paths[1]
    window.document.label = "benign"
    assert window.save()
    window.actions["next_useful"].trigger()  # the first file is not annotated
    assert window.session.path == paths[0]
    window.document.label = "normal"
    assert window.save()
    window.actions["next_useful"].trigger()
    assert window.statusBar().currentMessage() == (
        "Every frame of this folder is annotated; the dataset has no more suggestions"
    )
