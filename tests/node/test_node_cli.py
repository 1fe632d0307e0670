"""`c5desk serve` as the app runs it, in its own process: one "listening" line, serving, a clean exit 0
on SIGTERM with nothing received lost; bad arguments exit 2, a port in use exits 1, each one line."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from node_helpers import WAIT_S, echo, store_all, us_dataset

from c5desk.cli import main
from c5desk.node import parse_listening
from c5desk.node.config import node_folder
from c5desk.store import Store

CPU = ["--device", "cpu", "--backend", "torch"]


def _lines(stream) -> queue.Queue:
    """The stream's lines, read on a thread, so the test can wait for one with a timeout."""
    found: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in stream:
            found.put(line)
        found.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return found


@pytest.mark.skipif(os.name == "nt", reason="SIGTERM cannot be sent to a process on Windows")
def test_serve_listens_serves_and_stops_cleanly_on_sigterm(tmp_path: Path, tiny_bundle: Path) -> None:
    store = tmp_path / "store"
    command = [sys.executable, "-m", "c5desk.cli", "serve", str(store), "--port", "0", "--bind", "127.0.0.1",
               "--ae-title", "C5DESK", "--allow", "SCANNER", "--model", str(tiny_bundle), *CPU]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = _lines(process.stdout)
        first = lines.get(timeout=WAIT_S)
        port = parse_listening(first or "")
        assert port, (first, process.stderr.read() if first is None else "")
        assert echo(port) == 0x0000
        assert int(store_all(port, [us_dataset("US1_UNCR.dcm")])[0].Status) == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT_S) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT_S)
    with Store.open(store) as opened:
        frames = opened.frames()
        scored = [opened.prediction(record.id) is not None for record in frames]
    left = list((node_folder(store) / "inbox").glob("*.dcm"))
    # the job in hand is finished before exiting: imported and scored, or still whole in the inbox
    assert (scored == [True] and not left) or (not frames and len(left) == 1), (scored, left)
    log = (Path(os.environ["C5DESK_CONFIG"]) / "logs" / "c5desk.log").read_text(encoding="utf-8")
    assert "C-STORE from SCANNER: 1 frame(s) received" in log
    assert "CompressedSamples" not in log


@pytest.mark.parametrize(
    "bad",
    [["--ae-title", "X" * 17], ["--port", "70000"], ["--forward", "PACS@host"], ["--allow", "BACK\\SLASH"]],
)
def test_serve_bad_arguments_exit_2(
    tmp_path: Path, bad: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve", str(tmp_path / "store"), *bad])
    assert stopped.value.code == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_serve_on_a_port_in_use_exits_1(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", str(tmp_path / "store"), "--port", str(port), "--bind", "127.0.0.1",
                     "--model", str(tiny_bundle), *CPU])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith(f"c5desk serve: error: cannot listen on port {port} (")


def _gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for a reaper counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_node_started_with_exit_with_parent_ends_when_its_parent_dies(tmp_path: Path, tiny_bundle: Path):
    """The app starts the node with --exit-with-parent: a crashed app leaves no node holding the port."""
    serve = [sys.executable, "-m", "c5desk.cli", "serve", str(tmp_path / "store"), "--port", "0",
             "--bind", "127.0.0.1", "--model", str(tiny_bundle), *CPU, "--exit-with-parent"]  # fmt: skip
    parent_code = (
        "import subprocess, sys\n"
        f"child = subprocess.Popen({serve!r}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)\n"
        "print(child.pid, child.stdout.readline().strip(), flush=True)\n"  # then die without stopping it
    )
    parent = subprocess.run(
        [sys.executable, "-c", parent_code], capture_output=True, text=True, timeout=WAIT_S
    )
    pid_text, _, listening = parent.stdout.partition(" ")
    assert parse_listening(listening), parent.stdout + parent.stderr
    child = int(pid_text)
    deadline = threading.Event()
    for _ in range(int(WAIT_S * 10)):  # the node checks its parent once a second
        if _gone(child):
            break
        deadline.wait(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the orphaned node kept running")
