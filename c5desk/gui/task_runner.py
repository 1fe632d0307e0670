"""Run one long job (scoring a folder, an export) on a worker thread, with progress and cancel.

The job is a plain function `job(cancel: threading.Event, report: Callable[[object], None]) -> result`; it
never touches widgets. Signals carry progress and the outcome back to the GUI thread. Every exception
becomes a message, so a failing job can never take the app down or leave a dialog waiting forever.
"""

from __future__ import annotations

import contextlib
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

    def __init__(self, job: Job) -> None:
        super().__init__()  # no parent, on purpose: see _live
        self._job = job
        self.cancel_event = threading.Event()
        self.finished.connect(self._forget)

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
            result = self._job(self.cancel_event, self.progress.emit)
        except Exception as exc:  # the job is user-facing work: any failure is a message, never a crash
            log.exception("background job failed")
            self.failed.emit(describe_error(exc))
        else:
            self.succeeded.emit(result)
        finally:
            self._job = None  # drop the job's references (a model, arrays) as soon as it ends

    def cancel(self) -> None:
        self.cancel_event.set()

    def stop(self, wait_ms: int = 5000) -> bool:
        """Cancel and wait; a job that cannot stop in time goes on unheard and ends on its own."""
        self.cancel()
        if not self.isRunning() or self.wait(wait_ms):
            return True
        for name in ("progress", "succeeded", "failed"):  # nobody is listening any more
            with contextlib.suppress(RuntimeError, TypeError):
                getattr(self, name).disconnect()
        return False
