"""The pinned Qt binding keeps Python's reference counts.

PySide6 6.12.0 on Python 3.11 dropped one reference to `True` per `Signal.emit()`, and the interpreter
aborted after a few thousand signals (README "Why these pins")."""

from __future__ import annotations

import sys

from PySide6 import QtCore


class _Emitter(QtCore.QObject):
    with_value = QtCore.Signal(object)
    bare = QtCore.Signal()


def test_emitting_signals_leaves_reference_counts_alone(qapp) -> None:
    emitter = _Emitter()
    received: list[object] = []
    emitter.with_value.connect(received.append)
    emitter.bare.connect(lambda: received.append(None))
    before = sys.getrefcount(True)
    for value in range(200):
        emitter.with_value.emit(value)
        emitter.bare.emit()
    assert len(received) == 400
    assert sys.getrefcount(True) >= before - 10  # a stray reference elsewhere may come and go; 400 may not
