"""Reading a CSV table record by record, so that one bad row costs only itself.

Python's csv reader over a whole file lets one unterminated quote swallow every row up to the next quote,
and one undecodable byte or one over-long field aborts the whole read. Here the file is read as physical
lines: each is decoded on its own (UTF-8, a leading BOM allowed); a record is parsed from its first line
(strict quoting) and continued over the next lines only while a quoted field is open (a note may hold line
breaks). A record that does not close cleanly -- an unterminated or stray quote, more cells than the
header, a line inside it that is itself a complete row, an over-long line or cell -- is reported with its
line number, and reading resumes on the line after its first: the rows it would have swallowed stay rows.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from c5desk.errors import StoreError

MAX_LINE_BYTES = 1 << 20  # a longer line is no table row (and must not be read into memory whole)
MAX_CELL_CHARS = 100_000  # below csv's own field limit (131072), so ours is the one reported
MAX_RECORD_LINES = 200  # a quoted cell running longer than this is taken as unterminated
_BOM = b"\xef\xbb\xbf"
_OPEN_QUOTE = "unexpected end of data"  # csv.Error of a strict reader at a quote still open


@dataclass(frozen=True)
class Record:
    """One data row: its first physical line (the header is line 1) and its cells, or why it is unusable."""

    line: int
    cells: list[str]
    problem: str | None = None


RowCheck = Callable[[dict[str, str]], bool]  # header name -> cell, of a line taken alone


def read_records(
    path: Path, max_rows: int, looks_like_row: RowCheck | None = None
) -> tuple[list[str], list[Record]]:
    """(header cells, records) of a CSV file; StoreError only when the header itself is unusable.

    looks_like_row(row) tells whether a line found inside a multi-line quoted cell is a complete row of
    its own (then the quote swallowed it and the record is refused).
    """
    with path.open("rb") as stream:
        lines = list(_physical_lines(stream))
    if not lines or isinstance(lines[0], _Bad) or not lines[0].strip():
        raise StoreError(f"{path.name}: the first line must be a header of column names (UTF-8 text)")
    header = _parse(lines[0:1])
    if isinstance(header, str):
        raise StoreError(f"{path.name} header: {header}")
    records: list[Record] = []
    index = 1
    while index < len(lines):
        record, used = _record(lines, index, header, looks_like_row)
        index += used
        if record is not None:
            records.append(record)
            if len(records) > max_rows:
                raise StoreError(f"{path.name} has more than {max_rows} rows")
    return header, records


class _Bad(str):
    """A physical line that could not be taken as text; its value is the reason."""


def _physical_lines(stream: BinaryIO) -> Iterator[str]:
    first = True
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if first and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        first = False
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # skip the rest of the over-long line without holding it
            yield _Bad(f"the line is longer than {MAX_LINE_BYTES} bytes")
            continue
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _Bad(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start + 1})")


def _record(
    lines: list[str], start: int, header: list[str], looks_like_row: RowCheck | None
) -> tuple[Record | None, int]:
    """The record starting at lines[start] and how many lines to move on (1 after a refused record)."""
    line, width = start + 1, len(header)
    if isinstance(lines[start], _Bad):
        return Record(line, [], lines[start]), 1
    if not lines[start].strip():
        return None, 1  # blank lines are no rows (as for csv.DictReader)
    end = start + 1
    while True:
        cells = _parse(lines[start:end])
        more = end < len(lines) and end - start < MAX_RECORD_LINES and not isinstance(lines[end], _Bad)
        if cells != _OPEN_QUOTE or not more:
            break
        end += 1
    problem = _shape_problem(cells, width) if isinstance(cells, list) else cells
    if end - start > 1:  # a quote ran over lines: one of them a row of its own means it was never closed
        problem = _swallowed(lines[start + 1 : end], line, header, looks_like_row) or problem
    if problem == _OPEN_QUOTE:
        problem = "a quote is opened and never closed"
    if problem is not None:
        return Record(line, [], problem), 1
    return Record(line, cells + [""] * (width - len(cells))), end - start


def _parse(lines: list[str]) -> list[str] | str:
    """The one record in `lines`, or why it cannot be read (_OPEN_QUOTE: a quote still open)."""
    try:
        rows = list(csv.reader(lines, strict=True))
    except csv.Error as exc:
        text = str(exc)
        if _OPEN_QUOTE in text:
            return _OPEN_QUOTE
        if "field larger than field limit" in text:
            return f"a cell is longer than {MAX_CELL_CHARS} characters"
        return f"badly quoted ({text})"
    return rows[0] if rows else []


def _shape_problem(cells: list[str], width: int) -> str | None:
    if len(cells) > width:
        return f"{len(cells)} cells but the header has {width} columns (a comma outside quotes?)"
    longest = max((len(cell) for cell in cells), default=0)
    if longest > MAX_CELL_CHARS:
        return f"a cell is {longest} characters long (at most {MAX_CELL_CHARS})"
    return None


def _swallowed(inner: list[str], line: int, header: list[str], looks_like_row: RowCheck | None) -> str | None:
    """A line inside a multi-line quoted cell that is a whole row itself: the quote was never closed."""
    for offset, text in enumerate(inner, start=1):
        cells = _parse([text])
        if not isinstance(cells, list) or len(cells) != len(header):
            continue
        if looks_like_row is None or looks_like_row(dict(zip(header, cells, strict=True))):
            return f"a quote opened here runs into line {line + offset}, a row of its own; close the quote"
    return None
