"""What the figure families share: the city filter, INSERT … SELECT, a local day's start."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from sqlalchemy import Connection, insert

Cities = Sequence[str] | None
"""The cities to count; None: all of them."""


def insert_from(connection: Connection, table: Any, columns: list[str], query: Any) -> int:
    """INSERT … SELECT; returns the rows written (SQLAlchemy keeps an INSERT's rowcount
    only when asked to: without it psycopg's -1 reached the batch's counts)."""
    statement = insert(table).from_select(columns, query)
    result = connection.execute(statement.execution_options(preserve_rowcount=True))
    return max(result.rowcount, 0)


def day_start(day: date, zone: tzinfo) -> datetime:
    """The UTC instant a business day starts in `zone`."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
