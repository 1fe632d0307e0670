"""Run one long job (scoring a folder, an export) on a worker thread, with progress and cancel.

The job is a plain function `job(cancel: threading.Event, report: Callable[[object], None]) -> result`; it
never touches widgets. Signals carry progress and the outcome back to the GUI thread. Every exception
becomes a message, so a failing job can never take the app down or leave a dialog waiting forever.

The job thread emits only through its own TaskThread, which `_live` keeps alive until the thread ends, so a
sender is never deleted under a running job. What it reports reaches the public signals on the GUI thread,
and only until `stop()`: a dialog that stopped its job hears nothing more from it, even what was already
on its way.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable

from PySide6 import QtCore

from c5desk.errors import C5Error

log = logging.getLogger(__name__)

Job = Callable[[threading.Event, Callable[[object], None]], object]

# Running jobs, referenced here (never by a parent widget) until they end: Qt aborts the process when a
# running QThread object is destroyed, which a closing window would otherwise do to its children.
_live: set[TaskThread] = set()
_hooked_apps: set[int] = set()
QUIT_WAIT_MS = 30_000


def stop_all(wait_ms: int = QUIT_WAIT_MS) -> None:
    """Cancel every running job and wait for each (the app is quitting)."""
    for thread in list(_live):
        thread.cancel()
    for thread in list(_live):
        thread.wait(wait_ms)


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, C5Error):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory: close other programs or use a smaller batch, then try again"
    if isinstance(exc, OSError) and exc.strerror:
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror}"
    return f"unexpected error ({type(exc).__name__}: {exc})"


class TaskThread(QtCore.QThread):
    progress = QtCore.Signal(object)
    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    _report = QtCore.Signal(str, object)  # from the job thread: (signal name, payload)

    def __init__(self, job: Job) -> None:
        super().__init__()  # no parent, on purpose: see _live
        self._job = job
        self.cancel_event = threading.Event()
        self._detached = False  # set on the GUI thread by stop(): nothing is relayed any more
        self.finished.connect(self._forget)
        # Queued: this object lives on the GUI thread, so the relay (and its check) runs there.
        self._report.connect(self._relay, QtCore.Qt.ConnectionType.QueuedConnection)

    def start(self) -> None:  # type: ignore[override]
        app = QtCore.QCoreApplication.instance()
        if app is not None and id(app) not in _hooked_apps:
            app.aboutToQuit.connect(stop_all)
            _hooked_apps.add(id(app))
        _live.add(self)
        super().start()

    def _forget(self) -> None:
        self.wait()  # `finished` comes just before the thread really ends
        _live.discard(self)
        gc.collect()  # here, on the GUI thread: a model's memory goes back before the next job

    def run(self) -> None:
        try:
            result = self._job(self.cancel_event, lambda payload: self._report.emit("progress", payload))
        except Exception as exc:  # the job is user-facing work: any failure is a message, never a crash
            log.exception("background job failed")
            self._report.emit("failed", describe_error(exc))
        else:
            self._report.emit("succeeded", result)
        finally:
            self._job = None  # drop the job's references (a model, arrays) as soon as it ends

    @QtCore.Slot(str, object)
    def _relay(self, name: str, payload: object) -> None:
        if not self._detached:
            getattr(self, name).emit(payload)

    def cancel(self) -> None:
        self.cancel_event.set()

    def stop(self, wait_ms: int = 5000) -> bool:
        """Cancel and wait (bounded); from now on nothing is reported, so a job that cannot stop in time goes
        on unheard and ends on its own, and one that did stop is not heard either."""
        self._detached = True
        self.cancel()
        return not self.isRunning() or self.wait(wait_ms)
