"""The case browser's rows: every stored frame with its reading status, grouping and side, in one query.

Status of a frame (the first that applies):
  disagreement  the clinician overturned the model: the saved label differs from the model's (label_flip), or
                the outline departs from the model's by seg_change = 1 - Dice >= DISAGREEMENT_SEG_CHANGE (0.5:
                the clinician's outline and the model's overlap less than they differ)
  corrected     a clinician saved an annotation (seg_change says how far it departs from the model's outline)
  AI only       the model scored the frame; no clinician has saved it
  unannotated   neither (files of an open folder that are not in the dataset count here too)
"received" is not a status but where the frame came from: the DICOM node's stamp in the frame's meta
(c5desk.node.receive.RECEIVED, the key c5desk.node.received_frames reads too), so it combines with any status.

The query reads frames, their latest annotation and newest prediction in one statement over the store's
indexes, on a read-only connection of its own (the store's public API has no bulk read), with the meta fields
extracted in SQL: ~10 000 frames take well under a second. Side and view come only from meta values that
name no one (DICOM laterality / view position, a labelled folder's side), normalised to short tokens.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from c5desk.errors import C5Error, StoreError

if TYPE_CHECKING:
    from c5desk.store.store import Store

UNANNOTATED, AI_ONLY, CORRECTED, DISAGREEMENT = "unannotated", "AI only", "corrected", "disagreement"
STATUSES = (UNANNOTATED, AI_ONLY, CORRECTED, DISAGREEMENT)
RECEIVED = "received"  # a filter, not a status; the DICOM node's meta key (node.receive.RECEIVED)
CHECKING = "checking…"  # a folder file whose source id is not read yet
DISAGREEMENT_SEG_CHANGE = 0.5
SIDE_KEYS = ("image_laterality", "laterality", "side")  # DICOM (0020,0062) / (0020,0060), a labelled side
VIEW_KEYS = ("view_position", "view")
_SIDES = {"l": "L", "left": "L", "r": "R", "right": "R", "b": "B", "both": "B", "bilateral": "B"}
_TOKEN = re.compile(r"^[A-Za-z0-9 _.-]{1,16}$")


@dataclass(frozen=True)
class BrowseRow:
    frame_id: int | None  # None: a file of the open folder that is not in the dataset
    case: str  # "case-0003", or the file's name for a folder file not in the dataset
    frame_index: int
    group: str | None  # the store's group (patient or cohort) where the source gave one
    source_id: str | None
    status: str
    received: bool = False
    side: str | None = None  # "L", "R" or "B" where the frame's meta says
    view: str | None = None
    p_malignant: float | None = None  # the newest prediction's
    model_label: str | None = None
    label: str | None = None  # the latest annotation's
    category: str | None = None
    seg_change: float | None = None  # 1 - Dice(model outline, clinician's)
    label_flip: bool | None = None
    path: Path | None = None  # a file of the open folder
    lesions: int = 0  # lesions outlined in the latest annotation (several: store.lesions)

    @property
    def group_key(self) -> str:
        """What the browser groups by: the source's group (patient/cohort), else the case."""
        return self.group or self.case

    @property
    def in_dataset(self) -> bool:
        return self.frame_id is not None

    def status_text(self) -> str:
        outside = not self.in_dataset and self.status != CHECKING
        text = f"{self.status} (not in dataset)" if outside else self.status
        return f"{text} · received" if self.received else text


def _json(field: str, keys: Sequence[str]) -> str:
    return "COALESCE(" + ", ".join(f"json_extract(f.meta, '$.{key}')" for key in keys) + f") AS {field}"


_BROWSE_SQL = f"""
SELECT f.id, f.case_id, f.frame_index, f.grp, f.source_id,
       json_type(f.meta, '$.{RECEIVED}') = 'object' AS received,
       {_json("side", SIDE_KEYS)}, {_json("view", VIEW_KEYS)},
       p.p_malignant, p.label AS model_label,
       a.label, a.category, a.seg_change, a.label_flip,
       (SELECT COUNT(*) FROM lesions l WHERE l.annotation_id = a.id) AS lesions
FROM frames f
LEFT JOIN annotations a ON a.frame_id = f.id
    AND a.revision = (SELECT MAX(b.revision) FROM annotations b WHERE b.frame_id = f.id)
LEFT JOIN predictions p ON p.id = (SELECT MAX(q.id) FROM predictions q WHERE q.frame_id = f.id)
ORDER BY f.grp IS NULL, f.grp, f.case_id, f.frame_index, f.id
"""


def browse_rows(store: Store) -> list[BrowseRow]:
    """Every stored frame with its status, grouping, side and scores, grouped and then in case order."""
    from c5desk.store.store import DATABASE

    uri = (store.folder / DATABASE).resolve().as_uri() + "?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            conn.row_factory = sqlite3.Row
            return [_row(record) for record in conn.execute(_BROWSE_SQL)]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{store.folder.name}: cannot read the dataset's frames ({exc})") from exc


def _row(r: sqlite3.Row) -> BrowseRow:
    from c5desk.store.rows import case_name  # here, not at import: the window imports this module at start

    flip = None if r["label_flip"] is None else bool(r["label_flip"])
    return BrowseRow(
        frame_id=int(r["id"]),
        case=case_name(r["case_id"]),
        frame_index=int(r["frame_index"]),
        group=r["grp"],
        source_id=r["source_id"],
        status=status_of(r["label"], r["model_label"], r["seg_change"], flip),
        received=bool(r["received"]),
        side=side_token(r["side"]),
        view=view_token(r["view"]),
        p_malignant=r["p_malignant"],
        model_label=r["model_label"],
        label=r["label"],
        category=r["category"],
        seg_change=r["seg_change"],
        label_flip=flip,
        lesions=int(r["lesions"] or 0),
    )


def status_of(label: str | None, model_label: str | None, seg_change: float | None, flip: bool | None) -> str:
    """The status of a frame from its latest annotation's label and correction and its newest model label.

    Without a recorded label_flip (saved with no model output), a newer prediction's lesion label is compared.
    """
    from c5desk.store.records import LESION_LABELS  # here, not at import (see _row)

    if label is None:
        return AI_ONLY if model_label is not None else UNANNOTATED
    if flip is None and label in LESION_LABELS and model_label in LESION_LABELS:
        flip = label != model_label
    if flip or (seg_change is not None and seg_change >= DISAGREEMENT_SEG_CHANGE):
        return DISAGREEMENT
    return CORRECTED


def side_token(value: object) -> str | None:
    """'L', 'R' or 'B' from a laterality value ('L', 'left', ...); None for anything else."""
    return _SIDES.get(str(value).strip().lower()) if isinstance(value, str) else None


def view_token(value: object) -> str | None:
    """A short view name (e.g. 'CC', 'transverse'); None when absent or not a short plain token."""
    text = str(value).strip() if isinstance(value, str) else ""
    return text if _TOKEN.match(text) else None


def file_source_id(path: Path) -> str | None:
    """The source id of a file's first frame (what the store keys it by); None when it cannot be read."""
    from c5desk.io import open_source

    try:
        with open_source(path) as source:
            return source.frame(0).source_id
    except (C5Error, OSError, ValueError):
        return None


def folder_rows(
    files: Sequence[Path], source_ids: Mapping[Path, str | None], stored: Iterable[BrowseRow]
) -> list[BrowseRow]:
    """The open folder's files: the stored row of a file whose first frame is in the dataset (with its path),
    else an unannotated file not in the dataset; CHECKING while its source id is not in `source_ids`."""
    by_source = {row.source_id: row for row in stored if row.source_id is not None}
    found = []
    for path in files:
        known = path in source_ids
        source_id = source_ids.get(path)
        row = by_source.get(source_id) if source_id is not None else None
        if row is not None:
            found.append(replace(row, path=path))
        else:
            status = UNANNOTATED if known else CHECKING
            found.append(BrowseRow(None, path.name, 0, None, source_id, status, path=path))
    return found


def matches(row: BrowseRow, wanted: str | None, text: str = "") -> bool:
    """Whether a row passes: `wanted` a status, RECEIVED or None (all); `text` found in its case or group."""
    if wanted == RECEIVED and not row.received:
        return False
    if wanted not in (None, RECEIVED) and row.status != wanted:
        return False
    needle = text.strip().lower()
    return not needle or needle in row.case.lower() or needle in (row.group or "").lower()


def status_counts(rows: Iterable[BrowseRow]) -> dict[str, int]:
    """How many rows have each status, and how many were received, in STATUSES order then RECEIVED."""
    rows = list(rows)
    counted = Counter(row.status for row in rows)
    return {**{status: counted[status] for status in STATUSES}, RECEIVED: sum(row.received for row in rows)}
