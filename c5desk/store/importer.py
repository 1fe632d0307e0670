"""Seeding a store: a labelled folder (frames + final annotations) or plain files as unlabelled frames.

Each row (or frame) is checked and decoded first; only then are its files written and its rows committed,
inside a savepoint, so a bad row leaves nothing behind and never stops the good ones. Rows are committed
in batches (one transaction per BATCH rows) to keep a large import fast without holding the write lock
for long. The report says which rows or files failed and why; the store keeps no path.

Rows naming one image with different "lesion" numbers are that frame's lesions, saved together (all or
none). Rows naming one lesion more than once never silently overwrite each other (last one wins): exact
repeats are imported once and listed as duplicates; rows that disagree (malignant, then benign) are all
refused, each naming the others (duplicates.py). The same picture under two file names is caught as it is
read: the first row is kept, a repeat is a duplicate, a disagreement a failure.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from c5desk.errors import C5Error
from c5desk.io import iter_paths, open_source
from c5desk.store.duplicates import frame_units
from c5desk.store.identity import case_key_for
from c5desk.store.labelled import LABELS_CSV, LabelledRow, TableRow, prepare_row, read_table
from c5desk.store.records import Annotation, LesionDraft, StoreError
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
    duplicates: list[Failure] = field(default_factory=list)  # rows repeating another exactly: imported once
    notes: list[Failure] = field(default_factory=list)  # imported, but something given was left out
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
            "duplicates": len(self.duplicates),
        }


def is_labelled_folder(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / "labels.csv").is_file()


def import_labelled_folder(
    store: Store,
    folder: str | Path,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    keep_identity: bool = False,
) -> ImportReport:
    """Import every good row of folder/labels.csv; StoreError only when the table itself is unusable.

    Rows naming one image with different "lesion" numbers are saved together as that frame's lesions.
    progress(done, total) after each batch; cancel() is asked between batches (committed rows stay).
    keep_identity stores the frames' pixels as they are (by default identifying pixels are blanked).
    """
    folder = Path(folder)
    table, ignored = read_table(folder)
    report = ImportReport(ignored_columns=ignored)
    units, refused = frame_units(table)
    for row in table:
        if row.line in refused:
            duplicate, reason = refused[row.line]
            (report.duplicates if duplicate else report.failures).append(Failure(_where([row]), reason))
    seen: dict[str, tuple[int, tuple]] = {}  # source id -> (line, content) of the frames imported now
    done = len(refused)
    for batch in _batches(units):
        if cancel is not None and cancel():
            report.cancelled = True
            break
        with store.transaction():
            for unit in batch:
                if unit[0].problem is not None:
                    report.failures.append(Failure(_where(unit), unit[0].problem))
                else:
                    _import_unit(store, folder, unit, seen, report, keep_identity)
        done += sum(len(unit) for unit in batch)
        if progress is not None:
            progress(done, len(table))
    store.log_action("import", after={"kind": "labelled folder", "rows": len(table), **report.summary()})
    return report


def _batches(units: list[list[TableRow]]) -> Iterator[list[list[TableRow]]]:
    """Units of about BATCH rows each (a frame's lesions are never split)."""
    batch: list[list[TableRow]] = []
    for unit in units:
        batch.append(unit)
        if sum(len(u) for u in batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _where(unit: list[TableRow]) -> str:
    lines = ", ".join(str(row.line) for row in unit)
    image = unit[0].values.get("image") or "no image"
    return f"{LABELS_CSV} line{'s' if len(unit) > 1 else ''} {lines} ({image})"


def _import_unit(
    store: Store,
    folder: Path,
    unit: list[TableRow],
    seen: dict[str, tuple[int, tuple]],
    report: ImportReport,
    keep_identity: bool,
) -> None:
    """One frame: a row, or the rows of its lesions (saved together, or nothing at all)."""
    where = _where(unit)
    try:
        prepared = _prepare_unit(folder, unit)
        first = prepared[0]
        if _repeats_a_row(prepared, seen, where, report):
            return
        with store.transaction():  # a savepoint: the frame and its annotation together or not at all
            known = store.frame_id_for(first.frame.source_id)
            frame_id = store.add_frame(
                first.frame, case_key=first.case_key or _file_case(folder, unit[0].values),
                split=first.split, group=first.group, keep_identity=keep_identity,
            )  # fmt: skip
            before = store.annotation(frame_id)
            saved = _save(store, frame_id, prepared)
    except C5Error as exc:
        report.failures.append(Failure(where, str(exc)))
        return
    except OSError as exc:
        report.failures.append(Failure(where, f"cannot be written ({exc.strerror or exc})"))
        return
    seen[first.frame.source_id] = (first.line, _content(prepared))
    report.frames_added += known is None
    if before is not None and saved.id == before.id:
        report.unchanged += 1
    else:
        report.annotations_saved += 1


def _prepare_unit(folder: Path, unit: list[TableRow]) -> list[LabelledRow]:
    """Each row checked and decoded, the image read once; a bad lesion names its line."""
    first = prepare_row(folder, unit[0].line, unit[0].values)
    prepared = [first]
    for row in unit[1:]:
        try:
            prepared.append(prepare_row(folder, row.line, row.values, frame=first.frame))
        except C5Error as exc:
            raise StoreError(f"line {row.line}: {exc}") from exc
    return prepared


def _save(store: Store, frame_id: int, prepared: list[LabelledRow]) -> Annotation:
    if len(prepared) == 1:
        row = prepared[0]
        return store.save_annotation(
            frame_id, row.mask, row.label, row.category, row.note, action="import_annotation"
        )
    drafts = [LesionDraft(row.mask, row.label, row.category, row.note) for row in prepared]
    return store.save_lesions(frame_id, drafts, action="import_annotation")


def _repeats_a_row(
    prepared: list[LabelledRow], seen: dict[str, tuple[int, tuple]], where: str, report: ImportReport
) -> bool:
    """The same picture under another file name as a row imported earlier: reported, never a new revision."""
    source_id = prepared[0].frame.source_id
    if source_id not in seen:
        return False
    line, content = seen[source_id]
    if content == _content(prepared):
        report.duplicates.append(
            Failure(where, f"the same image and annotation as line {line}: imported once")
        )
    else:
        report.failures.append(
            Failure(where, f"the same image as line {line} with a different annotation: line {line} kept")
        )
    return True


def _content(prepared: list[LabelledRow]) -> tuple:
    """What rows say about their image (masks by their bits), to tell repeats from conflicts."""
    return tuple(
        (row.label, row.category, row.note, row.split, row.group, row.case_key, row.frame.mm_per_px,
         hashlib.sha256(np.packbits(row.mask)).hexdigest())
        for row in prepared
    )  # fmt: skip


def _file_case(folder: Path, row: dict[str, str]) -> str:
    """Without a patient column, each image file is its own case (a DICOM image: its study)."""
    return case_key_for((folder / row["image"]).resolve())


def import_frames(
    store: Store,
    paths: Iterable[str | os.PathLike[str]],
    max_frames: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    keep_identity: bool = False,
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
            _import_file(store, path, max_frames, report, keep_identity)
        except C5Error as exc:
            report.failures.append(Failure(path.name, str(exc)))
        except OSError as exc:
            report.failures.append(Failure(path.name, f"cannot be read ({exc.strerror or exc})"))
        if progress is not None:
            progress(done, len(files))
    store.log_action("import", after={"kind": "frames", "files": len(files), **report.summary()})
    return report


def _import_file(
    store: Store, path: Path, max_frames: int | None, report: ImportReport, keep_identity: bool
) -> None:
    with open_source(path) as source:
        count = len(source) if max_frames is None else min(len(source), max(1, int(max_frames)))
        key = case_key_for(path)
        for index in range(count):
            frame = source.frame(index)
            if store.frame_id_for(frame.source_id) is not None:
                report.unchanged += 1
                continue
            store.add_frame(frame, case_key=key, keep_identity=keep_identity)
            report.frames_added += 1
