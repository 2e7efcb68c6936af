"""CSV written for spreadsheets: every export goes through `csv_lines`, which neutralises formula-looking cells.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula by Excel, LibreOffice and
Google Sheets, so a customer's WhatsApp profile name `=HYPERLINK("https://…")` would become a live link (or worse)
in a marketer's spreadsheet (OWASP "CSV injection"). Such cells are written with a leading apostrophe, which the
spreadsheets show as text. Plain numbers are left alone: a phone number in E.164 (`+447700900001`) or a negative
amount cannot hold a formula, and an apostrophe in front of every phone number would spoil the export for any other
program. Our own imports read the apostrophe back off (`cell_unguard`), so an export imports as it was.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?\Z")


def cell_guard(value: Any) -> str:
    """The cell's text, an apostrophe in front when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(text):
        return GUARD + text
    return text


def cell_unguard(text: str) -> str:
    """Undo `cell_guard` on a cell read back from one of our exports."""
    if text.startswith(GUARD) and text[1:2] and text[1] in FORMULA_STARTS:
        return text[1:]
    return text


class _Echo:
    """A write-only file for csv.writer that hands back each line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The rows as CSV text, one line at a time (for a streaming response: memory stays flat), cells guarded."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([cell_guard(value) for value in row])
