"""Model work off the GUI thread: one background thread runs callables in order, results come back as
callbacks on the GUI thread.

    worker.submit(lambda: predictor.predict(frame), on_done=show, on_failed=report)

One thread at a time per Worker, so the Predictor (not thread-safe: it keeps the last frame's encoder
features) is only ever used by one thread. A failure reaches `on_failed` as a one-line message (out of
memory included), never as an exception in the event loop; a bug is also logged with its traceback.

A job can outlive its window (a model takes seconds to load; a window closes at once), so nothing a job
holds may die under it: the job and its thread share only a `_Lane` (plain Python, no Qt object) with the
Worker, and post their outcome through one application-wide `_Mailbox` that lives as long as the
QApplication. Whether anyone still wants the outcome is decided on the GUI thread, when it arrives: a Worker
that was shut down or deleted gets nothing, so no callback ever runs for a closed or deleted window. Deleting
a Worker never waits for its running job (that job's result is simply dropped); `shutdown` waits, bounded.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6 import QtCore

from c5desk.errors import C5Error

log = logging.getLogger(__name__)
OUT_OF_MEMORY = "not enough memory: close other programs or use a smaller model"

# Every lane whose thread runs now, so that quitting can wait for jobs whose window is already gone.
_busy: set[_Lane] = set()
_busy_lock = threading.Lock()


@dataclass(frozen=True)
class _Job:
    fn: Callable[[], Any]
    on_done: Callable[[Any], None]
    on_failed: Callable[[str], None]


@dataclass(frozen=True)
class _Outcome:
    callback: Callable[[Any], None]
    value: Any


def run_job(job: _Job) -> _Outcome:
    """What the job's caller should be told: its result, or a one-line message."""
    try:
        return _Outcome(job.on_done, job.fn())
    except C5Error as exc:
        return _Outcome(job.on_failed, str(exc))
    except MemoryError:
        return _Outcome(job.on_failed, OUT_OF_MEMORY)
    except Exception as exc:  # a bug must not take the window down: report it instead
        log.exception("unexpected error in a background job")
        return _Outcome(job.on_failed, f"unexpected error: {type(exc).__name__}: {exc}".splitlines()[0])


class _Mailbox(QtCore.QObject):
    """The way back to the GUI thread; one per application, so it never dies under a running job."""

    posted = QtCore.Signal(object, object)  # lane, outcome

    def __init__(self, parent: QtCore.QObject | None) -> None:
        super().__init__(parent)
        self.posted.connect(self._arrived, QtCore.Qt.ConnectionType.QueuedConnection)

    @QtCore.Slot(object, object)
    def _arrived(self, lane: _Lane, outcome: _Outcome) -> None:
        lane.deliver(outcome)


_mailbox: _Mailbox | None = None


def _forget_mailbox(*_: object) -> None:
    global _mailbox
    _mailbox = None  # its application is gone: a new one gets a new mailbox


def _gui_mailbox() -> _Mailbox:
    """The application's mailbox, made on first use (on the GUI thread: a Worker is made there)."""
    global _mailbox
    if _mailbox is None:
        _mailbox = _Mailbox(QtCore.QCoreApplication.instance())  # the app owns it: it outlives windows
        _mailbox.destroyed.connect(_forget_mailbox)
    return _mailbox


def wait_for_jobs(timeout_s: float = 30.0) -> bool:
    """Wait (bounded) for every running job, a closed window's included; True when none runs any more."""
    with _busy_lock:
        threads = [lane.thread for lane in _busy]
    for thread in threads:
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
    return not any(thread is not None and thread.is_alive() for thread in threads)


class _Lane:
    """A Worker's queue, its thread and whether its outcomes are still wanted. It refers to the Worker only
    weakly: a job never keeps a window alive, and a deleted Worker is seen as gone on the GUI thread."""

    def __init__(self, worker: Worker, mailbox: _Mailbox) -> None:
        self._worker = weakref.ref(worker)
        self._mailbox = mailbox
        self._lock = threading.Lock()  # guards _jobs, thread and open against the job thread
        self._jobs: deque[_Job] = deque()
        self.thread: threading.Thread | None = None  # at most one at a time: jobs run in order
        self.open = True
        self.pending = 0  # GUI thread only

    def add(self, job: _Job) -> bool:
        with self._lock:
            if not self.open:
                return False
            self._jobs.append(job)
            self.pending += 1
            if self.thread is None:  # started on demand, ends when the queue is empty
                self.thread = threading.Thread(target=self._run, name="c5desk-model", daemon=False)
                with _busy_lock:
                    _busy.add(self)
                self.thread.start()
        return True

    def _next(self) -> _Job | None:
        with self._lock:
            if self.open and self._jobs:
                return self._jobs.popleft()
            self.thread = None  # under the lock: add() starts a new thread from here on
            with _busy_lock:
                _busy.discard(self)
            return None

    def _run(self) -> None:
        while (job := self._next()) is not None:
            outcome = run_job(job)
            del job  # the job's references (a frame, a mask) go now, not with the next one
            self._post(outcome)

    def _post(self, outcome: _Outcome) -> None:
        """Sent even when closed: the outcome (and what it holds) is then dropped on the GUI thread."""
        try:
            self._mailbox.posted.emit(self, outcome)
        except RuntimeError:  # the application itself is gone (quitting): nobody is left to tell
            log.info("a background job finished after the application closed")

    def deliver(self, outcome: _Outcome) -> None:
        """On the GUI thread: the callback runs only while the Worker is alive and was not shut down."""
        if self._worker() is None:  # collected without its `destroyed` reaching close(): gone all the same
            self.close()
        if not self.open:
            log.info("a background job finished after its window closed; its result is dropped")
            return
        self.pending -= 1
        outcome.callback(outcome.value)

    def close(self) -> threading.Thread | None:
        """No more jobs, queued ones dropped, the running one's outcome dropped; its thread, if any."""
        with self._lock:
            self.open = False
            self._jobs.clear()
            thread = self.thread
        self.pending = 0
        return thread


class Worker(QtCore.QObject):
    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._lane = _Lane(self, _gui_mailbox())
        lane = self._lane  # held by the connection: the Worker's own attributes die with it
        # Deleted (with its window) without a shutdown: from the start of its destruction, on the GUI thread,
        # queued jobs are dropped and whatever still arrives is dropped on arrival.
        self.destroyed.connect(lambda *_: lane.close())

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet reported back (0 once shut down: nothing is reported any more)."""
        return self._lane.pending

    @property
    def accepting(self) -> bool:
        return self._lane.open

    def submit(
        self, fn: Callable[[], Any], on_done: Callable[[Any], None], on_failed: Callable[[str], None]
    ) -> bool:
        """Run fn() on the worker thread, then on_done(result) or on_failed(message) on the GUI thread.
        False (and nothing runs) once the Worker is shut down."""
        accepted = self._lane.add(_Job(fn, on_done, on_failed))
        if not accepted:
            log.info("a background job was refused: its window is closing")
        return accepted

    def shutdown(self, wait_ms: int = 30_000) -> bool:
        """Refuse new jobs, drop queued ones and the running one's result, and wait (at most wait_ms) for
        the running one to end (the window is closing). True when no job runs any more."""
        thread = self._lane.close()
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(wait_ms / 1000)
        return not thread.is_alive()
