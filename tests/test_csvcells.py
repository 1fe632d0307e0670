"""Spreadsheet-safe CSV cells: formulas are quoted on the way out and restored on the way back in."""

from __future__ import annotations

import pytest

from c5desk.csvcells import plain_cell, safe_cell, safe_row


@pytest.mark.parametrize(
    "text", ["=cmd|' /C calc'!A0", "+SUM(1+1)", '@HYPERLINK("http://x")', "-2+3", "\t=1", "\r=1"]
)
def test_formulas_are_quoted_and_come_back_unchanged(text: str) -> None:
    written = safe_cell(text)
    assert written == "'" + text
    assert plain_cell(written) == text


@pytest.mark.parametrize("value", ["plain note", "", "-1.5", "+3", "1e-3", 0.25, -4, None, "'quoted already"])
def test_numbers_and_plain_text_are_left_alone(value: object) -> None:
    assert safe_cell(value) == value
    if isinstance(value, str):
        assert plain_cell(value) == value


def test_a_row_is_made_safe_cell_by_cell() -> None:
    assert safe_row({"note": "=1+1", "p": 0.5}) == {"note": "'=1+1", "p": 0.5}
