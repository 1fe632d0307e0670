"""Check `c5desk serve` against third-party DICOM peers: dcmtk's echoscu, storescu and storescp.

    python scripts/dcmtk_node_check.py [--model BUNDLE] [--keep]

Starts storescp as the PACS and `c5desk serve` (a fresh store in a temporary folder, forwarding to that
PACS), then: C-ECHO from an allowed AE; C-STORE of three pydicom-data ultrasound files (explicit VR,
JPEG 2000, an RLE multi-frame cine); an unknown calling AE (must be rejected at association); a corrupt
object (must be refused with a failure status, the node still answering C-ECHO). Then it waits until the
node has forwarded everything and checks that storescp received a DICOM SEG and an SR per frame and that
dsrdump reads the SRs. Prints one PASS/FAIL line per check and a summary; exit 0 only when all pass
(2 when dcmtk is not installed: `apt-get install dcmtk`, as scripts/dev.sh does for the tests).
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file

TOOLS = ("echoscu", "storescu", "storescp", "dsrdump")
FILES = ("US1_UNCR.dcm", "US1_J2KR.dcm", "OBXXXX1A_rle_2frame.dcm")  # 4 frames
FRAMES = 4
NODE, SCANNER, PACS = "C5DESK", "SCANNER", "PACS"
SEG_CLASS, SR_CLASS = "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.88.33"
WAIT_S = 300.0
PROPOSE = {  # storescu's option proposing a file's compressed transfer syntax
    "1.2.840.10008.1.2.4.90": ["-xv"],  # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91": ["-xw"],  # JPEG 2000
    "1.2.840.10008.1.2.5": ["-xr"],  # RLE lossless
    "1.2.840.10008.1.2.4.70": ["-xs"],  # JPEG lossless, first-order prediction
    "1.2.840.10008.1.2.4.50": ["-xy"],  # JPEG baseline
}


class Checks:
    def __init__(self) -> None:
        self.results: list[tuple[bool, str]] = []

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        self.results.append((ok, what))
        print(
            f"{'PASS' if ok else 'FAIL'}  {what}" + ("" if ok or not detail else f"\n      {detail}"),
            flush=True,
        )
        return ok

    def summary(self) -> int:
        failed = sum(not ok for ok, _ in self.results)
        print(f"\n{len(self.results) - failed} passed, {failed} failed: {'PASS' if not failed else 'FAIL'}")
        return 0 if not failed else 1


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=WAIT_S)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def until(condition, timeout: float = WAIT_S) -> bool:
    """Poll `condition` until it holds or `timeout` passes (peers in other processes give no events)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


def echo(port: int, calling: str, called: str) -> subprocess.CompletedProcess[str]:
    return run("echoscu", "-aet", calling, "-aec", called, "127.0.0.1", str(port))


def start_pacs(folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        ["storescp", "-aet", PACS, "-od", str(folder), "+xa", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    if not until(lambda: echo(port, NODE, PACS).returncode == 0, 60):
        process.kill()
        raise SystemExit(f"storescp did not start on port {port}")
    return process, port


def start_node(store: Path, pacs_port: int, model: str | None) -> tuple[subprocess.Popen, int]:
    command = [sys.executable, "-m", "c5desk.cli", "serve", str(store), "--port", "0",
               "--bind", "127.0.0.1", "--ae-title", NODE, "--allow", SCANNER,
               "--forward", f"{PACS}@127.0.0.1:{pacs_port}"]  # fmt: skip
    if model:
        command += ["--model", model]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        first = lines.get(timeout=WAIT_S)
    except queue.Empty:
        first = ""
    if not first.startswith("listening as "):
        process.kill()
        raise SystemExit(f"c5desk serve did not start: {first!r} {process.stderr.read()[-2000:]}")
    print(f"node: {first.strip()}", flush=True)
    return process, int(first.split(" on port ")[1].split(";")[0])


def store(port: int, path: str) -> subprocess.CompletedProcess[str]:
    """storescu -v of one file, proposing its own transfer syntax (storescu proposes uncompressed only,
    unless told) as well as the uncompressed ones."""
    syntax = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
    propose = PROPOSE.get(syntax, [])
    return run("storescu", "-v", *propose, "-aet", SCANNER, "-aec", NODE, "127.0.0.1", str(port), path)


def corrupt_copy(folder: Path) -> Path:
    """US1_UNCR with half its pixel data cut away: a well-formed file whose image cannot be whole."""
    ds = pydicom.dcmread(get_testdata_file("US1_UNCR.dcm"))
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    path = folder / "corrupt.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def forwarded_all(store: Path) -> bool:
    """Everything received has been scored and its results acknowledged by the PACS."""
    node = store / "dicom-node"
    inbox = list((node / "inbox").glob("*.dcm")) if (node / "inbox").is_dir() else []
    outbox = [p for p in (node / "outbox").glob("j*") if p.is_dir()]
    return not inbox and not outbox


def exercise(checks: Checks, port: int, work: Path) -> None:
    result = echo(port, SCANNER, NODE)
    checks.check(result.returncode == 0, "echoscu from an allowed AE: C-ECHO succeeds", result.stderr)
    for name in FILES:
        result = store(port, get_testdata_file(name))
        output = result.stdout + result.stderr
        stored = result.returncode == 0 and "received store response (success)" in output.lower()
        checks.check(stored, f"storescu of {name}: stored", f"exit {result.returncode}: {output[-1500:]}")
    result = echo(port, "INTRUDER", NODE)
    output = result.stdout + result.stderr
    rejected = result.returncode != 0 and "rejected" in output.lower()
    checks.check(rejected, "an unknown calling AE is rejected at association", output)
    result = store(port, str(corrupt_copy(work)))
    output = (result.stdout + result.stderr).lower()
    checks.check("store response (error: cannotunderstand)" in output,
                 "a corrupt object is refused with a failure status (0xC000)", output[-1500:])  # fmt: skip
    result = echo(port, SCANNER, NODE)
    checks.check(
        result.returncode == 0, "after the corrupt object the node still answers C-ECHO", result.stderr
    )


def inspect_pacs(checks: Checks, store: Path, received: Path) -> None:
    checks.check(until(lambda: forwarded_all(store)), "the node scored and forwarded everything it stored")
    by_class: dict[str, list[Path]] = {}
    for path in sorted(p for p in received.iterdir() if p.is_file()):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        by_class.setdefault(str(ds.SOPClassUID), []).append(path)
    segs, srs = by_class.get(SEG_CLASS, []), by_class.get(SR_CLASS, [])
    checks.check(len(srs) == FRAMES, f"storescp received one SR per frame ({len(srs)} of {FRAMES})")
    checks.check(len(segs) >= 1, f"storescp received DICOM SEGs ({len(segs)}; one per frame with a lesion)")
    dumps = [run("dsrdump", str(path)) for path in srs]
    readable = bool(dumps) and all(
        d.returncode == 0 and "Imaging Measurement Report" in d.stdout for d in dumps
    )
    problem = next((d.stderr for d in dumps if d.returncode), "")
    checks.check(readable, "dsrdump reads every SR (an Imaging Measurement Report)", problem)


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM if os.name != "nt" else signal.CTRL_BREAK_EVENT)
    try:
        return process.wait(WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return -1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model bundle folder (default: the active model)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print where it is")
    args = parser.parse_args(argv)
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        print(f"SKIP: dcmtk is not installed (missing {', '.join(missing)})")
        return 2
    work = Path(tempfile.mkdtemp(prefix="c5desk-dcmtk-"))
    received, store = work / "pacs", work / "store"
    received.mkdir()
    checks = Checks()
    pacs, pacs_port = start_pacs(received)
    try:
        node, port = start_node(store, pacs_port, args.model)
        try:
            exercise(checks, port, work)
            inspect_pacs(checks, store, received)
        finally:
            checks.check(stop(node) == 0, "c5desk serve stops cleanly on SIGTERM (exit 0)")
    finally:
        pacs.terminate()
        pacs.wait(WAIT_S)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
