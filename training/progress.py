"""Progress reporting (JSON lines for the app, a bar for people) and cancellation (SIGINT or a flag file).

JSON lines go to stdout, one object per line, each with an "event" key:
  start {epochs, total_steps} · step {epoch, step, total_steps, loss, eta_s} ·
  epoch {epoch, loss, val: {dice, auc}, eta_s} · saved {bundle} · verdict {...} · cancelled · error {message}
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO


def json_safe(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(json_safe(record), allow_nan=False)


class Reporter:
    """Emits progress events; `mode` is "json" (stdout lines), "bar" (stderr bar) or "quiet"."""

    def __init__(self, mode: str = "bar", stream: TextIO | None = None, every: int = 10) -> None:
        self.mode = mode
        self.stream = stream or sys.stdout
        self.every = max(1, every)
        self._bar = None
        self.started = time.monotonic()

    def emit(self, event: str, **fields: Any) -> None:
        record = {"event": event, **fields}
        if self.mode == "json":
            self.stream.write(dumps(record) + "\n")
            self.stream.flush()
        elif self.mode == "bar":
            self._show(record)

    def step(self, epoch: int, step: int, total: int, loss: float, eta_s: float) -> None:
        if self.mode == "bar":
            self._bar_update(step, total, loss, eta_s)
        elif step % self.every == 0 or step == total:
            self.emit(
                "step", epoch=epoch, step=step, total_steps=total, loss=round(loss, 5), eta_s=round(eta_s, 1)
            )

    def _bar_update(self, step: int, total: int, loss: float, eta_s: float) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True)
        self._bar.n = step
        self._bar.set_postfix(loss=f"{loss:.4f}", eta=f"{eta_s / 60:.1f}min", refresh=False)
        self._bar.refresh()

    def _show(self, record: dict[str, Any]) -> None:
        if record["event"] == "step":
            return
        line = dumps(record)
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Cancelled(Exception):
    """Training was asked to stop; the last completed epoch's checkpoint is kept, no bundle is written."""


class CancelToken:
    """Set by SIGINT (first Ctrl+C asks politely, a second one interrupts at once) or by a flag file."""

    def __init__(self, flag_file: Path | None = None) -> None:
        self.flag_file = flag_file
        self._set = False
        self._previous = None

    def install(self) -> CancelToken:
        try:
            self._previous = signal.signal(signal.SIGINT, self._on_signal)
        except ValueError:  # not the main thread (tests): the flag file still works
            self._previous = None
        return self

    def uninstall(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_signal(self, _signum: int, _frame: object) -> None:
        if self._set:
            raise KeyboardInterrupt
        self._set = True

    def cancel(self) -> None:
        self._set = True

    @property
    def requested(self) -> bool:
        if not self._set and self.flag_file is not None and self.flag_file.exists():
            self._set = True
        return self._set
