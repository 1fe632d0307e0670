"""Decoding with python-gdcm in a helper process.

gdcm aborts the whole process (an uncaught C++ exception) on some corrupt JPEG Lossless, JPEG-LS and
JPEG 2000 data, and no Python try/except survives that. It is also the only installed decoder for JPEG
Lossless and JPEG-LS, so frames that need it are decoded in a persistent child process: a crash there is
a ReadError here, and the next frame starts a fresh helper.

The helper is a multiprocessing "spawn" child (no fork of a threaded GUI; works in frozen apps given
multiprocessing.freeze_support()). As with any spawn child, a script that opens such files at import time
must keep its work under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import warnings
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

# Plugins that can take the process down on bad data; used only through decode_isolated.
UNSAFE_PLUGINS = frozenset({"gdcm"})
DECODE_TIMEOUT_S = 120.0


class DecoderCrashed(RuntimeError):
    """The helper process died or hung while decoding (corrupt data in a fragile decoder)."""


def _serve(connection: Connection) -> None:
    """Child process: decode requests until the parent closes the pipe."""
    # A dying decoder prints C++ diagnostics; keep them off the user's terminal.
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    warnings.simplefilter("ignore")
    from pydicom.pixels import pixel_array  # imported here: the child needs nothing else
    from pydicom.uid import UID

    while True:
        try:
            path, index, syntax, plugin, options = connection.recv()
        except (EOFError, OSError):
            return
        try:
            array = pixel_array(
                path, index=index, transfer_syntax_uid=UID(syntax), decoding_plugin=plugin, **options
            )
            connection.send(("ok", array))
        except Exception as exc:
            connection.send(("error", f"{type(exc).__name__}: {exc}"))


class _Helper:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process that may hold threads
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=_serve, args=(child_end,), daemon=True, name="c5desk-decoder")
        self.process.start()
        child_end.close()

    def stop(self) -> None:
        self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


_helper: _Helper | None = None
_lock = threading.Lock()


def decode_isolated(
    path: Path, index: int, syntax: str, plugin: str, options: dict[str, Any] | None = None
) -> np.ndarray:
    """pydicom.pixels.pixel_array(path, index=..., **options) run in the helper process with `plugin`."""
    global _helper
    with _lock:
        if _helper is None or not _helper.process.is_alive():
            _helper = _Helper()
        try:
            _helper.connection.send((str(path), index, str(syntax), plugin, dict(options or {})))
            if not _helper.connection.poll(DECODE_TIMEOUT_S):
                raise TimeoutError
            status, payload = _helper.connection.recv()
        except (EOFError, OSError, TimeoutError) as exc:
            _helper.stop()
            _helper = None
            raise DecoderCrashed(f"the {plugin} decoder crashed on this frame (corrupt data?)") from exc
    if status != "ok":
        raise RuntimeError(payload)
    return payload


@atexit.register
def shutdown() -> None:
    """Stop the helper process, if one was started."""
    global _helper
    with _lock:
        if _helper is not None:
            _helper.stop()
            _helper = None
