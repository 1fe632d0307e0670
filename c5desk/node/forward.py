"""Forwarding results: an outbox on disk and one sender thread, so that no result is lost to a PACS that
is down, slow or restarting.

Each received frame's results (a DICOM SEG and an SR; with a de-identified Secondary Capture of the frame
before them unless the node keeps identity) are written as one outbox job: a folder assembled under a
hidden name and renamed into place (fsio.StagedFolder), so a job is whole or absent. The sender sends the
jobs oldest first, deleting each file once the PACS has stored it; when the PACS cannot be reached it keeps
everything and tries again after `retry_s` (or at once on kick(), or at the next start). A job the PACS
refuses outright is moved to refused/ and logged rather than retried for ever.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from c5desk.fsio import StagedFolder, is_hidden
from c5desk.node.config import Destination, NodeError
from c5desk.node.scu import SendReport, send_datasets
from c5desk.store import Store
from c5desk.store.dicom_results import dicom_results

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 60.0
_sequence = itertools.count()


class Outbox:
    def __init__(self, folder: Path, refused: Path) -> None:
        self.folder, self.refused_folder = folder, refused

    def put(self, label: str, datasets: list[pydicom.Dataset]) -> Path:
        """One job (e.g. one frame's SEG and SR), written whole or not at all."""
        final = self.folder / f"j{time.time_ns():020d}-{next(_sequence):06d}-{label}"
        with StagedFolder(final) as staging:
            for number, ds in enumerate(datasets):
                ds.save_as(staging / f"{number:02d}.dcm", enforce_file_format=True)
        return final

    def pending(self) -> list[Path]:
        """Jobs waiting to be sent, oldest first."""
        try:
            found = [Path(entry.path) for entry in os.scandir(self.folder) if entry.is_dir()]
        except FileNotFoundError:
            return []
        return sorted(path for path in found if not is_hidden(path))

    def refuse(self, job: Path) -> None:
        self.refused_folder.mkdir(parents=True, exist_ok=True)
        os.replace(job, self.refused_folder / job.name)


def queue_results(
    store: Store, outbox: Outbox, frame_ids: tuple[int, ...], source: pydicom.Dataset | None
) -> int:
    """Write each frame's results to the outbox (referencing `source` when given); how many jobs."""
    for frame_id in frame_ids:
        outbox.put(f"f{frame_id}", dicom_results(store, frame_id, source=source))
    return len(frame_ids)


def send_job(job: Path, destination: Destination, calling_ae: str) -> SendReport:
    """Send one outbox job; each file the PACS stored is deleted, the folder too once empty."""
    files = sorted(job.glob("*.dcm"))
    report = send_datasets([(f.name, pydicom.dcmread(f)) for f in files], destination, calling_ae)
    for name in report.sent:
        (job / name).unlink(missing_ok=True)
    if not any(job.iterdir()):
        job.rmdir()
    return report


class Forwarder:
    """The sender thread over an Outbox; flush() sends now, from any thread (one send at a time)."""

    def __init__(self, outbox: Outbox, destination: Destination, calling_ae: str, retry_s: float) -> None:
        self.outbox, self.destination = outbox, destination
        self._calling_ae, self._retry_s = calling_ae, retry_s
        self._send_lock = threading.Lock()
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="c5desk-node-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        """Try sending now rather than after the retry interval."""
        self._wake.set()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def flush(self) -> bool:
        """Send every pending job; True when the outbox is empty afterwards."""
        with self._send_lock:
            for job in self.outbox.pending():
                if self._stopping.is_set() or not self._send(job):
                    return False
            return not self.outbox.pending()

    def _send(self, job: Path) -> bool:
        """Send one job; False when the PACS could not be reached (the job stays for the next try)."""
        try:
            report = send_job(job, self.destination, self._calling_ae)
        except NodeError as exc:
            log.warning("forwarding to %s failed (%s); will try again", self.destination, exc)
            return False
        except (OSError, InvalidDicomError) as exc:
            log.error("outbox job %s is unreadable (%s); moved to refused", job.name, exc)
            self.outbox.refuse(job)
            return True
        for failure in report.failures:
            log.warning("forwarding %s/%s: %s", job.name, failure.what, failure.why)
        if any(not failure.permanent for failure in report.failures):
            return False
        if report.failures:
            self.outbox.refuse(job)
        else:
            log.info("forwarded %s (%d object(s)) to %s", job.name, len(report.sent), self.destination)
        return True

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                emptied = self.flush()
            except Exception:
                log.exception("the sender failed; will try again")
                emptied = False
            self._wake.wait(None if emptied else self._retry_s)
