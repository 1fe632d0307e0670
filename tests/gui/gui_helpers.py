"""Helpers for the window tests: waiting for the model, and synthetic mouse drags on the frame."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

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
