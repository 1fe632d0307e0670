"""The model worker when its window goes away first: a job that ends after its Worker was shut down or
deleted reports nothing and raises nothing, on either thread, and closing never waits unbounded.

Every job here waits on a threading.Event the test opens; nothing depends on timing. GATE_S only bounds how
long a broken Worker can hang the test (it is never reached when the Worker works).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

import shiboken6
from gui_helpers import wait_for_model, wait_for_score
from PySide6 import QtCore, QtWidgets

from c5desk.gui.app import create_application
from c5desk.gui.worker import Worker, wait_for_jobs
from c5desk.settings import RESOURCES

SAMPLE = RESOURCES / "samples" / "bus_sample.png"
GATE_S = 30.0


class Gated:
    """A job that blocks until `gate` opens; `started` and `finished` say where it is."""

    def __init__(self, result: object = "late") -> None:
        self.gate, self.started, self.finished = threading.Event(), threading.Event(), threading.Event()
        self.opened: list[bool] = []  # True when the test opened the gate (False: it timed out)
        self.result = result

    def __call__(self, *args: object) -> object:
        self.started.set()
        try:
            self.opened.append(self.gate.wait(GATE_S))
            return self.result(*args) if callable(self.result) else self.result
        finally:
            self.finished.set()


@pytest.fixture
def thread_errors(monkeypatch) -> list[BaseException]:
    """Exceptions that escape any Python thread (the original RuntimeError was raised in the job's)."""
    seen: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    return seen


def deliver_posted() -> None:
    """Run every queued call and deferred delete on the GUI thread (what the event loop would do)."""
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    QtCore.QCoreApplication.sendPostedEvents()
    QtCore.QCoreApplication.processEvents()


def delete_now(widget: QtWidgets.QWidget, how: str) -> None:
    if how == "delete":
        shiboken6.delete(widget)
    else:
        widget.deleteLater()
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(widget)


@pytest.mark.parametrize("how", ["deleteLater", "delete"])
def test_a_job_ending_after_its_window_was_deleted_reports_nothing(qtbot, thread_errors, how) -> None:
    create_application()
    window, other = QtWidgets.QWidget(), QtWidgets.QWidget()
    worker, control = Worker(window), Worker(other)
    job, calls, control_calls = Gated(), [], []
    with qtbot.captureExceptions() as exceptions:
        assert worker.submit(job, calls.append, calls.append)
        assert job.started.wait(GATE_S)
        delete_now(window, how)
        assert not job.finished.is_set()  # deleting the window did not wait for the job
        job.gate.set()
        assert job.finished.wait(GATE_S) and wait_for_jobs(GATE_S)
        # The same path on a window that is still there does deliver: the drop above is the Worker's doing.
        assert control.submit(lambda: "on time", control_calls.append, control_calls.append)
        assert wait_for_jobs(GATE_S)
        deliver_posted()
    assert job.opened == [True]
    assert calls == [] and control_calls == ["on time"]
    assert exceptions == [] and thread_errors == []
    other.deleteLater()


def test_shutdown_refuses_jobs_drops_queued_ones_and_the_late_result(qtbot, thread_errors) -> None:
    create_application()
    owner = QtCore.QObject()
    worker = Worker(owner)
    running, queued, calls = Gated(), Gated("queued"), []
    with qtbot.captureExceptions() as exceptions:
        assert worker.submit(running, calls.append, calls.append)
        assert worker.submit(queued, calls.append, calls.append)
        assert running.started.wait(GATE_S) and worker.pending == 2
        assert not worker.shutdown(wait_ms=1)  # the gate is shut: the bounded wait must give up
        assert not worker.accepting and worker.pending == 0
        assert not worker.submit(lambda: "refused", calls.append, calls.append)
        running.gate.set()
        assert running.finished.wait(GATE_S) and wait_for_jobs(GATE_S)
        deliver_posted()
    assert not queued.started.is_set() and calls == []
    assert exceptions == [] and thread_errors == []
    owner.deleteLater()


def test_shutdown_waits_for_the_running_job(qtbot) -> None:
    create_application()
    worker, job = Worker(), Gated()
    assert worker.submit(job, print, print)
    assert job.started.wait(GATE_S)
    threading.Thread(target=job.gate.set).start()  # opened while shutdown waits, or before: either way
    assert worker.shutdown(wait_ms=int(GATE_S * 1000))
    assert job.finished.is_set() and job.opened == [True]


def gate_the_model(window) -> Gated:
    """The window's (real) model predicts only once the returned gate opens."""
    gated = Gated(window.link.predictor.predict)
    window.link.predictor.predict = gated  # this instance only
    return gated


def open_gate_when(called: Callable, gated: Gated) -> Callable:
    """`called`, wrapped so that another thread opens the gate once it runs (a close waiting on the job)."""

    def wrapper(*args, **kwargs):
        threading.Thread(target=gated.gate.set).start()
        return called(*args, **kwargs)

    return wrapper


def test_closing_a_window_while_a_frame_is_scoring_drops_the_late_result(
    qtbot, make_window, thread_errors, monkeypatch
) -> None:
    window = make_window()
    wait_for_model(qtbot, window)
    gated = gate_the_model(window)
    gated.gate.set()
    assert window.open_path(str(SAMPLE))
    wait_for_score(qtbot, window)  # with the gate open the prediction arrives: the path works
    document, first = window.document, window.document.prediction
    gated.gate.clear()
    gated.started.clear()
    gated.finished.clear()
    window.actions["rerun"].trigger()
    qtbot.waitUntil(gated.started.is_set, timeout=int(GATE_S * 1000))
    predicted: list[object] = []
    window.link.predicted.connect(predicted.append)
    monkeypatch.setattr(window.link.worker, "shutdown", open_gate_when(window.link.worker.shutdown, gated))
    with qtbot.captureExceptions() as exceptions:
        assert window.close()
        assert gated.finished.is_set()  # the close waited for the job...
        assert wait_for_jobs(GATE_S)
        deliver_posted()
    assert document.prediction is first and predicted == []  # ...and dropped its result
    assert window.link.worker.pending == 0
    assert exceptions == [] and thread_errors == []


def test_deleting_a_window_while_a_frame_is_scoring(
    qtbot, tiny_bundle, tmp_path: Path, thread_errors
) -> None:
    from c5desk.gui.main_window import MainWindow
    from c5desk.gui.prefs import Prefs

    create_application()
    window = MainWindow(
        bundle=tiny_bundle, device="cpu", backend="torch", store_folder=tmp_path / "dataset",
        prefs=Prefs(tmp_path / "gui.json"),
    )  # fmt: skip
    window.show()
    link = window.link
    wait_for_model(qtbot, window)
    gated = gate_the_model(window)
    predicted: list[object] = []
    link.predicted.connect(predicted.append)
    assert window.open_path(str(SAMPLE))
    qtbot.waitUntil(gated.started.is_set, timeout=int(GATE_S * 1000))
    document, session = window.document, window.session
    with qtbot.captureExceptions() as exceptions:
        delete_now(window, "deleteLater")
        assert not gated.finished.is_set()  # deleting did not wait for the model
        gated.gate.set()
        assert gated.finished.wait(GATE_S) and wait_for_jobs(GATE_S)
        deliver_posted()
    session.shutdown()  # no closeEvent ran: close the dataset store here
    assert gated.opened == [True] and document.prediction is None and predicted == []
    assert exceptions == [] and thread_errors == []


def test_a_stopped_task_reports_nothing_even_what_was_on_its_way(qtbot, thread_errors) -> None:
    from c5desk.gui.task_runner import TaskThread

    create_application()
    heard: dict[str, list[object]] = {"stopped": [], "watched": []}

    def start(name: str, gated: Gated) -> TaskThread:
        def job(cancel: threading.Event, report: Callable[[object], None]) -> object:
            report("halfway")
            return gated()

        thread = TaskThread(job)
        for signal in (thread.progress, thread.succeeded, thread.failed):
            signal.connect(heard[name].append)
        thread.start()
        return thread

    stopped, watched = Gated("done"), Gated("done")
    with qtbot.captureExceptions() as exceptions:
        threads = start("stopped", stopped), start("watched", watched)
        stopped.gate.set()
        watched.gate.set()
        assert all(thread.wait(int(GATE_S * 1000)) for thread in threads)  # both outcomes are on their way
        assert threads[0].stop()
        deliver_posted()
    assert heard == {"stopped": [], "watched": ["halfway", "done"]}
    assert exceptions == [] and thread_errors == []
