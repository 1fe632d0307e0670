"""Run a child process that reports progress as JSON lines, without ever blocking the GUI thread.

The child writes one JSON object per line on stdout. Anything else (a stray print, a half line left by a
crash, a warning on stderr) goes to the `text` signal for a details box and is never taken for progress.
Cancelling is cooperative first (a cancel file the child polls between steps, so it can stop cleanly),
then SIGINT after a grace period, then a kill: a hung child can always be stopped.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from PySide6 import QtCore

MAX_LINE_BYTES = 1 << 20  # a child printing megabytes without a newline is not sending progress


def parse_json_line(raw: bytes | str) -> dict[str, Any] | None:
    """The event object of one stdout line, or None when the line is not a JSON object with an "event"."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("event"), str):
        return value
    return None


class JsonLinesProcess(QtCore.QObject):
    """One QProcess at a time; signals arrive on the GUI thread through Qt's event loop."""

    event = QtCore.Signal(dict)
    text = QtCore.Signal(str)  # stderr and non-JSON stdout, for a details box
    finished = QtCore.Signal(int, bool)  # exit code, crashed (killed by a signal or failed to start)

    def __init__(self, parent: QtCore.QObject | None = None, grace_s: float = 10.0) -> None:
        super().__init__(parent)
        self.grace_ms = max(1, int(grace_s * 1000))
        self._process: QtCore.QProcess | None = None
        self._buffer = b""
        self._cancel_file: Path | None = None
        self._stage = 0  # 0 running, 1 cancel file written, 2 SIGINT sent, 3 killed
        self._escalate_timer = QtCore.QTimer(self)
        self._escalate_timer.setSingleShot(True)
        self._escalate_timer.timeout.connect(self._escalate)

    def is_running(self) -> bool:
        return self._process is not None

    @property
    def cancel_requested(self) -> bool:
        return self._stage > 0

    def start(self, command: list[str], cancel_file: Path | None = None) -> None:
        if self._process is not None:
            raise RuntimeError("a process is already running")
        if not command:
            raise ValueError("empty command")
        process = QtCore.QProcess(self)
        env = QtCore.QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")  # progress lines must arrive as they are printed
        process.setProcessEnvironment(env)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process, self._buffer, self._cancel_file, self._stage = process, b"", cancel_file, 0
        process.start(command[0], list(command[1:]))

    def cancel(self) -> None:
        """Ask the child to stop: the cancel file now, SIGINT after the grace period, a kill after another."""
        if self._process is None or self._stage > 0:
            return
        self._stage = 1
        self._write_cancel_file()
        self._escalate_timer.start(self.grace_ms)

    def stop(self, wait_ms: int | None = None) -> None:
        """Cancel and wait (blocking, for closing a window): every stage gets `wait_ms`, then kill."""
        process = self._process
        if process is None:
            return
        wait_ms = self.grace_ms if wait_ms is None else wait_ms
        self.cancel()
        while self._process is process and self._stage < 3 and not process.waitForFinished(wait_ms):
            self._escalate()
        if self._process is process:
            process.waitForFinished(wait_ms)

    def _write_cancel_file(self) -> None:
        if self._cancel_file is None:
            return
        try:
            self._cancel_file.parent.mkdir(parents=True, exist_ok=True)
            self._cancel_file.write_text("cancel\n", encoding="utf-8")
        except OSError as exc:
            self.text.emit(f"[c5desk] cannot write the cancel file ({exc.strerror}); interrupting instead\n")

    def _escalate(self) -> None:
        process = self._process
        if process is None:
            return
        self._stage += 1
        pid = process.processId()
        if self._stage == 2 and os.name == "posix" and pid > 0:
            self.text.emit("[c5desk] the process did not stop in time; sending SIGINT\n")
            os.kill(pid, signal.SIGINT)
        elif self._stage == 2:
            process.terminate()
        else:
            self._stage = 3
            self.text.emit("[c5desk] the process still runs; killing it\n")
            process.kill()
            return
        self._escalate_timer.start(self.grace_ms)

    def _read_stdout(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > MAX_LINE_BYTES:
            lines.append(self._buffer)
            self._buffer = b""
        for line in lines:
            self._handle_line(line)

    def _handle_line(self, line: bytes) -> None:
        event = parse_json_line(line)
        if event is not None:
            self.event.emit(event)
        elif line.strip():
            self.text.emit(line.decode("utf-8", "replace").rstrip() + "\n")

    def _read_stderr(self) -> None:
        if self._process is not None:
            data = bytes(self._process.readAllStandardError().data())
            if data:
                self.text.emit(data.decode("utf-8", "replace"))

    def _on_error(self, error: QtCore.QProcess.ProcessError) -> None:
        if error == QtCore.QProcess.ProcessError.FailedToStart and self._process is not None:
            program = self._process.program()
            self.text.emit(f"[c5desk] cannot start {program}: {self._process.errorString()}\n")
            self._finish(-1, crashed=True)

    def _on_finished(self, code: int, status: QtCore.QProcess.ExitStatus) -> None:
        self._read_stdout()
        self._read_stderr()
        if self._buffer.strip():
            self._handle_line(self._buffer)
        self._buffer = b""
        self._finish(code, crashed=status == QtCore.QProcess.ExitStatus.CrashExit)

    def _finish(self, code: int, crashed: bool) -> None:
        process, self._process = self._process, None
        self._escalate_timer.stop()
        if process is not None:
            process.deleteLater()
        self.finished.emit(int(code), bool(crashed))
