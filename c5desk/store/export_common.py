"""What every export shares: the items to export and an output folder that appears whole or not at all.

An export is written into a hidden temporary folder beside --out and renamed into place at the end, so a
crash or an error never leaves a half-written export under the chosen name. File names carry only the
store's own case and frame numbers ("case-0003_f000012"), never a source name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from c5desk.fsio import StagedFolder
from c5desk.store.files import encode_png
from c5desk.store.outputs import check_output_folder, mark_export, sweep_stale_exports, unmark_export
from c5desk.store.records import Annotation, FrameRecord, Lesion, PredictionRecord, StoreError
from c5desk.store.store import Store

# The model card's "Intended use and limits" (resources/models/*/MODEL_CARD.md), as every report states it.
INTENDED_USE = (
    "Research and decision support for trained sonographers outlining and scoring breast lesions on B-mode"
    " ultrasound; every outline and score is meant to be checked and corrected by a clinician."
    " c5desk is not a medical device and has no regulatory clearance."
)


@dataclass(frozen=True)
class ExportItem:
    """A frame's latest annotation with the prediction it is shown against (if any)."""

    frame: FrameRecord
    annotation: Annotation
    prediction: PredictionRecord | None

    @property
    def stem(self) -> str:
        return self.frame.stem


@dataclass(frozen=True)
class ExportLesion:
    """One lesion of an exported frame (number 1 the main lesion) with its own mask."""

    number: int
    lesion: Lesion
    mask: np.ndarray


def item_lesions(store: Store, item: ExportItem) -> list[ExportLesion]:
    """The frame's lesions, the main one first; [] when nothing is outlined (a label alone, "normal")."""
    return [
        ExportLesion(lesion.position, lesion, store.lesion_mask(lesion))
        for lesion in store.lesions(item.annotation)
    ]


class ExportCancelled(StoreError):
    """The user cancelled an export; nothing was published."""


@dataclass
class ExportSummary:
    format: str
    out: Path
    exported: int = 0
    files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (stem, why)
    notes: list[str] = field(default_factory=list)
    total: int = 0
    done: int = 0
    progress: Callable[[int, int], None] | None = None
    cancel: Callable[[], bool] | None = None

    def track(self, items: Iterable[ExportItem]) -> Iterator[ExportItem]:
        """Items one by one, reporting progress and stopping (ExportCancelled) when cancel() says so."""
        for item in items:
            if self.cancel is not None and self.cancel():
                raise ExportCancelled("export cancelled: nothing was written")
            yield item
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)


def export_items(store: Store) -> list[ExportItem]:
    """Every annotated frame (latest revision), with the prediction of the model the clinician corrected,
    else the frame's newest prediction."""
    items = []
    for annotation in store.annotations():
        prediction = None
        if annotation.model_version is not None:
            prediction = store.prediction(annotation.frame_id, annotation.model_version)
        prediction = prediction or store.prediction(annotation.frame_id)
        items.append(ExportItem(store.frame_record(annotation.frame_id), annotation, prediction))
    return items


@contextmanager
def atomic_folder(out: Path) -> Iterator[Path]:
    """Yield a temporary folder that becomes `out` when the block succeeds (removed when it fails).

    `out` is checked first (check_output_folder); stale staging folders of killed exports beside it are
    removed (outputs.sweep_stale_exports). Every failure is a one-line StoreError naming `out`.
    """
    out = check_output_folder(Path(out))
    sweep_stale_exports(out.parent)
    try:
        staged = StagedFolder(out)
    except FileExistsError:
        raise StoreError(
            f"{out.name}: exists and is not an empty folder; choose a new output folder"
        ) from None
    except OSError as exc:
        raise StoreError(f"{out.name}: cannot create the output folder here ({exc.strerror or exc})") from exc
    mark_export(staged.path)
    try:
        with staged as folder:
            try:
                yield folder
            except OSError as exc:  # a write failed (disk full...): the staging folder is discarded
                raise StoreError(f"{out.name}: cannot write the export ({exc.strerror or exc})") from exc
            unmark_export(folder)
    except OSError as exc:  # publishing: the rename into place failed (the staging folder is gone)
        raise StoreError(f"{out.name}: the export cannot be put in place ({exc.strerror or exc})") from exc


def write_file(path: Path, data: bytes) -> None:
    """Write inside the export's staged folder (fsynced with the folder before it is published)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_png(path: Path, image: np.ndarray) -> None:
    write_file(path, encode_png(image))


def write_text(path: Path, text: str) -> None:
    write_file(path, text.encode("utf-8"))
