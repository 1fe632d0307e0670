"""The reader side of a batch run: which files and frames, decoded and prepared on a thread of their own.

Nothing one file does stops the run: any failure to read or prepare a frame becomes that file's error
(the first frame a file fails on ends that file: its data is damaged from there on, and trying each later
frame would write an error row per frame). If the reader thread itself dies, `ReaderState.crash` says why and
the scorer gives every file not finished an error row.
"""

from __future__ import annotations

import logging
import queue
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from c5desk.batch.results import Failed, detail, failure_text
from c5desk.errors import C5Error
from c5desk.inference import Predictor
from c5desk.io import iter_paths, open_source

log = logging.getLogger("c5desk.batch")

SKIP = "skip"
END = "end"
_NUMBER = re.compile(r"[0-9]+")


def check_frames(frames: str) -> str:
    """`frames` when valid ('first', 'all' or a whole number N >= 1), else a one-line C5Error."""
    if frames in ("first", "all") or (_NUMBER.fullmatch(frames) and int(frames) >= 1):
        return frames
    raise C5Error(f"--frames must be first, all or a number of frames (1 or more), not {frames!r}")


class _Spaced(Sequence[int]):
    """`wanted` frame indices evenly spaced over `count` (first and last included), computed on demand."""

    def __init__(self, count: int, wanted: int) -> None:
        self.count, self.wanted = count, wanted

    def __len__(self) -> int:
        return self.wanted

    def __getitem__(self, i: int | slice):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.wanted))]
        if not -self.wanted <= i < self.wanted:
            raise IndexError(i)
        quotient, remainder = divmod((i % self.wanted) * (self.count - 1), self.wanted - 1)
        # round(i * span / steps) as exact integers (half to even, as Python's round: resumes stay matched)
        twice = 2 * remainder
        return quotient + (twice > self.wanted - 1 or (twice == self.wanted - 1 and quotient % 2 == 1))


def select_frames(count: int, frames: str) -> Sequence[int]:
    """'first' → [0]; 'all' → every frame; 'N' → up to N frames evenly spaced, first and last included.

    Lazy (a range or an on-demand sequence): a header claiming billions of frames costs no memory.
    """
    check_frames(frames)
    if count <= 0:
        return range(0)
    if frames == "first":
        return range(1)
    wanted = count if frames == "all" else min(int(frames), count)
    if wanted == count:
        return range(count)
    return range(1) if wanted == 1 else _Spaced(count, wanted)


class StopSignal(Protocol):
    """What the reader and the scorer poll to know the run is over (an Event, or run._Stop)."""

    def is_set(self) -> bool: ...


@dataclass
class ReaderState:
    """What the reader tells the scorer besides the queue: files finished, and why it died, if it did."""

    finished: int = 0
    crash: str = ""


def produce(
    predictor: Predictor,
    sources: Iterable[tuple[Path, str]],
    frames: str,
    done: set,
    out: queue.Queue,
    stop: StopSignal,
    state: ReaderState | None = None,
) -> None:
    """Reader thread: decoded, preprocessed frames (or failures) into the queue, then END."""
    state = state if state is not None else ReaderState()
    try:
        for path, name in sources:
            for item in guarded_items(predictor, path, name, frames, done):
                if not put_unless_stopped(out, item, stop):
                    return
            state.finished += 1
    except BaseException as exc:  # the scorer turns this into error rows for the files left
        state.crash = "not enough memory" if isinstance(exc, MemoryError) else detail(exc)
        log.error("the batch reader stopped: %s", state.crash)
    finally:
        put_unless_stopped(out, END, stop)


def put_unless_stopped(out: queue.Queue, item: object, stop: StopSignal) -> bool:
    """Block while the queue is full, but give up once the consumer has stopped (it will not drain it)."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def guarded_items(predictor: Predictor, path: Path, name: str, frames: str, done: set) -> Iterator:
    """A file's items; anything `prepared_frames` did not foresee becomes that file's error row."""
    try:
        yield from prepared_frames(predictor, path, name, frames, done)
    except Exception as exc:  # one file's failure must not end the run
        yield Failed(name, "", failure_text(exc, Path(name).name, "read"))


def prepared_frames(predictor: Predictor, path: Path, name: str, frames: str, done: set) -> Iterator:
    """Prepared frames and SKIPs; at most one Failed, which ends the file (see the module docstring)."""
    label = Path(name).name or name
    try:
        source = open_source(path)
        selected = select_frames(len(source), frames)
    except Exception as exc:  # an error row, then the next file
        yield Failed(name, "", failure_text(exc, label, "read"))
        return
    with source:
        for position, index in enumerate(selected):
            if (name, str(index)) in done:
                yield SKIP
                continue
            try:
                prepared = predictor.prepare(source.frame(index))
            except Exception as exc:  # this file ends here
                later = len(selected) - position - 1
                rest = f"; its {later} later frame(s) were not read" if later else ""
                yield Failed(name, index, failure_text(exc, label, "read") + rest)
                return
            yield (name, prepared)


def discover(paths: list[str | Path]) -> list[tuple[Path, str]]:
    """Files to score with the name the CSV shows: the path as the user named it, never resolved further."""
    return [(path, str(path)) for path in iter_paths([Path(p) for p in paths])]
