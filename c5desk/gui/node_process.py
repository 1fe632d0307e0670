"""The DICOM node in a separate process: `c5desk serve <the window's dataset> ...`, watched from the window.

A process of its own, as `c5desk serve` runs from a terminal, so a scanner's association never competes
with the reading view for the GUI thread, and a crash of either leaves the other running. Both share the
dataset folder: the store is made for several processes (SQLite WAL + busy timeout, presence locks).

States: stopped → starting (loading the model) → listening (its "listening as …" line) → stopping →
stopped; or exited, with its last error line, when it ends on its own. Stopping is SIGTERM (the node
finishes the job in hand and exits 0), then a kill after `stop_wait_ms`; the window waits for it when it
closes, so no node outlives the app (a killed app excepted: the next start then reports the port in use).
"""

from __future__ import annotations

import os
import sys
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore

if TYPE_CHECKING:
    from c5desk.node import NodeConfig

STOPPED, STARTING, LISTENING, STOPPING, EXITED = "stopped", "starting", "listening", "stopping", "exited"
STOP_WAIT_MS = 15_000  # the node checks for SIGTERM every second, then finishes the frame it is scoring
KEPT_LINES = 200


def c5desk_command(args: list[str]) -> list[str]:
    """A frozen app is its own `c5desk` command (installer/entry.py); a Python install runs the CLI module."""
    launcher = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "c5desk.cli"]
    return [*launcher, *args]


def serve_command(
    store_folder: Path, config: NodeConfig, model: Path | None, device: str = "auto", backend: str = "auto"
) -> list[str]:
    """`c5desk serve` on the dataset with these settings; `model` None: the catalogue's active model."""
    options = ["--device", device, "--backend", backend, "--exit-with-parent"]  # no orphan if the app dies
    return c5desk_command([*config.argv(store_folder, model), *options])


def error_line(lines: list[str]) -> str:
    """What to show of a node that ended: its last line naming an error, else its last line."""
    for line in reversed(lines):
        if "error" in line.lower():
            return line
    return lines[-1] if lines else ""


class NodeProcess(QtCore.QObject):
    """One `c5desk serve` at a time; `changed` fires on every state change (on the GUI thread)."""

    changed = QtCore.Signal()

    def __init__(self, parent: QtCore.QObject | None = None, stop_wait_ms: int = STOP_WAIT_MS) -> None:
        super().__init__(parent)
        self.stop_wait_ms = stop_wait_ms
        self.state = STOPPED
        self.port: int | None = None
        self.message = ""  # the listening line, or why it exited
        self.lines: deque[str] = deque(maxlen=KEPT_LINES)  # its output, for the details and the error line
        self.pid: int | None = None
        self._process: QtCore.QProcess | None = None
        self._buffers = {"out": b"", "err": b""}
        self._killed = False
        self._kill_timer = QtCore.QTimer(self, singleShot=True)
        self._kill_timer.timeout.connect(self._kill)

    def is_running(self) -> bool:
        return self._process is not None

    def status_text(self) -> str:
        return {
            STOPPED: "Stopped" + (" (it did not stop in time and was killed)" if self._killed else ""),
            STARTING: "Starting (loading the model)…",
            LISTENING: self.message[:1].upper() + self.message[1:],
            STOPPING: "Stopping (finishing the frame in hand)…",
            EXITED: f"Exited: {self.message}",
        }[self.state]

    # ---- starting and stopping ------------------------------------------------------------------------
    def start(self, command: list[str]) -> bool:
        """Run `command` (serve_command); False when a node already runs."""
        if self._process is not None:
            return False
        process = QtCore.QProcess(self)
        env = QtCore.QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")  # the "listening" line must arrive when printed
        env.insert("PYTHONIOENCODING", "utf-8")
        process.setProcessEnvironment(env)
        # bound methods, not lambdas: Qt drops them with this object and never calls into a deleted one
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self._process, self._buffers, self._killed = process, {"out": b"", "err": b""}, False
        self.lines.clear()
        self._set(STARTING, "", None)
        process.start(command[0], command[1:])
        if self._process is process:  # (a program that cannot start has already been reported)
            self.pid = int(process.processId()) or None
        return True

    def stop(self) -> None:
        """Ask the node to stop (SIGTERM); kill it if it is still there after stop_wait_ms."""
        process = self._process
        if process is None or self.state == STOPPING:
            return
        self._set(STOPPING, self.message, self.port)
        if os.name == "nt":  # no SIGTERM there; what the node acknowledged is in the store or its inbox
            process.kill()
            return
        process.terminate()
        self._kill_timer.start(self.stop_wait_ms)

    def stop_and_wait(self) -> bool:
        """Stop and wait for the process to end (the window is closing); True when it has."""
        process = self._process
        if process is None:
            return True
        self.stop()
        if not process.waitForFinished(self.stop_wait_ms) and self._process is process:
            self._kill()
            process.waitForFinished(5000)
        return self._process is None

    def _kill(self) -> None:
        if self._process is not None:
            self._killed = True
            self.lines.append("[c5desk] the node did not stop in time; killing it")
            self._process.kill()

    # ---- what it says ---------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        self._read("out")

    def _read_stderr(self) -> None:
        self._read("err")

    def _read(self, stream: str) -> None:
        process = self._process
        if process is None:
            return
        data = process.readAllStandardOutput() if stream == "out" else process.readAllStandardError()
        *lines, self._buffers[stream] = (self._buffers[stream] + bytes(data.data())).split(b"\n")
        for line in lines:
            self._line(line.decode("utf-8", "replace").rstrip())

    def _line(self, text: str) -> None:
        if not text.strip():
            return
        self.lines.append(text)
        if self.state == STARTING:
            from c5desk.node import parse_listening  # loaded by then: the settings dialog built the config

            port = parse_listening(text)
            if port is not None:
                self._set(LISTENING, text.strip(), port)

    def _error(self, error: QtCore.QProcess.ProcessError) -> None:
        process = self._process
        if error == QtCore.QProcess.ProcessError.FailedToStart and process is not None:
            self._ended(f"cannot start {process.program()}: {process.errorString()}")

    def _finished(self, code: int, status: QtCore.QProcess.ExitStatus) -> None:
        process = self._process
        if process is None:
            return
        self._read("out")
        self._read("err")
        for stream, rest in self._buffers.items():
            self._line(rest.decode("utf-8", "replace").rstrip())
            self._buffers[stream] = b""
        if self.state == STOPPING:
            self._ended(None)
        elif status == QtCore.QProcess.ExitStatus.CrashExit:
            self._ended(error_line(list(self.lines)) or "the node crashed")
        else:
            self._ended(error_line(list(self.lines)) or f"the node ended (exit code {code})")

    def _ended(self, why: str | None) -> None:
        """Stopped as asked (why None) or exited on its own (why: the line to show)."""
        process, self._process = self._process, None
        self._kill_timer.stop()
        self.pid = None
        if process is not None:
            process.deleteLater()
        self._set(STOPPED if why is None else EXITED, why or "", None)

    def _set(self, state: str, message: str, port: int | None) -> None:
        self.state, self.message, self.port = state, message, port
        self.changed.emit()
