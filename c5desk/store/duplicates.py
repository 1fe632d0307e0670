"""Rows of a labelled table that name the same image file: the lesions of one frame, harmless repeats, or
disagreements, which are refused.

Rows of one image with different "lesion" numbers (an empty cell is lesion 1) are that frame's lesions,
imported together as one revision; they must agree on what belongs to the frame (split, group, patient,
calibration). Imported one after another, two rows for one lesion would make the second a new revision of
the first: "malignant" then "benign" would end as benign, with no word said. They are found before anything
is imported, by the image path as written (normalised: "a/../b.png" is "b.png"), so that every row of a
disagreement can be refused -- which of two clinicians' words is right is not for the import to guess --
and with them the image's other lesions: a frame is never imported with some of its lesions missing.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from c5desk.store.labelled import KNOWN, TableRow, lesion_number
from c5desk.store.records import StoreError

SHOWN_CHARS = 24
FRAME_COLUMNS = ("split", "group", "patient", "mm_per_px_x", "mm_per_px_y")  # shared by a frame's lesions
Verdicts = dict[int, tuple[bool, str]]  # line -> (an exact repeat, why it is not imported)


def frame_units(table: list[TableRow]) -> tuple[list[list[TableRow]], Verdicts]:
    """The rows to import together (one image: its lesions by number; else a row alone), in table order,
    and the rows not to import (line -> (an exact repeat, why)); every lesion number checked here."""
    by_image: dict[str, list[TableRow]] = {}
    units: list[list[TableRow]] = []
    for row in table:
        image = row.values.get("image", "")
        if row.problem is None and image:
            key = _image_key(image)
            if key not in by_image:
                by_image[key] = []
                units.append(by_image[key])
            by_image[key].append(row)
        else:
            units.append([row])
    refused: Verdicts = {}
    for rows in by_image.values():
        refused.update(_image_verdicts(rows))
    kept = [[row for row in unit if row.line not in refused] for unit in units]
    # a row alone may be unreadable (its own failure, reported by the import): only groups are sorted
    return [sorted(unit, key=_number) if len(unit) > 1 else unit for unit in kept if unit], refused


def _number(row: TableRow) -> int:
    return lesion_number(row.values)


def _image_verdicts(rows: list[TableRow]) -> Verdicts:
    """Verdicts on the rows of one image: repeats of a lesion, then disagreements (which refuse them all)."""
    try:
        numbers = [_number(row) for row in rows]
    except StoreError as exc:
        return {row.line: (False, f"{exc}; no row of this image imported") for row in rows}
    by_lesion: dict[int, list[TableRow]] = {}
    for number, row in zip(numbers, rows, strict=True):
        by_lesion.setdefault(number, []).append(row)
    verdicts: Verdicts = {}
    for lesion_rows in by_lesion.values():
        if len(lesion_rows) > 1:
            verdicts.update(_verdicts(lesion_rows))
    conflict = [line for line, (repeat, _) in verdicts.items() if not repeat]
    if not conflict:
        firsts = [lesion_rows[0] for lesion_rows in by_lesion.values()]
        return verdicts | _frame_disagreement(firsts)
    lines = ", ".join(map(str, conflict))
    why = f"not imported: rows of another lesion of this image conflict (line {lines})"
    for row in rows:
        if row.line not in verdicts or verdicts[row.line][0]:
            verdicts[row.line] = (False, why)
    return verdicts


def _frame_disagreement(rows: list[TableRow]) -> Verdicts:
    """The lesions of one frame must agree on the frame's own columns, else none is imported."""
    first = rows[0].values
    columns = [c for c in FRAME_COLUMNS if any(r.values.get(c, "") != first.get(c, "") for r in rows)]
    if not columns:
        return {}
    differences = "; ".join(f"{c}: {' / '.join(_distinct(rows, c))}" for c in columns)
    return {
        row.line: (False, f"the lesions of this image disagree on the frame ({differences}); none imported")
        for row in rows
    }


def _verdicts(rows: list[TableRow]) -> Verdicts:
    """Rows of one lesion: the first of exact repeats is imported (not listed); every row of a disagreement
    is listed."""
    first = rows[0]
    compared = [c for c in KNOWN if c not in ("image", "lesion")]  # the file however spelled; the number
    columns = [c for c in compared if any(r.values.get(c, "") != first.values.get(c, "") for r in rows[1:])]
    if not columns:
        return {r.line: (True, f"a repeat of line {first.line}: imported once") for r in rows[1:]}
    differences = "; ".join(f"{c}: {' / '.join(_distinct(rows, c))}" for c in columns)
    verdicts = {}
    for row in rows:
        others = ", ".join(str(r.line) for r in rows if r is not row)
        verdicts[row.line] = (
            False,
            f"conflicts with line {others} for the same image ({differences}); none of them imported",
        )
    return verdicts


def _distinct(rows: list[TableRow], column: str) -> list[str]:
    values = dict.fromkeys(row.values.get(column, "") for row in rows)
    return [_short(value) for value in values]


def _short(value: str) -> str:
    if not value:
        return "(empty)"
    return value if len(value) <= SHOWN_CHARS else value[: SHOWN_CHARS - 1] + "…"


def _image_key(image: str) -> str:
    """One spelling per file: separators and '.'/'..' normalised, case folded where the OS ignores case."""
    return os.path.normcase(PurePosixPath(os.path.normpath(image.replace("\\", "/"))).as_posix())
