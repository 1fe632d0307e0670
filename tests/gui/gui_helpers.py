"""Helpers for the window tests: waiting for the model, synthetic mouse drags and clicks on the frame, and a
window showing the bundled sample with a two-candidate probability map (for the prompt and lesion tools)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from c5desk.gui.model_link import wire_prompts
from c5desk.settings import RESOURCES

SAMPLE = RESOURCES / "samples" / "bus_sample.png"

LEFT, NONE = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
KINDS = {
    "press": (QtCore.QEvent.Type.MouseButtonPress, LEFT, LEFT),
    "move": (QtCore.QEvent.Type.MouseMove, NONE, LEFT),  # moving with the left button held
    "hover": (QtCore.QEvent.Type.MouseMove, NONE, NONE),
    "release": (QtCore.QEvent.Type.MouseButtonRelease, LEFT, NONE),
}


def wait_for_model(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.link.predictor is not None, timeout=60_000)


def wait_for_score(qtbot, window) -> None:
    """Until the shown document has the model's output and its score is current."""
    qtbot.waitUntil(
        lambda: (
            window.document is not None
            and window.document.prediction is not None
            and not window.document.score.pending
            and window.link.worker.pending == 0
        ),
        timeout=60_000,
    )


def to_viewport(canvas, x: float, y: float) -> QtCore.QPoint:
    """Frame pixel centre (x, y) to a point on the canvas's viewport."""
    scene = canvas.view.mapViewToScene(QtCore.QPointF(x + 0.5, y + 0.5))
    return canvas.mapFromScene(scene)


def send_mouse(widget: QtWidgets.QWidget, kind: str, point: QtCore.QPoint) -> None:
    """One real QMouseEvent, delivered as the window system would deliver it."""
    event_type, button, buttons = KINDS[kind]
    local = QtCore.QPointF(point)
    event = QtGui.QMouseEvent(
        event_type, local, widget.mapToGlobal(local), button, buttons, QtCore.Qt.KeyboardModifier.NoModifier
    )
    QtWidgets.QApplication.sendEvent(widget, event)


def drag(canvas, points: list[tuple[float, float]]) -> None:
    """A left-button drag through frame pixel positions, as mouse events on the canvas's viewport."""
    viewport = canvas.viewport()
    path = [to_viewport(canvas, x, y) for x, y in points]
    send_mouse(viewport, "hover", path[0])
    send_mouse(viewport, "press", path[0])
    for point in path[1:]:
        send_mouse(viewport, "move", point)
    send_mouse(viewport, "release", path[-1])
    QtWidgets.QApplication.processEvents()


BIG, SMALL = ((90, 110), 30), ((220, 90), 18)  # (centre x, y), radius of the two candidate regions


def blob(shape: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.circle(out, centre, radius, 1, -1)
    return out > 0


def with_two_blobs(qtbot, make_window):
    """A window showing the sample with a two-blob probability map; the model's mask is both blobs."""
    window = make_window()
    wire_prompts(window)  # idempotent: MainWindow._connect may call it already
    wait_for_model(qtbot, window)
    assert window.open_path(str(SAMPLE))
    wait_for_score(qtbot, window)
    doc = window.document
    big, small = blob(doc.frame.shape, *BIG), blob(doc.frame.shape, *SMALL)
    prob = cv2.GaussianBlur((0.9 * big + 0.8 * small).astype(np.float32), (9, 9), 3)
    doc.prediction = replace(doc.prediction, prob=prob, mask=prob >= 0.5, lesions=())
    doc.editor.reset(doc.prediction.mask)
    window.canvas.set_document(doc)
    return window, doc, big, small


def click(canvas, x: float, y: float, button=QtCore.Qt.MouseButton.LeftButton) -> None:
    """A real press + release of `button` at frame pixel (x, y)."""
    viewport, point = canvas.viewport(), QtCore.QPointF(to_viewport(canvas, x, y))
    steps = ((QtCore.QEvent.Type.MouseButtonPress, button),
             (QtCore.QEvent.Type.MouseButtonRelease, QtCore.Qt.MouseButton.NoButton))  # fmt: skip
    for kind, buttons in steps:
        event = QtGui.QMouseEvent(
            kind, point, viewport.mapToGlobal(point), button, buttons, QtCore.Qt.KeyboardModifier.NoModifier
        )
        QtWidgets.QApplication.sendEvent(viewport, event)
    QtWidgets.QApplication.processEvents()
