"""Cells safe to open in a spreadsheet: text that a spreadsheet would run as a formula is written quoted.

Excel, LibreOffice and Sheets evaluate a cell that starts with = + - @ (or a tab/carriage return before one),
so a note such as `=cmd|' /C calc'!A0` in an exported CSV would run on the reader's machine (CSV injection).
Every CSV the project writes passes its cells through `safe_cell`; readers of our own CSVs undo it with
`plain_cell`, so an export re-imports to the same text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
ESCAPE = "'"
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """`value`, or the text prefixed with a quote when a spreadsheet would read it as a formula.

    Numbers and numeric text (-1.5, +3) are left alone: a spreadsheet reads them as numbers, not formulas.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS) or _NUMBER.match(value):
        return value
    return ESCAPE + value


def plain_cell(text: str) -> str:
    """Undo `safe_cell`: the text as it was before it was written."""
    if text.startswith(ESCAPE) and text[1:].startswith(FORMULA_STARTS) and not _NUMBER.match(text[1:]):
        return text[1:]
    return text


def safe_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV row (column → value) with every cell passed through `safe_cell`."""
    return {key: safe_cell(value) for key, value in row.items()}
