"""Reading whole tables for the analysts' exports, in chunks."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from sqlalchemy import Row, Table, select
from sqlalchemy.orm import Session

from doorstep.store.models import Base


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def table_chunks(
    session: Session, name: str, columns: Sequence[str], *, chunk_rows: int
) -> Generator[Sequence[Row[Any]], None, None]:
    """The table's `columns` in primary-key order, `chunk_rows` rows at a time, streamed
    from the database (a server-side cursor where the driver has one), so a table of
    millions of rows never sits in memory at once."""
    source = table(name)
    query = select(*(source.c[c] for c in columns)).order_by(*source.primary_key.columns)
    result = session.connection().execution_options(stream_results=True).execute(query)
    try:
        while chunk := result.fetchmany(chunk_rows):
            yield chunk
    finally:
        result.close()
