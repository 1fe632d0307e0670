"""Several lesions per frame: the lesions of one annotation revision, position 1 the main lesion (schema v6).

A revision's lesions are checked, written and measured before its transaction (prepare), inserted with it
(insert) and read back as Lesion records (of_annotation). The annotation row itself stays the frame's
summary (see schema._V6): the union of the lesion masks and the main lesion's fields.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from c5desk.lesion.measure import measure_mask
from c5desk.store.files import ObjectFiles
from c5desk.store.records import (
    OUTLINED_LABELS,
    Lesion,
    LesionDraft,
    StoreError,
    check_category,
    check_descriptors,
    check_label,
    check_mask,
    check_note,
    check_provenance,
)
from c5desk.store.versions import from_json, to_json

MAX_LESIONS = 50  # per frame; far above what a frame shows, low enough to refuse a runaway caller
SELECT_SQL = "SELECT * FROM lesions WHERE annotation_id = ? ORDER BY position"
_INSERT_SQL = (
    "INSERT INTO lesions (annotation_id, position, label, category, note, mask_file, measurements,"
    " descriptors, provenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class CheckedLesion:
    """A draft whose fields passed the store's checks (mask boolean, label normalised...)."""

    mask: np.ndarray
    label: str
    category: str | None
    note: str
    descriptors: dict[str, dict[str, str]]
    provenance: dict[str, Any]


@dataclass(frozen=True)
class PreparedLesion:
    """A lesion as it will be stored: its mask file written and the mask measured."""

    label: str
    category: str | None
    note: str
    mask_file: str
    measurements: dict[str, Any] | None
    descriptors: dict[str, dict[str, str]]
    provenance: dict[str, Any]

    def same_as(self, saved: Lesion) -> bool:
        return (
            self.label, self.category, self.note, self.mask_file, self.descriptors, self.provenance
        ) == (
            saved.label, saved.category, saved.note, saved.mask_file, saved.descriptors, saved.provenance
        )  # fmt: skip


def check_drafts(
    drafts: Sequence[LesionDraft], shape: tuple[int, int], first_number: int = 1
) -> list[CheckedLesion]:
    """The lesions of one save (numbered from `first_number` in messages), checked: each outlined, none
    "normal", at most MAX_LESIONS."""
    if not drafts and first_number == 1:
        raise StoreError("a frame with several lesions needs at least one lesion")
    count = len(drafts) + first_number - 1
    if count > MAX_LESIONS:
        raise StoreError(f"{count} lesions on one frame; at most {MAX_LESIONS} are kept")
    checked = []
    for number, draft in enumerate(drafts, start=first_number):
        label = check_label(draft.label)
        if label not in OUTLINED_LABELS:
            raise StoreError(
                f"lesion {number} cannot be labelled {label} (normal means no lesion):"
                " remove the lesion instead"
            )
        mask = check_mask(draft.mask, shape, f"lesion {number}'s mask")
        if not mask.any():
            raise StoreError(f"lesion {number} has no outline: draw it or remove the lesion")
        checked.append(
            CheckedLesion(
                mask, label, check_category(draft.category), check_note(draft.note),
                check_descriptors(draft.descriptors), check_provenance(draft.provenance),
            )
        )  # fmt: skip
    return checked


def prepare(
    lesions: Sequence[CheckedLesion], files: ObjectFiles, mm_per_px: tuple[float, float] | None
) -> tuple[PreparedLesion, ...]:
    prepared = []
    for lesion in lesions:
        measured = measure_mask(lesion.mask, mm_per_px)
        prepared.append(
            PreparedLesion(
                lesion.label, lesion.category, lesion.note, files.put_mask(lesion.mask),
                measured.to_dict() if measured is not None else None, lesion.descriptors, lesion.provenance,
            )
        )  # fmt: skip
    return tuple(prepared)


def insert(conn: sqlite3.Connection, annotation_id: int, lesions: Sequence[PreparedLesion]) -> None:
    for position, lesion in enumerate(lesions, start=1):
        conn.execute(
            _INSERT_SQL,
            (
                annotation_id, position, lesion.label, lesion.category, lesion.note, lesion.mask_file,
                to_json(lesion.measurements), to_json(lesion.descriptors or None),
                to_json(lesion.provenance or None),
            ),
        )  # fmt: skip


def of_annotation(conn: sqlite3.Connection, annotation_id: int) -> tuple[Lesion, ...]:
    return tuple(record(row) for row in conn.execute(SELECT_SQL, (annotation_id,)))


def same(prepared: Sequence[PreparedLesion], saved: Sequence[Lesion]) -> bool:
    return len(prepared) == len(saved) and all(p.same_as(s) for p, s in zip(prepared, saved, strict=True))


def record(row: sqlite3.Row) -> Lesion:
    return Lesion(
        position=row["position"],
        label=row["label"],
        category=row["category"],
        note=row["note"],
        mask_file=row["mask_file"],
        measurements=from_json(row["measurements"]),
        descriptors=from_json(row["descriptors"]) or {},
        provenance=from_json(row["provenance"]) or {},
    )


def as_draft(lesion: CheckedLesion) -> LesionDraft:
    return LesionDraft(
        lesion.mask, lesion.label, lesion.category, lesion.note, lesion.descriptors, lesion.provenance
    )
