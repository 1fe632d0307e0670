"""Seeding a store: a labelled folder (frames + final annotations) or plain files as unlabelled frames.

Each row (or frame) is checked and decoded first; only then are its files written and its rows committed,
inside a savepoint, so a bad row leaves nothing behind and never stops the good ones. Rows are committed
in batches (one transaction per BATCH rows) to keep a large import fast without holding the write lock
for long. The report says which rows or files failed and why; the store keeps no path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from c5desk.errors import C5Error
from c5desk.io import iter_paths, open_source
from c5desk.store.identity import case_key_for
from c5desk.store.labelled import prepare_row, read_table
from c5desk.store.store import Store

BATCH = 64
Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


@dataclass(frozen=True)
class Failure:
    where: str  # "labels.csv line 7 (Images/a.png)" or a file name
    reason: str


@dataclass
class ImportReport:
    frames_added: int = 0
    annotations_saved: int = 0
    unchanged: int = 0  # already in the store exactly as given
    failures: list[Failure] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    cancelled: bool = False  # stopped by the user; what was imported before stays

    @property
    def succeeded(self) -> bool:
        """Something was imported or already present: the import is not a failure as a whole."""
        return self.frames_added + self.annotations_saved + self.unchanged > 0

    def summary(self) -> dict[str, object]:
        return {
            "cancelled": self.cancelled,
            "frames_added": self.frames_added,
            "annotations_saved": self.annotations_saved,
            "unchanged": self.unchanged,
            "failed": len(self.failures),
        }


def is_labelled_folder(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / "labels.csv").is_file()


def import_labelled_folder(
    store: Store, folder: str | Path, progress: Progress | None = None, cancel: Cancel | None = None
) -> ImportReport:
    """Import every good row of folder/labels.csv; StoreError only when the table itself is unusable.

    progress(done, total) after each batch; cancel() is asked between batches (committed rows stay).
    """
    folder = Path(folder)
    table, ignored = read_table(folder)
    report = ImportReport(ignored_columns=ignored)
    for start in range(0, len(table), BATCH):
        if cancel is not None and cancel():
            report.cancelled = True
            break
        with store.transaction():
            for offset, row in enumerate(table[start : start + BATCH]):
                line = start + offset + 2  # line 1 is the header
                where = f"labels.csv line {line} ({row.get('image') or 'no image'})"
                _import_row(store, folder, line, row, where, report)
        if progress is not None:
            progress(min(start + BATCH, len(table)), len(table))
    store.log_action("import", after={"kind": "labelled folder", "rows": len(table), **report.summary()})
    return report


def _import_row(
    store: Store, folder: Path, line: int, row: dict[str, str], where: str, report: ImportReport
) -> None:
    try:
        prepared = prepare_row(folder, line, row)
        with store.transaction():  # a savepoint: the frame and its annotation together or not at all
            known = store.frame_id_for(prepared.frame.source_id)
            frame_id = store.add_frame(
                prepared.frame, case_key=prepared.case_key or _file_case(folder, row), split=prepared.split,
                group=prepared.group,
            )  # fmt: skip
            before = store.annotation(frame_id)
            saved = store.save_annotation(
                frame_id,
                prepared.mask,
                prepared.label,
                prepared.category,
                prepared.note,
                action="import_annotation",
            )
    except C5Error as exc:
        report.failures.append(Failure(where, str(exc)))
        return
    except OSError as exc:
        report.failures.append(Failure(where, f"cannot be written ({exc.strerror or exc})"))
        return
    report.frames_added += known is None
    if before is not None and saved.id == before.id:
        report.unchanged += 1
    else:
        report.annotations_saved += 1


def _file_case(folder: Path, row: dict[str, str]) -> str:
    """Without a patient column, each image file is its own case (a DICOM image: its study)."""
    return case_key_for((folder / row["image"]).resolve())


def import_frames(
    store: Store,
    paths: Iterable[str | os.PathLike[str]],
    max_frames: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> ImportReport:
    """Add the frames of files and folders (images, DICOM, video) as unlabelled frames.

    max_frames limits how many frames of each file are taken (from the first), e.g. 1 for a long cine.
    progress(done, total) after each file; cancel() is asked between files (added frames stay).
    """
    report = ImportReport()
    try:
        files = list(iter_paths(paths))
    except C5Error as exc:
        report.failures.append(Failure("input", str(exc)))
        files = []
    for done, path in enumerate(files, start=1):
        if cancel is not None and cancel():
            report.cancelled = True
            break
        try:
            _import_file(store, path, max_frames, report)
        except C5Error as exc:
            report.failures.append(Failure(path.name, str(exc)))
        except OSError as exc:
            report.failures.append(Failure(path.name, f"cannot be read ({exc.strerror or exc})"))
        if progress is not None:
            progress(done, len(files))
    store.log_action("import", after={"kind": "frames", "files": len(files), **report.summary()})
    return report


def _import_file(store: Store, path: Path, max_frames: int | None, report: ImportReport) -> None:
    with open_source(path) as source:
        count = len(source) if max_frames is None else min(len(source), max(1, int(max_frames)))
        key = case_key_for(path)
        for index in range(count):
            frame = source.frame(index)
            if store.frame_id_for(frame.source_id) is not None:
                report.unchanged += 1
                continue
            store.add_frame(frame, case_key=key)
            report.frames_added += 1
