"""The window half of `c5desk --self-test --gui`: open the real main window (offscreen in the build), let it
load the shipped model, open the sample frame and wait until the model has outlined it.

It proves what the headless self-test cannot: the Qt platform and image plugins are in the bundle, every
GUI module imports, and the window's own model-loading path works in this installation (e.g. without torch).
Message boxes are recorded instead of shown, so a failure becomes the verdict rather than a hung dialog.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtWidgets

from c5desk.errors import C5Error


class WindowCheckFailure(C5Error):
    """The window could not show, load the model or outline the sample."""


def wait_for(app: QtWidgets.QApplication, done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def record_message_boxes(messages: list[str]) -> None:
    """Modal boxes would block an unattended check: keep their text and answer 'Discard'/'OK'."""

    def record(_parent, title, text, *args, **kwargs):
        messages.append(f"{title}: {text}")
        return QtWidgets.QMessageBox.StandardButton.Discard

    for name in ("warning", "critical", "information", "question"):
        setattr(QtWidgets.QMessageBox, name, staticmethod(record))


def window_check(sample: Path, bundle: Path | None = None, timeout: float = 120.0) -> str:
    """Details for the PASS line ('window 0.4 s, model 1.2 s, outline 0.3 s'); raises WindowCheckFailure."""
    from c5desk.gui.app import create_application
    from c5desk.gui.main_window import MainWindow
    from c5desk.gui.prefs import Prefs

    start = time.perf_counter()
    messages: list[str] = []
    prefs = Prefs()
    app = create_application(prefs["theme"])
    record_message_boxes(messages)
    window = MainWindow(prefs=prefs, bundle=bundle)
    statuses: list[tuple[str, str]] = []  # the model's status lines and kinds (loading/ok/test/none/error)
    window.link.status.connect(lambda text, kind, device: statuses.append((text, kind)))
    window.show()
    app.processEvents()
    shown = time.perf_counter()
    try:
        # the window may start loading only once it is on screen: wait for the load's outcome, not its start
        def settled() -> bool:
            loaded = window.link.predictor is not None and not window.link.loading
            return loaded or bool(messages) or any(kind in ("none", "error") for _, kind in statuses)

        if not wait_for(app, settled, timeout):
            raise WindowCheckFailure(f"the window did not load the model within {timeout:.0f} s")
        if window.link.predictor is None:
            why = "; ".join(messages) or (statuses[-1][0] if statuses else "no reason given")
            raise WindowCheckFailure(f"the window did not load the model: {why}")
        loaded = time.perf_counter()
        outlined: list[object] = []
        window.link.predicted.connect(outlined.append)
        if not window.open_path(sample):
            raise WindowCheckFailure(f"the window could not open {sample}: {'; '.join(messages) or '?'}")
        if not wait_for(app, lambda: bool(outlined) or bool(messages), timeout):
            raise WindowCheckFailure(f"the window did not outline the sample within {timeout:.0f} s")
        if messages:
            raise WindowCheckFailure(f"the window reported: {'; '.join(messages)}")
        finished = time.perf_counter()
    finally:
        window.close()
        app.processEvents()
    platform = QtWidgets.QApplication.platformName()
    return (
        f"window ({platform}) {shown - start:.1f} s, model {loaded - shown:.1f} s, "
        f"outline {finished - loaded:.1f} s"
    )
