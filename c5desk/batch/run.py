"""A batch run: the reader thread fills a bounded queue while the caller's thread scores it in batches.

The model waits on the disk only when the disk is truly slower. Each finished batch is appended and flushed:
an interrupted run leaves a valid CSV that the next run resumes. A model failure fails its batch's frames
only, and a prediction that is not finite is never written as ok.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from c5desk.batch import reader as reading
from c5desk.batch.reader import END, SKIP, ReaderState, StopSignal, check_frames, discover
from c5desk.batch.results import (
    Failed,
    PictureFailed,
    ResultWriter,
    check_outputs,
    failure_text,
    read_done,
    unusable,
)
from c5desk.errors import C5Error
from c5desk.inference import Prediction, Predictor, Prepared

log = logging.getLogger("c5desk.batch")

MAX_BATCH_SIZE = 256  # frames held prepared at once (times 4 in the queue): more only costs memory


@dataclass
class Summary:
    ok: int = 0
    errors: int = 0
    skipped: int = 0
    cancelled: bool = False
    aborted: str = ""  # why reading stopped before the last file (the files left have error rows)


def score_paths(
    paths: list[str | Path],
    predictor: Predictor,
    out_csv: Path,
    *,
    frames: str = "first",
    batch_size: int = 8,
    masks_dir: Path | None = None,
    overlays_dir: Path | None = None,
    keep_identity: bool = False,
    progress: Callable[[Summary, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Summary:
    check_frames(frames)
    out_csv = Path(out_csv)
    check_outputs(out_csv, masks_dir, overlays_dir)
    sources = discover(paths)
    done = read_done(out_csv)
    batch_size = min(max(1, batch_size), MAX_BATCH_SIZE)
    summary, stop, state = Summary(), _Stop(cancel), ReaderState()
    pending: queue.Queue = queue.Queue(maxsize=4 * batch_size)
    reader = threading.Thread(
        target=reading.produce,
        args=(predictor, sources, frames, done, pending, stop, state),
        daemon=True,
        name="c5desk-reader",
    )
    writer = ResultWriter(out_csv, masks_dir, overlays_dir, keep_identity)
    scorer = Scorer(predictor, writer, summary, lambda: progress and progress(summary, len(sources)))
    reader.start()
    try:
        scorer.consume(pending, reader, batch_size, stop)
        if not stop.is_set() and state.finished < len(sources):
            scorer.abandon(sources[state.finished :], state.crash or "the reader thread stopped unexpectedly")
    except KeyboardInterrupt:
        summary.cancelled = True
        raise
    finally:
        stop.set()
        writer.close()
        reader.join(timeout=5)
    summary.cancelled = summary.cancelled or stop.cancelled
    log.info(
        "scored %d frame(s) of %d source(s) with %s on %s: %d error(s), %d already done%s%s",
        summary.ok, len(sources), predictor.version, predictor.device, summary.errors, summary.skipped,
        ", cancelled" if summary.cancelled else "", f"; stopped: {summary.aborted}" * bool(summary.aborted),
    )  # fmt: skip
    return summary


class _Stop:
    """Ends the reader and the scorer: the run's own end, or the caller's cancel. The caller's event is only
    read, never set, so `cancelled` says whether the caller asked (a normal end is not a cancel)."""

    def __init__(self, cancel: threading.Event | None) -> None:
        self._own, self._cancel = threading.Event(), cancel

    @property
    def cancelled(self) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    def is_set(self) -> bool:
        return self._own.is_set() or self.cancelled

    def set(self) -> None:
        self._own.set()


class Scorer:
    """The caller's side: batches prepared frames through the model and every outcome into the writer."""

    def __init__(
        self, predictor: Predictor, writer: ResultWriter, summary: Summary, report: Callable
    ) -> None:
        self.predictor, self.writer, self.summary, self.report = predictor, writer, summary, report

    def consume(
        self, pending: queue.Queue, reader: threading.Thread, batch_size: int, stop: StopSignal
    ) -> None:
        batch: list[tuple[str, Prepared]] = []
        while not stop.is_set():
            try:
                item = pending.get(timeout=0.2)  # wake up to notice a cancel, or a reader that died
            except queue.Empty:
                if reader.is_alive() or not pending.empty():
                    continue
                break  # the reader is gone without saying END: the caller gives its files error rows
            if item is END:
                break
            if item is SKIP:
                self.summary.skipped += 1
            elif isinstance(item, Failed):
                self.fail(item)
            else:
                batch.append(item)
            if len(batch) >= batch_size:
                self.run_batch(batch)
                batch = []
                self.report()
        if batch and not stop.is_set():
            self.run_batch(batch)
        self.report()

    def fail(self, failed: Failed) -> None:
        self.writer.failure(failed)
        self.summary.errors += 1

    def abandon(self, sources: list[tuple[Path, str]], reason: str) -> None:
        """The reader stopped early: each file it did not finish gets an error row, and the run says so."""
        self.summary.aborted = reason
        for _path, name in sources:
            self.fail(Failed(name, "", f"not read: reading stopped ({reason})"))
        self.report()

    def run_batch(self, batch: list[tuple[str, Prepared]]) -> None:
        try:
            predictions = list(self.predictor.predict_prepared([item for _, item in batch]))
            if len(predictions) != len(batch):
                raise C5Error(f"the model returned {len(predictions)} results for {len(batch)} frames")
        except Exception as exc:  # this batch's frames get error rows; the run goes on
            reason = failure_text(exc, "this frame", "score")
            for name, item in batch:
                self.fail(Failed(name, item.frame.index, reason))
            return
        for (name, item), prediction in zip(batch, predictions, strict=True):
            problem = unusable(prediction) or self.write_ok(name, item, prediction)
            if problem:
                self.fail(Failed(name, item.frame.index, problem))
        self.writer.flush()

    def write_ok(self, name: str, item: Prepared, prediction: Prediction) -> str:
        """'' once the row (and its pictures) is written, else why this frame failed."""
        try:
            self.writer.success(name, item, prediction)
        except PictureFailed as exc:
            return str(exc)
        self.summary.ok += 1
        return ""
