"""Model work off the GUI thread: one background thread runs callables in order, results come back as
callbacks on the GUI thread.

    worker.submit(lambda: predictor.predict(frame), on_done=show, on_failed=report)

One thread only, so the Predictor (not thread-safe: it keeps the last frame's encoder features) is only
ever used by one thread. A failure reaches `on_failed` as a one-line message (out of memory included),
never as an exception in the event loop; a bug is also logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6 import QtCore

from c5desk.errors import C5Error

log = logging.getLogger(__name__)
OUT_OF_MEMORY = "not enough memory: close other programs or use a smaller model"


@dataclass(frozen=True)
class _Outcome:
    callback: Callable[[Any], None]
    value: Any


class _Job(QtCore.QRunnable):
    def __init__(
        self, relay: QtCore.SignalInstance, fn: Callable[[], Any], on_done: Callable, on_failed: Callable
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._relay, self._fn, self._on_done, self._on_failed = relay, fn, on_done, on_failed

    def run(self) -> None:
        try:
            outcome = _Outcome(self._on_done, self._fn())
        except C5Error as exc:
            outcome = _Outcome(self._on_failed, str(exc))
        except MemoryError:
            outcome = _Outcome(self._on_failed, OUT_OF_MEMORY)
        except Exception as exc:  # a bug must not take the window down: report it instead
            log.exception("unexpected error in a background job")
            message = f"unexpected error: {type(exc).__name__}: {exc}".splitlines()[0]
            outcome = _Outcome(self._on_failed, message)
        try:
            self._relay.emit(outcome)
        except RuntimeError:  # the window closed without waiting this long: nobody is left to tell
            log.info("a background job finished after its window closed")


class Worker(QtCore.QObject):
    _relay = QtCore.Signal(object)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pending = 0
        # Queued to this object, which lives on the GUI thread: callbacks always run there.
        self._relay.connect(self._deliver, QtCore.Qt.ConnectionType.QueuedConnection)

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet reported back."""
        return self._pending

    def submit(
        self, fn: Callable[[], Any], on_done: Callable[[Any], None], on_failed: Callable[[str], None]
    ) -> None:
        """Run fn() on the worker thread, then on_done(result) or on_failed(message) on the GUI thread."""
        self._pending += 1
        self._pool.start(_Job(self._relay, fn, on_done, on_failed))

    def _deliver(self, outcome: _Outcome) -> None:
        self._pending -= 1
        outcome.callback(outcome.value)

    def shutdown(self, wait_ms: int = 30_000) -> bool:
        """Drop queued jobs and wait for the running one (called when the window closes)."""
        self._pool.clear()
        return self._pool.waitForDone(wait_ms)
