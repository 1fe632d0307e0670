"""View → Cases with real mouse and key events: the dataset's frames with their statuses, the filters narrow
the tree, a double-click opens a frame, and a save in the window changes its status; an open folder's files
are matched to the dataset."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_helpers import wait_for_score
from PySide6 import QtCore, QtWidgets

from c5desk.gui.case_browser import KEY, install_case_browser
from c5desk.io import open_source
from c5desk.io.frame import Frame
from c5desk.store import Store

pytestmark = pytest.mark.timeout(180)
Key, LEFT = QtCore.Qt.Key, QtCore.Qt.MouseButton.LeftButton
SHAPE = (96, 128)
STAMP = {"via": "dicom", "calling_ae": "SCANNER", "time_utc": "2024-05-01T09:30:00+00:00"}


def _frame(seed: int, **meta) -> Frame:
    rng = np.random.default_rng(seed)
    grey = rng.integers(0, 255, SHAPE, dtype=np.uint8)
    return Frame(grey, grey, 0, None, None, f"browser{seed:04d}", {"format": "synthetic", **meta})


def _lesion() -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[30:60, 40:90] = True
    return mask


def build_dataset(folder: Path) -> dict[str, int]:
    """One frame of each status, and one received over DICOM; cases grouped by patient."""
    with Store.open(folder, create=True) as store:
        made = (("bare", {"side": "left"}, "pat1"), ("ai", {"side": "right"}, "pat1"), ("kept", {}, None),
                ("flipped", {}, None), ("received", {"received": STAMP}, None))  # fmt: skip
        ids = {name: store.add_frame(_frame(i, **meta), case_key=f"p{i // 2}", group=group)
               for i, (name, meta, group) in enumerate(made)}  # fmt: skip
        for name in ("ai", "kept", "flipped"):
            store.add_prediction(ids[name], "m1", 0.8, 0.2, _lesion(), "malignant")
        store.save_annotation(ids["kept"], _lesion(), "malignant", model_version="m1")
        store.save_annotation(ids["flipped"], _lesion(), "benign", model_version="m1")
    return ids


def focus(qtbot, window, widget: QtWidgets.QWidget) -> None:
    """Keys reach the active window only: activate it and give `widget` the keyboard."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=10_000)


def statuses(browser) -> dict[object, str]:
    return {item.data(0, KEY)[1]: item.text(1) for item in browser.items()}


def double_click(qtbot, browser, key: tuple) -> None:
    (item,) = [item for item in browser.items() if item.data(0, KEY) == key]
    browser.tree.scrollToItem(item)
    rect = browser.tree.visualItemRect(item)
    point = QtCore.QPoint(rect.left() + 10, rect.center().y())  # the row may be wider than the dock
    for click in (qtbot.mouseClick, qtbot.mouseDClick):  # as the window system sends a double-click
        click(browser.tree.viewport(), LEFT, pos=point)


def test_statuses_filters_open_and_save(qtbot, make_window, tmp_path: Path) -> None:
    ids = build_dataset(tmp_path / "dataset")
    window = make_window()
    browser = install_case_browser(window)
    window.actions["cases"].trigger()
    assert window.cases_dock.isVisible()
    assert statuses(browser) == {
        ids["bare"]: "unannotated", ids["ai"]: "AI only", ids["kept"]: "corrected",
        ids["flipped"]: "disagreement", ids["received"]: "unannotated · received",
    }  # fmt: skip
    tops = [browser.tree.topLevelItem(i).text(0) for i in range(browser.tree.topLevelItemCount())]
    assert tops[0] == "group pat1" and len(tops) == 3  # the patient's group, then the two ungrouped cases
    sides = [browser.tree.topLevelItem(0).child(0).child(i).text(0) for i in range(2)]
    assert sides == ["L · frame 1", "R · frame 1"]
    assert "1 disagreement" in browser.counts.text() and "1 received" in browser.counts.text()

    focus(qtbot, window, browser.filter)
    for _ in range(4):  # All → Unannotated → AI only → Corrected → Disagreement
        qtbot.keyClick(browser.filter, Key.Key_Down)
    assert list(statuses(browser)) == [ids["flipped"]]
    qtbot.keyClick(browser.filter, Key.Key_Down)  # Received over DICOM
    assert list(statuses(browser)) == [ids["received"]]
    for _ in range(5):
        qtbot.keyClick(browser.filter, Key.Key_Up)  # back to All frames
    assert browser.filter.currentText() == "All frames"
    qtbot.keyClicks(browser.search, "PAT1")  # the group's name, any case
    qtbot.waitUntil(lambda: set(statuses(browser)) == {ids["bare"], ids["ai"]}, timeout=10_000)

    double_click(qtbot, browser, ("frame", ids["bare"]))
    assert window.document is not None and window.document.frame_id == ids["bare"]
    wait_for_score(qtbot, window)
    doc = window.document
    # random weights outline little: a lesion the model calls malignant
    doc.prediction = replace(doc.prediction, mask=_lesion(), p_malignant=0.9, label="malignant")
    focus(qtbot, window, window.canvas)
    qtbot.keyClick(window.canvas, Key.Key_A)  # accept the AI's result and save
    assert not doc.dirty
    qtbot.waitUntil(lambda: statuses(browser).get(ids["bare"]) == "corrected", timeout=10_000)


def test_an_open_folder_is_matched_to_the_dataset(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    paths = [folder / f"img{i}.png" for i in range(2)]
    for i, path in enumerate(paths):
        cv2.imwrite(str(path), np.random.default_rng(i).integers(0, 255, SHAPE, dtype=np.uint8))
    with Store.open(tmp_path / "dataset", create=True) as store, open_source(paths[0]) as source:
        stored = store.add_frame(source.frame(0))
        store.add_prediction(stored, "m1", 0.3, 0.2, _lesion(), "benign")
    window = make_window(load_model=False)
    browser = install_case_browser(window)
    window.actions["cases"].trigger()
    assert window.open_path(folder)
    qtbot.waitUntil(lambda: browser.checking == 0 and len(statuses(browser)) == 3, timeout=20_000)
    found = statuses(browser)
    assert found[str(paths[0])] == "AI only" and found[stored] == "AI only"
    assert found[str(paths[1])] == "unannotated (not in dataset)"
    assert browser.tree.topLevelItem(0).text(0) == "Open folder"
    assert browser.counts.text().startswith("2 frame(s): 1 unannotated · 1 AI only")  # matched: counted once

    double_click(qtbot, browser, ("file", str(paths[1])))
    assert window.session.path == paths[1] and window.session.files == paths  # the folder stays open
