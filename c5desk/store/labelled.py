"""The project's labelled-folder format: a folder with labels.csv, paths relative to the folder.

Columns (header names are case-insensitive):
  image, mask, label          required (mask may be empty for a "normal" frame: no lesion)
  split, group, patient       optional grouping; patient values are hashed with the installation salt
                              into case keys, never stored as written
  category | birads | tirads  optional BI-RADS / TI-RADS assessment ("4a", "BI-RADS 4a", "TR3")
  note                        optional free text
  mm_per_px_x, mm_per_px_y    optional calibration (PNG frames carry none), written by our own export
  lesion                      optional lesion number (1, 2...; empty: 1): rows of one image with different
                              numbers are that frame's lesions, each with its own mask, label, category and
                              note (duplicates.frame_units groups them; the first is the main lesion)
Other columns are ignored (and reported). Masks: a grey or colour PNG/JPEG/BMP/TIFF of the image's size,
two-valued (0/255 or 0/1; see maskfile.py). Each row is read on its own (csvtable.py): a syntax problem
fails that row, with its line number, never the table.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from c5desk.csvcells import plain_cell
from c5desk.errors import ReadError
from c5desk.io import Frame, open_source
from c5desk.io.ids import case_key
from c5desk.store.csvtable import read_records
from c5desk.store.lesions import MAX_LESIONS
from c5desk.store.maskfile import read_mask
from c5desk.store.records import StoreError, check_category, check_label, check_note, check_token

LABELS_CSV = "labels.csv"
REQUIRED = ("image", "mask", "label")
KNOWN = (
    *REQUIRED,
    "split",
    "group",
    "patient",
    "category",
    "birads",
    "tirads",
    "note",
    "mm_per_px_x",
    "mm_per_px_y",
    "lesion",
)
MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class LabelledRow:
    """One row of labels.csv, checked and decoded, ready to be written."""

    line: int
    frame: Frame
    mask: np.ndarray
    label: str
    category: str | None
    note: str
    split: str | None
    group: str | None
    case_key: str | None
    warnings: tuple[str, ...] = ()  # what was dropped from a row read with strict=False


@dataclass(frozen=True)
class TableRow:
    """A row of labels.csv: its line number, its cells by lower-cased column name, or why it is unusable."""

    line: int
    values: dict[str, str]
    problem: str | None = None  # a syntax problem of this row alone (the other rows are unaffected)


def read_table(folder: Path) -> tuple[list[TableRow], list[str]]:
    """Rows of labels.csv and the ignored column names; StoreError only when the table as a whole is unusable.

    Each row is read on its own (see csvtable): a bad quote, byte or over-long cell makes that row's
    `problem`, never the file's. Cells written quoted by our own export (csvcells) are read back as written.
    """
    path = folder / LABELS_CSV
    try:
        header, records = read_records(path, MAX_ROWS, lambda row: _names_a_file(folder, row))
    except FileNotFoundError as exc:
        raise StoreError(f"{folder.name}: no {LABELS_CSV} in this folder") from exc
    except OSError as exc:
        raise StoreError(f"{LABELS_CSV} cannot be read ({exc.strerror or exc})") from exc
    header = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise StoreError(f"{LABELS_CSV} lacks the required column(s): {', '.join(missing)}")
    table = [TableRow(r.line, _values(header, r.cells), r.problem) for r in records]
    return table, [name for name in header if name and name not in KNOWN]


def _values(header: list[str], cells: list[str]) -> dict[str, str]:
    return {name: plain_cell(cell.strip()) for name, cell in zip(header, cells, strict=False) if name}


def _names_a_file(folder: Path, row: dict[str, str]) -> bool:
    """Whether a line met inside a quoted cell is a row of its own: its image cell names a file here."""
    image = next((cell.strip() for name, cell in row.items() if name.strip().lower() == "image"), "")
    return bool(image) and (folder / image).is_file()


def lesion_number(row: dict[str, str]) -> int:
    """The row's lesion number: 1 when the cell is empty or absent."""
    cell = row.get("lesion", "").strip()
    if not cell:
        return 1
    if not cell.isdigit() or not 1 <= int(cell) <= MAX_LESIONS:
        raise StoreError(f"lesion {cell[:12]!r} is not a lesion number (1 to {MAX_LESIONS})")
    return int(cell)


def prepare_row(
    folder: Path, line: int, row: dict[str, str], *, strict: bool = True, frame: Frame | None = None
) -> LabelledRow:
    """Check and decode one row; StoreError naming the problem (nothing is written here).

    strict=False is for commands that need only the image, mask, label and grouping (training, evaluation):
    a category or note they cannot read is recorded as unknown in `warnings` instead of refusing the row.
    frame: the row's image, already read (another lesion of the same image).
    """
    label = check_label(row.get("label"))
    if frame is None:
        frame = _read_image(folder, row)
    mask_name = row.get("mask", "")
    if mask_name:
        mask = read_mask(inside(folder, mask_name, "mask"), frame.shape)
    elif label == "normal":
        mask = np.zeros(frame.shape, bool)
    else:
        raise StoreError(f"no mask given for a {label} frame (only 'normal' frames may leave it empty)")
    if label == "normal" and mask.any():
        raise StoreError("label is normal (no lesion) but the mask is not empty")
    patient = row.get("patient", "")
    category, note, warnings = _unneeded(row, strict)
    return LabelledRow(
        line=line,
        frame=frame,
        mask=mask,
        label=label,
        category=category,
        note=note,
        split=check_token(row.get("split"), "split"),
        group=check_token(row.get("group"), "group"),
        case_key=case_key(f"labelled-patient:{patient}") if patient else None,
        warnings=warnings,
    )


def _read_image(folder: Path, row: dict[str, str]) -> Frame:
    image_path = inside(folder, row.get("image", ""), "image")
    try:
        with open_source(image_path) as source:
            frame = source.frame(0)
    except ReadError as exc:
        raise StoreError(f"image {exc}") from exc
    scale = _calibration(row)
    return frame if scale is None else replace(frame, mm_per_px=scale)


def _unneeded(row: dict[str, str], strict: bool) -> tuple[str | None, str, tuple[str, ...]]:
    """Category and note: checked (strict), else what cannot be read becomes unknown with a warning."""
    if strict:
        return _category(row), check_note(row.get("note", "")), ()
    warnings = []
    try:
        category = _category(row)
    except StoreError as exc:
        category = None
        warnings.append(f"category taken as unknown: {exc}")
    try:
        note = check_note(row.get("note", ""))
    except StoreError as exc:
        note = ""
        warnings.append(f"note left out: {exc}")
    return category, note, tuple(warnings)


def inside(folder: Path, relative: str, what: str) -> Path:
    """A path from the table, which must name a file inside the folder (no '..' escaping it)."""
    if not relative:
        raise StoreError(f"no {what} path given")
    candidate = Path(relative)
    if candidate.is_absolute():
        raise StoreError(f"{what} path must be relative to the folder, not absolute")
    normal = Path(os.path.normpath(candidate))
    if normal.parts[:1] == ("..",):  # lexical: a symlinked sub-folder inside the folder is fine
        raise StoreError(f"{what} path leads outside the folder")
    path = folder / normal
    if not path.is_file():
        raise StoreError(f"{what} file {candidate.as_posix()} does not exist")
    return path


def _category(row: dict[str, str]) -> str | None:
    if row.get("category"):
        return check_category(row["category"])
    if row.get("birads"):
        return check_category(row["birads"], "BI-RADS")
    if row.get("tirads"):
        return check_category(row["tirads"], "TI-RADS")
    return None


def _calibration(row: dict[str, str]) -> tuple[float, float] | None:
    x, y = row.get("mm_per_px_x", ""), row.get("mm_per_px_y", "")
    if not x and not y:
        return None
    try:
        scale = float(x), float(y)
    except ValueError:
        raise StoreError(f"mm_per_px_x/mm_per_px_y must be numbers, got {x!r}, {y!r}") from None
    if not all(math.isfinite(v) and v > 0 for v in scale):
        raise StoreError(f"mm_per_px_x/mm_per_px_y must be positive, got {x!r}, {y!r}")
    return scale
