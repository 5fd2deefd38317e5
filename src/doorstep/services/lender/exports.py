"""Whole tables for analysts' own tools (Parquet or CSV), without personal data.

Only the tables listed here can be exported, and personal data never leaves: ciphertext,
lookup hashes, names, employers, free-text notes and the borrower's positions are left
out (the masked forms stay). Amounts stay integer fen, as stored; CSV text that a
spreadsheet would run as a formula is quoted (`integrations.spreadsheet`). Rows are read and
written in chunks, so a table of millions of rows never sits in memory at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Boolean, Column, Date, Float, Integer
from sqlalchemy.orm import Session

from doorstep.domain.errors import InvalidValue
from doorstep.integrations.spreadsheet import safe_cell
from doorstep.store.repositories import exports as repo
from doorstep.store.types import UTCDateTime

EXPORTABLE: dict[str, frozenset[str]] = {
    # table -> columns left out
    "loans": frozenset({"extra"}),
    "installments": frozenset(),
    "payments": frozenset({"extra"}),
    "delinquency_snapshots": frozenset(),
    "customers": frozenset({"name", "id_number", "id_number_hash", "employer", "extra"}),
    "cases": frozenset(),
    "contact_attempts": frozenset({"note", "override_reason"}),
    "visit_plans": frozenset({"settings"}),
    "plan_stops": frozenset(),
    "visits": frozenset({"position", "out_position", "interview"}),
    "verdicts": frozenset({"override_reason", "advice"}),
    "promises_to_pay": frozenset(),
    "batch_runs": frozenset(),
    "batch_steps": frozenset({"error"}),
}
CHUNK_ROWS = 100_000


def exportable_columns(name: str) -> list[str]:
    if name not in EXPORTABLE:
        raise InvalidValue(
            f"table {name!r} cannot be exported; choose one of: {', '.join(sorted(EXPORTABLE))}",
            message_zh=f"表 {name} 不可导出；可选：{'、'.join(sorted(EXPORTABLE))}",
        )
    return [c.name for c in repo.table(name).columns if c.name not in EXPORTABLE[name]]


def _arrow_type(column: Column[Any]) -> pa.DataType:
    """The Parquet type of a stored column: exact types stay exact (rates as text)."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, Integer):  # BigInteger too
        return pa.int64()
    if isinstance(kind, Float):
        return pa.float64()
    if isinstance(kind, Date):
        return pa.date32()
    return pa.string()  # text, JSON documents, exact decimals


def _cell(value: Any, kind: pa.DataType) -> Any:
    if value is None or kind != pa.string() or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _csv_cell(value: Any, kind: pa.DataType) -> Any:
    """A text cell of a CSV file: never a formula when a spreadsheet opens it."""
    return safe_cell(_cell(value, kind))


def export_table(
    session: Session,
    name: str,
    target: Path,
    *,
    file_format: str = "parquet",
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Write table `name` to `target`; returns the number of rows written."""
    columns = exportable_columns(name)
    if file_format not in {"parquet", "csv"}:
        raise InvalidValue(
            f"format {file_format!r}: use parquet or csv", message_zh="格式只能是 parquet 或 csv"
        )
    table = repo.table(name)
    schema = pa.schema([(c, _arrow_type(table.c[c])) for c in columns])
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")  # a crash leaves no half file
    rows = 0
    cell = _cell if file_format == "parquet" else _csv_cell
    chunks = repo.table_chunks(session, name, columns, chunk_rows=CHUNK_ROWS)
    try:
        with partial.open("wb") as handle:
            writer: pq.ParquetWriter | pa_csv.CSVWriter = (
                pq.ParquetWriter(handle, schema)
                if file_format == "parquet"
                else pa_csv.CSVWriter(handle, schema)
            )
            for chunk in chunks:
                arrays = [
                    pa.array([cell(row[i], f.type) for row in chunk], type=f.type)
                    for i, f in enumerate(schema)
                ]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                rows += len(chunk)
                if progress:
                    progress(name, rows, rows)
            writer.close()
        partial.replace(target)
    finally:
        chunks.close()  # the database cursor, when the file failed half-way
        partial.unlink(missing_ok=True)
    return rows
