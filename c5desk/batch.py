"""Score many files into one CSV: resumable, cancellable, with decoding overlapping inference.

A reader thread opens files, decodes and preprocesses frames into a bounded queue while the caller's thread
runs the model in batches, so the model waits on the disk only when the disk is truly slower. Each finished
batch is appended and flushed: an interrupted run leaves a valid CSV that the next run resumes.
"""

from __future__ import annotations

import csv
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from c5desk.errors import C5Error
from c5desk.fsio import atomic_path
from c5desk.inference import Prediction, Predictor, Prepared
from c5desk.io import iter_paths, open_source
from c5desk.lesion.measure import Measurements
from c5desk.lesion.overlay import write_mask_png, write_overlay_png

log = logging.getLogger(__name__)

COLUMNS = [
    "source",
    "frame",
    "status",
    "error",
    "p_malignant",
    "label",
    "uncertainty",
    "area_mm2",
    "long_axis_mm",
    "short_axis_mm",
    "sl_ratio",
    "calibrated",
    "model_version",
    "device",
    "area_px",
    "long_axis_px",
    "short_axis_px",
    "score_spread",
    "seg_uncertainty",
    "taller_than_wide",
    "circularity",
    "solidity",
    "backend",
    "source_id",
]


@dataclass
class Failed:
    source: str
    frame: int | str
    error: str


@dataclass
class Summary:
    ok: int = 0
    errors: int = 0
    skipped: int = 0
    cancelled: bool = False


def select_frames(count: int, frames: str) -> list[int]:
    """'first' → [0]; 'all' → every frame; 'N' → up to N frames evenly spaced, first and last included."""
    if count <= 0:
        return []
    if frames == "first":
        return [0]
    if frames == "all":
        return list(range(count))
    wanted = int(frames)
    if wanted <= 0:
        raise ValueError("--frames N needs N >= 1")
    if wanted >= count:
        return list(range(count))
    if wanted == 1:
        return [0]
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


def read_done(out_csv: Path) -> set[tuple[str, str]]:
    """Rows already scored; error rows are dropped (rewritten atomically) so they are tried again."""
    if not out_csv.is_file() or out_csv.stat().st_size == 0:
        return set()
    with out_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != COLUMNS:
            raise C5Error(f"{out_csv.name} exists with other columns; choose another --out file")
        rows = list(reader)
    ok_rows = [row for row in rows if row["status"] == "ok"]
    if len(ok_rows) < len(rows):
        rewrite_csv(out_csv, ok_rows)
    return {(row["source"], row["frame"]) for row in ok_rows}


def rewrite_csv(out_csv: Path, rows: list[dict[str, str]]) -> None:
    """Replace the CSV atomically: an interruption leaves the old file or the new one, never half of it."""
    with atomic_path(out_csv) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def prediction_row(source: str, prediction: Prediction) -> dict[str, object]:
    m = prediction.measurements
    calibrated = prediction.calibrated
    row: dict[str, object] = {
        "source": source,
        "frame": prediction.frame_index,
        "status": "ok",
        "error": "",
        "p_malignant": f"{prediction.p_malignant:.4f}",
        "label": prediction.label,
        "uncertainty": f"{prediction.uncertainty:.4f}",
        "calibrated": str(calibrated).lower(),
        "model_version": prediction.model_version,
        "device": prediction.device,
        "backend": prediction.backend,
        "score_spread": f"{prediction.score_spread:.4f}",
        "seg_uncertainty": f"{prediction.seg_uncertainty:.4f}",
        "source_id": prediction.source_id,
    }
    if m is not None:
        row.update(measurement_columns(m))
    return row


def measurement_columns(m: Measurements) -> dict[str, object]:
    """Lengths go to the *_mm columns when calibrated, else to the *_px ones; area_px is always given."""
    unit = "mm" if m.calibrated else "px"
    row: dict[str, object] = {
        "area_px": f"{m.area_px:.0f}",
        f"long_axis_{unit}": f"{m.long_axis:.2f}",
        f"short_axis_{unit}": f"{m.short_axis:.2f}",
        "sl_ratio": f"{m.sl_ratio:.4f}",
        "taller_than_wide": str(m.taller_than_wide).lower(),
        "circularity": f"{m.circularity:.4f}",
        "solidity": f"{m.solidity:.4f}",
    }
    if m.calibrated:
        row["area_mm2"] = f"{m.area:.2f}"
    return row


def produce(
    predictor: Predictor,
    sources: Iterable[tuple[Path, str]],
    frames: str,
    done: set,
    out: queue.Queue,
    stop: threading.Event,
) -> None:
    """Reader thread: decoded, preprocessed frames (or failures) into the queue, then None."""
    try:
        for path, name in sources:
            for item in prepared_frames(predictor, path, name, frames, done):
                if not put_unless_stopped(out, item, stop):
                    return
    finally:
        put_unless_stopped(out, None, stop)


def put_unless_stopped(out: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Block while the queue is full, but give up once the consumer has stopped (it will not drain it)."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def prepared_frames(predictor: Predictor, path: Path, name: str, frames: str, done: set) -> Iterator:
    try:
        source = open_source(path)
    except C5Error as exc:
        yield Failed(name, "", str(exc))
        return
    with source:
        for index in select_frames(len(source), frames):
            if (name, str(index)) in done:
                yield "skip"
                continue
            try:
                yield (name, predictor.prepare(source.frame(index)))
            except C5Error as exc:
                yield Failed(name, index, str(exc))


def discover(paths: list[str | Path]) -> list[tuple[Path, str]]:
    """Files to score with the name the CSV shows: the path as the user named it, never resolved further."""
    return [(path, str(path)) for path in iter_paths([Path(p) for p in paths])]


def score_paths(
    paths: list[str | Path],
    predictor: Predictor,
    out_csv: Path,
    *,
    frames: str = "first",
    batch_size: int = 8,
    masks_dir: Path | None = None,
    overlays_dir: Path | None = None,
    progress: Callable[[Summary, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Summary:
    select_frames(1, frames)  # validate before any work
    out_csv = Path(out_csv)
    done = read_done(out_csv)
    sources = discover(paths)
    summary, stop = Summary(), cancel or threading.Event()
    pending: queue.Queue = queue.Queue(maxsize=4 * batch_size)
    reader = threading.Thread(
        target=produce,
        args=(predictor, sources, frames, done, pending, stop),
        daemon=True,
        name="c5desk-reader",
    )
    writer = ResultWriter(out_csv, masks_dir, overlays_dir)
    reader.start()
    try:
        consume(
            predictor,
            pending,
            writer,
            summary,
            batch_size,
            stop,
            lambda: progress and progress(summary, len(sources)),
        )
    except KeyboardInterrupt:
        summary.cancelled = True
        raise
    finally:
        stop.set()
        writer.close()
        reader.join(timeout=5)
    summary.cancelled = summary.cancelled or (cancel is not None and cancel.is_set())
    log.info(
        "scored %d frame(s) of %d source(s) with %s on %s: %d error(s), %d already done%s",
        summary.ok, len(sources), predictor.version, predictor.device, summary.errors, summary.skipped,
        ", cancelled" if summary.cancelled else "",
    )  # fmt: skip
    return summary


def consume(predictor, pending, writer, summary, batch_size, stop, report) -> None:
    batch: list[tuple[str, Prepared]] = []
    while not stop.is_set():
        try:
            item = pending.get(timeout=0.2)  # wake up to notice a cancel from another thread
        except queue.Empty:
            continue
        if item is None:
            break
        if item == "skip":
            summary.skipped += 1
        elif isinstance(item, Failed):
            writer.failure(item)
            summary.errors += 1
        else:
            batch.append(item)
        if len(batch) >= batch_size:
            run_batch(predictor, batch, writer, summary)
            batch = []
            report()
    if batch and not stop.is_set():
        run_batch(predictor, batch, writer, summary)
    report()


def run_batch(predictor: Predictor, batch: list[tuple[str, Prepared]], writer, summary: Summary) -> None:
    try:
        predictions = predictor.predict_prepared([item for _, item in batch])
    except C5Error as exc:
        for name, item in batch:
            writer.failure(Failed(name, item.frame.index, str(exc)))
        summary.errors += len(batch)
        return
    for (name, item), prediction in zip(batch, predictions, strict=True):
        writer.success(name, item, prediction)
    summary.ok += len(batch)
    writer.flush()


class ResultWriter:
    """Appends rows (header once) and the optional mask/overlay PNGs; flushes after every batch."""

    def __init__(self, out_csv: Path, masks_dir: Path | None, overlays_dir: Path | None) -> None:
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        new = not out_csv.is_file() or out_csv.stat().st_size == 0
        self.handle = out_csv.open("a", newline="", encoding="utf-8")
        self.rows = csv.DictWriter(self.handle, fieldnames=COLUMNS, restval="")
        if new:
            self.rows.writeheader()
        self.masks_dir, self.overlays_dir = masks_dir, overlays_dir

    def success(self, name: str, item: Prepared, prediction: Prediction) -> None:
        self.rows.writerow(prediction_row(name, prediction))
        stem = output_stem(name, prediction.frame_index)
        if self.masks_dir is not None:
            write_mask_png(self.masks_dir / f"{stem}.png", prediction.mask)
        if self.overlays_dir is not None:
            write_overlay_png(self.overlays_dir / f"{stem}.png", item.frame, prediction)

    def failure(self, failed: Failed) -> None:
        log.warning("a frame could not be scored: %s", failed.error)
        self.rows.writerow(
            {"source": failed.source, "frame": failed.frame, "status": "error", "error": failed.error}
        )
        self.flush()

    def flush(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.flush()
        self.handle.close()


def output_stem(source: str, frame: int) -> str:
    """A flat, filesystem-safe file name for a source's frame: folders joined with '__'."""
    parts = [p for p in Path(source).with_suffix("").parts if p not in ("/", "..", ".")]
    safe = "__".join(parts).replace(":", "_")
    return f"{safe}_f{frame:04d}"
