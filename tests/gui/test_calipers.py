"""Calipers with real mouse events: a distance in mm on a calibrated ultrasound DICOM; the scale set from the
ruler of an uncalibrated BUS-BRA PNG ("user calibration", measurements in mm, kept when the frame is opened
again); areas; refusals; two linked views giving three diameters."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from gui_helpers import drag, to_viewport, wait_for_model, wait_for_score
from pydicom.data import get_testdata_file
from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.calipers import install_calipers
from c5desk.lesion.measure import measure_mask

pytestmark = pytest.mark.timeout(180)
CALIBRATED_DICOM = "gdcm-US-ALOKA-16.dcm"  # Sequence of Ultrasound Regions: 0.03827 cm per pixel


def dicom_sample(name: str) -> Path:
    found = get_testdata_file(name, download=False)  # never get_testdata_files("*"): it hangs offline
    if not found:
        pytest.skip(f"{name} not available: install the test dependency pydicom-data")
    return Path(found)


EVENTS = {
    "press": QtCore.QEvent.Type.MouseButtonPress,
    "release": QtCore.QEvent.Type.MouseButtonRelease,
    "double": QtCore.QEvent.Type.MouseButtonDblClick,
}


def mouse(
    canvas, x: float, y: float, kinds: tuple[str, ...], button=QtCore.Qt.MouseButton.LeftButton
) -> None:
    """Real mouse events at frame pixel (x, y), as the window system sends them."""
    viewport = canvas.viewport()
    point = QtCore.QPointF(to_viewport(canvas, x, y))
    for kind in kinds:
        held = QtCore.Qt.MouseButton.NoButton if kind == "release" else button
        event = QtGui.QMouseEvent(
            EVENTS[kind],
            point,
            viewport.mapToGlobal(point),
            button,
            held,
            QtCore.Qt.KeyboardModifier.NoModifier,
        )
        QtWidgets.QApplication.sendEvent(viewport, event)
    QtWidgets.QApplication.processEvents()


def click(canvas, x: float, y: float, button=QtCore.Qt.MouseButton.LeftButton) -> None:
    mouse(canvas, x, y, ("press", "release"), button)


def double_click(canvas, x: float, y: float) -> None:
    mouse(canvas, x, y, ("press", "release", "double", "release"))


def value_of(text: str) -> float:
    return float(re.match(r"([\d.]+)", text).group(1))


def paint_lesion(qtbot, window) -> None:
    window.actions["tool_brush"].trigger()
    window.canvas.set_brush_radius(12)
    drag(window.canvas, [(120, 120), (160, 130), (200, 140)])
    qtbot.waitUntil(
        lambda: window.document.score.measurements is not None and not window.document.score.pending
    )


def test_distance_caliper_in_mm_on_a_calibrated_dicom(qtbot, make_window, messages) -> None:
    window = make_window(load_model=False)
    layer = install_calipers(window)
    assert window.open_path(str(dicom_sample(CALIBRATED_DICOM)))
    scale = window.document.frame.mm_per_px
    assert scale == pytest.approx((0.3827, 0.3827), abs=5e-4)
    assert not window.score_panel.calibration_badge.isVisible()  # the scanner's calibration: no badge

    window.actions["tool_distance"].trigger()
    assert window.actions["tool_distance"].isChecked() and window.canvas.tool_badge.text() == "Distance"
    drag(window.canvas, [(100, 100), (150, 140), (200, 100)])  # a drag: its two ends count
    [first] = layer.calipers
    assert first.points[0] == pytest.approx((100, 100), abs=1) and first.points[1] == pytest.approx(
        (200, 100), abs=1
    )
    assert first.label.textItem.toPlainText().endswith(" mm")
    assert value_of(first.label.textItem.toPlainText()) == pytest.approx(100 * scale[0], abs=0.6)

    click(window.canvas, 100, 150)  # click-click makes a second one
    click(window.canvas, 100, 250)
    assert len(layer.calipers) == 2
    assert value_of(layer.calipers[1].label.textItem.toPlainText()) == pytest.approx(100 * scale[1], abs=0.6)
    assert window.document.mask.sum() == 0  # calipers never paint

    click(window.canvas, 150, 100, QtCore.Qt.MouseButton.RightButton)  # on the first line: removed
    [left] = layer.calipers
    assert left.points[0][1] == pytest.approx(150, abs=1)  # the second one stays
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_Escape)
    assert layer.calipers == []

    window.actions["set_scale"].trigger()  # the scanner's own calibration is never replaced by hand
    assert layer.mode == "distance" and "scanner's calibration" in window.statusBar().currentMessage()
    window.actions["tool_brush"].trigger()
    assert layer.mode == "off" and not layer.surface.isVisible() and window.canvas.tool == "brush"
    assert messages.seen == []


def test_user_calibration_on_a_busbra_png(qtbot, make_window, messages, monkeypatch, busbra_root) -> None:
    image, other = busbra_root / "Images" / "bus_0001-l.png", busbra_root / "Images" / "bus_0002-l.png"
    window = make_window(load_model=False)
    layer = install_calipers(window)
    assert window.open_path(str(image))
    doc = window.document
    badge = window.score_panel.calibration_badge
    assert not doc.frame.calibrated and badge.isVisible() and badge.text() == "UNCALIBRATED — px"
    paint_lesion(qtbot, window)
    in_px = doc.score.measurements
    assert in_px.units == "px"
    window.actions["tool_distance"].trigger()
    drag(window.canvas, [(60, 60), (160, 60)])
    assert layer.calipers[0].label.textItem.toPlainText() in ("99 px", "100 px", "101 px")

    asked = []
    monkeypatch.setattr(
        QtWidgets.QInputDialog, "getDouble", lambda *a, **k: asked.append(a[1:3]) or (20.0, True)
    )
    window.actions["set_scale"].trigger()
    assert layer.mode == "ruler" and window.canvas.tool_badge.text().startswith("Ruler")
    click(window.canvas, 20, 40)
    click(window.canvas, 21, 240)  # 200 px down the ruler, 20 mm typed: 0.1 mm per pixel
    assert asked == [("Set scale from ruler", "Distance between the two points (mm):")]
    scale = doc.frame.mm_per_px
    assert scale[0] == scale[1] == pytest.approx(0.1, rel=0.01)
    assert badge.isVisible() and badge.text().startswith("user calibration")
    assert layer.mode == "off" and window.actions["tool_navigate"].isChecked()
    measured = doc.score.measurements
    assert measured.units == "mm" and measured.long_axis == pytest.approx(in_px.long_axis * scale[0])
    assert " mm" in window.score_panel.measurements.text()
    assert value_of(layer.calipers[0].label.textItem.toPlainText()) == pytest.approx(100 * scale[0], abs=0.2)

    window.actions["label_benign"].trigger()
    assert window.save()
    store = window.session.store
    assert store.annotation(doc.frame_id).measurements["units"] == "mm"
    [calibration] = store.user_calibrations()
    assert calibration.scope == f"source:{doc.frame.source_id}" and calibration.detail["distance_mm"] == 20.0
    assert len(store.audit_log(action="set_user_calibration")) == 1

    assert window.open_path(str(other))  # another image: its own scope, still uncalibrated
    assert (
        not window.document.frame.calibrated and badge.text() == "UNCALIBRATED — px" and layer.calipers == []
    )
    assert window.open_path(str(image))  # the calibrated one again: the scale is kept
    assert window.document.frame.mm_per_px == pytest.approx(scale)
    assert badge.isVisible() and badge.text().startswith("user calibration")
    assert messages.seen == []


def test_ruler_refusals_and_the_area_caliper(qtbot, make_window, messages, monkeypatch, busbra_root) -> None:
    window = make_window(load_model=False)
    layer = install_calipers(window)
    assert window.open_path(str(busbra_root / "Images" / "bus_0003-l.png"))
    monkeypatch.setattr(QtWidgets.QInputDialog, "getDouble", lambda *a, **k: (0.02, True))
    window.actions["set_scale"].trigger()
    click(window.canvas, 20, 40)
    click(window.canvas, 20, 240)
    [warning] = messages.of("warning")
    assert "outside the plausible" in warning and window.session.store.user_calibrations() == []
    assert not window.document.frame.calibrated and layer.mode == "ruler"  # mark the ruler again

    window.actions["tool_area"].trigger()
    for x, y in ((50, 50), (150, 50), (150, 150)):
        click(window.canvas, x, y)
    double_click(window.canvas, 50, 150)
    [area] = layer.calipers
    assert area.kind == "area" and len(area.points) == 4
    assert value_of(area.label.textItem.toPlainText()) == pytest.approx(100 * 100, rel=0.04)
    for x, y in ((60, 60), (90, 60), (90, 90)):
        click(window.canvas, x, y)
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_Return)  # Enter closes too
    assert len(layer.calipers) == 2
    qtbot.keyClick(window.canvas, QtCore.Qt.Key.Key_Backspace)
    assert layer.calipers == [area]


def test_two_linked_views_give_three_diameters(qtbot, make_window, messages, busbra_root) -> None:
    window = make_window(load_model=False)
    install_calipers(window)
    assert window.open_path(str(busbra_root / "Images" / "bus_0001-l.png"))
    paint_lesion(qtbot, window)
    first = window.document
    window.actions["mark_view"].trigger()
    window.actions["label_benign"].trigger()
    assert window.save()
    assert window.open_path(str(busbra_root / "Images" / "bus_0001-r.png"))
    paint_lesion(qtbot, window)
    window.actions["link_view"].trigger()
    [shown] = messages.of("information")
    m1, m2 = first.score.measurements, window.document.score.measurements
    assert window.linked_views.last.long_2 == pytest.approx(m2.long_axis)
    assert (window.linked_views.last.long_1, window.linked_views.last.short_1) == pytest.approx(
        (m1.long_axis, m1.short_axis)
    )
    assert "ellipsoid volume" in shown and "uncalibrated" in shown
    store = window.session.store
    assert store.linked_views(first.frame_id) == [window.document.frame_id]


def test_with_the_model_its_result_is_measured_in_mm_once_calibrated(
    qtbot, make_window, messages, monkeypatch, busbra_root
) -> None:
    window = make_window()
    install_calipers(window)
    wait_for_model(qtbot, window)
    assert window.open_path(str(busbra_root / "Images" / "bus_0004-l.png"))
    wait_for_score(qtbot, window)
    doc = window.document
    before = doc.prediction
    monkeypatch.setattr(QtWidgets.QInputDialog, "getDouble", lambda *a, **k: (30.0, True))
    window.actions["set_scale"].trigger()
    click(window.canvas, 20, 40)
    click(window.canvas, 20, 340)
    assert doc.prediction.measurements is None or doc.prediction.measurements.units == "mm"
    assert doc.score.p_malignant == before.p_malignant and "→" in window.score_panel.verdict.text()
    # a result the model started before the scale was set arrives measured in px: it is measured again
    stale = replace(before, mask=before.mask.copy())
    stale.mask[100:140, 100:180] = True
    stale = replace(stale, measurements=measure_mask(stale.mask))
    assert stale.measurements.units == "px"
    doc.set_prediction(stale)
    window.link.predicted.emit(doc)
    assert doc.prediction.measurements.units == "mm" and " mm" in window.score_panel.measurements.text()
    assert messages.seen == []
