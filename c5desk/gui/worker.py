"""Model work off the GUI thread: loading the model, predicting a frame, rescoring an edited mask.

One background thread runs the jobs in order, so the Predictor (not thread-safe: it caches the encoder's
features) is only ever used by one thread. Results and failures come back as signals delivered on the GUI
thread. A failure is a one-line message (out of memory included), never an exception in the event loop.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6 import QtCore

from c5desk.errors import C5Error


class _Job(QtCore.QRunnable):
    def __init__(self, worker: Worker, kind: str, tag: object, fn: Callable[..., Any], args: tuple) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._worker, self.kind, self.tag, self._fn, self._args = worker, kind, tag, fn, args

    def run(self) -> None:
        try:
            outcome = (True, self._fn(*self._args))
        except C5Error as exc:
            outcome = (False, str(exc))
        except MemoryError:
            outcome = (False, "not enough memory: close other programs or use a smaller model")
        except Exception as exc:  # a bug must not take the window down: report it instead
            traceback.print_exc()
            outcome = (False, f"unexpected error: {type(exc).__name__}: {exc}".splitlines()[0])
        self._worker._relay.emit((self.kind, self.tag, *outcome))


class Worker(QtCore.QObject):
    """Runs jobs on one background thread; emits done(kind, tag, result) or failed(kind, tag, message)."""

    done = QtCore.Signal(str, object, object)
    failed = QtCore.Signal(str, object, str)
    _relay = QtCore.Signal(object)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pending = 0
        # Queued to this object, which lives on the GUI thread: listeners always run there.
        self._relay.connect(self._deliver, QtCore.Qt.ConnectionType.QueuedConnection)

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet reported back."""
        return self._pending

    def submit(self, kind: str, tag: object, fn: Callable[..., Any], *args: Any) -> None:
        self._pending += 1
        self._pool.start(_Job(self, kind, tag, fn, args))

    def _deliver(self, message: tuple) -> None:
        kind, tag, ok, value = message
        self._pending -= 1
        if ok:
            self.done.emit(kind, tag, value)
        else:
            self.failed.emit(kind, tag, value)

    def shutdown(self, wait_ms: int = 30_000) -> bool:
        """Drop queued jobs and wait for the running one (called when the window closes)."""
        self._pool.clear()
        return self._pool.waitForDone(wait_ms)


def load_predictor(bundle: Path | None, device: str, backend: str | None = None) -> tuple[Any, str, Path]:
    """(predictor, note, bundle folder) for `bundle` (None: the default trained bundle)."""
    from c5desk.bundles import default_bundle  # the model stack is imported here, on the worker thread
    from c5desk.inference import make_predictor

    folder = Path(bundle) if bundle else default_bundle()
    predictor = make_predictor(folder, device=device, backend=backend or "auto")
    return predictor, predictor.note, folder
