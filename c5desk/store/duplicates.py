"""Rows of a labelled table that name the same image file: repeats are harmless, disagreements are refused.

Imported one after another, two rows for one image would make the second a new revision of the first:
"malignant" then "benign" would end as benign, with no word said. They are found before anything is
imported, by the image path as written (normalised: "a/../b.png" is "b.png"), so that every row of a
disagreement can be refused -- which of two clinicians' words is right is not for the import to guess.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import PurePosixPath

from c5desk.store.labelled import KNOWN, TableRow

SHOWN_CHARS = 24


def repeated_images(table: Iterable[TableRow]) -> dict[int, tuple[bool, str]]:
    """line -> (is an exact repeat, why) for every row not to import because another row names its image.

    The first of exact repeats is imported (it is not listed); every row of a disagreement is listed.
    """
    by_image: dict[str, list[TableRow]] = {}
    for row in table:
        image = row.values.get("image", "")
        if row.problem is None and image:
            by_image.setdefault(_image_key(image), []).append(row)
    refused: dict[int, tuple[bool, str]] = {}
    for rows in by_image.values():
        if len(rows) > 1:
            refused.update(_verdicts(rows))
    return refused


def _verdicts(rows: list[TableRow]) -> dict[int, tuple[bool, str]]:
    first = rows[0]
    compared = [c for c in KNOWN if c != "image"]  # the image is one file, however it is spelled
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
