"""Cells that a spreadsheet opens as text, never as a formula (OWASP "CSV injection").

A lender's file, a note or a name may start with `=`, `+`, `-`, `@`, a tab or a carriage
return: Excel, LibreOffice and Sheets run such a cell as a formula (`=HYPERLINK(...)`,
`=cmd|...`). Every CSV and XLSX doorstep writes passes its text through `safe_cell`, which
puts a single quote in front of such text; a plain number written as text ("-12.50") is
left alone, since it cannot be a formula and the quote would spoil it."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_text(text: str) -> str:
    if text.startswith(FORMULA_LEADS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_cell(value: Any) -> Any:
    """`value` as written to a spreadsheet: text neutralised, anything else as it is."""
    return safe_text(value) if isinstance(value, str) else value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


class SafeWriter:
    """`csv.writer` whose rows are neutralised cell by cell."""

    def __init__(self, out: IO[str], **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, values: Iterable[Any]) -> None:
        self._writer.writerow(safe_row(values))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
