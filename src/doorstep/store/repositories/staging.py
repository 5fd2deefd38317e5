"""Set-based ingestion: stage a batch in a temporary table, then insert what is new,
update what changed (keeping the before and after of every change) and leave the rest.

Rows reach the stage through the driver's fastest path (executemany on SQLite, COPY on
PostgreSQL) in the storage text format of each column, never row by row through the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.types import Date, DateTime

from doorstep.store.types import ExactDecimal, UTCDateTime

LINE = "_line"
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%6f"


@dataclass
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    changes: list[tuple[str, dict[str, Any], dict[str, Any]]] | None = None


def create_stage(connection: Connection, target: Table, columns: Sequence[str]) -> Table:
    """A temporary table with `columns` typed as in `target`, plus the source line."""
    metadata = MetaData()
    stage = Table(
        f"stage_{target.name}",
        metadata,
        *(Column(name, target.c[name].type) for name in columns),
        Column(LINE, Integer),
        prefixes=["TEMPORARY"],
    )
    stage.drop(connection, checkfirst=True)
    stage.create(connection)
    return stage


def index_stage(connection: Connection, stage: Table, key: Sequence[str]) -> None:
    """Index the staged key once the rows are in: every upsert step joins on it, and
    without it SQLite checks each staged row against a full scan (quadratic)."""
    Index(f"ix_{stage.name}_key", *(stage.c[k] for k in key)).create(connection)


def _storage_frame(frame: pl.DataFrame, table: Table, dialect: str) -> pl.DataFrame:
    """Convert typed values to what the column stores (text for dates and decimals)."""
    conversions = []
    for name in frame.columns:
        column_type = table.c[name].type
        value = pl.col(name)
        if isinstance(column_type, UTCDateTime):
            fmt = SQLITE_DATETIME if dialect == "sqlite" else "%Y-%m-%dT%H:%M:%S.%6f+00:00"
            conversions.append(value.dt.convert_time_zone("UTC").dt.strftime(fmt))
        elif isinstance(column_type, Date | DateTime):
            conversions.append(value.dt.strftime("%Y-%m-%d"))
        elif isinstance(column_type, ExactDecimal):
            conversions.append(value.map_elements(_canonical_decimal, return_dtype=pl.Utf8))
        else:
            conversions.append(value)
    return frame.with_columns(conversions)


def _canonical_decimal(text: str) -> str:
    from decimal import Decimal

    return format(Decimal(text).normalize(), "f")


def bulk_insert(connection: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Append `frame` (columns named as in `table`) through the driver's bulk path."""
    if frame.height == 0:
        return
    dialect = connection.dialect.name
    frame = _storage_frame(frame, table, dialect)
    names = frame.columns
    raw = connection.connection.driver_connection
    if dialect == "postgresql":
        quoted = ", ".join(f'"{n}"' for n in names)
        with (
            raw.cursor() as cursor,  # type: ignore[union-attr]
            cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
        ):
            for row in frame.iter_rows():
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in names)
    quoted = ", ".join(f'"{n}"' for n in names)
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            f'INSERT INTO "{table.name}" ({quoted}) VALUES ({placeholders})', frame.iter_rows()
        )
    finally:
        cursor.close()


def lines_without_parent(
    connection: Connection,
    stage: Table,
    column: str,
    parents: Iterable[tuple[Table, str]],
) -> list[tuple[int, str]]:
    """(line, value) of staged rows whose `column` is found in none of the parents."""
    condition = and_(
        *(~exists().where(parent.c[key] == stage.c[column]) for parent, key in parents)
    )
    rows = connection.execute(
        select(stage.c[LINE], stage.c[column]).where(condition).order_by(stage.c[LINE])
    )
    return [(line, value) for line, value in rows]


def _same_key(target: Table, stage: Table, key: Sequence[str]) -> Any:
    return and_(*(target.c[k] == stage.c[k] for k in key))


def upsert_from_stage(
    connection: Connection,
    target: Table,
    stage: Table,
    *,
    key: Sequence[str],
    compare: Sequence[str],
    keep_when_null: Sequence[str] = (),
    constants: dict[str, Any] | None = None,
    now: datetime | None = None,
    insert_defaults: dict[str, Any] | None = None,
    carry: Sequence[str] = (),
) -> UpsertResult:
    """Insert new rows, update changed ones; `keep_when_null` columns keep the stored value
    when the batch has none. `constants` are fixed values of extra target columns. `carry`
    columns are written with a changed row but never compared (ciphertext: a fresh nonce
    makes equal values look different, so their keyed hash is compared instead)."""
    constants = constants or {}
    insert_defaults = insert_defaults or {}
    staged_names = [c.name for c in stage.columns if c.name != LINE]
    has_timestamps = "updated_at" in target.c and now is not None

    def incoming(name: str) -> Any:
        value = stage.c[name]
        return func.coalesce(value, target.c[name]) if name in keep_when_null else value

    differs = or_(
        *(
            and_(stage.c[name].is_not(None), stage.c[name].is_distinct_from(target.c[name]))
            if name in keep_when_null
            else stage.c[name].is_distinct_from(target.c[name])
            for name in compare
        )
    )
    changed_rows = (
        connection.execute(
            select(
                *(stage.c[k] for k in key),
                *(target.c[n].label(f"before_{n}") for n in compare),
                *(incoming(n).label(f"after_{n}") for n in compare),
            )
            .select_from(stage.join(target, _same_key(target, stage, key)))
            .where(differs)
        )
        .mappings()
        .all()
    )

    changes = []
    for row in changed_rows:
        before = {n: _jsonable(row[f"before_{n}"]) for n in compare}
        after = {n: _jsonable(row[f"after_{n}"]) for n in compare}
        diff = [n for n in compare if before[n] != after[n]]
        entity_key = "/".join(str(row[k]) for k in key)
        changes.append((entity_key, {n: before[n] for n in diff}, {n: after[n] for n in diff}))

    if changed_rows:
        values = {name: incoming(name) for name in (*compare, *carry)}
        if has_timestamps:
            values["updated_at"] = now
        connection.execute(
            update(target).where(_same_key(target, stage, key)).where(differs).values(values)
        )

    selected = [
        *(
            func.coalesce(stage.c[n], literal(insert_defaults[n]))
            if n in insert_defaults
            else stage.c[n]
            for n in staged_names
        ),
        *(literal(v, target.c[n].type) for n, v in constants.items()),
        *(
            literal(v, target.c[n].type)
            for n, v in insert_defaults.items()
            if n not in staged_names
        ),
    ]
    insert_columns = [
        *staged_names,
        *constants,
        *(n for n in insert_defaults if n not in staged_names),
    ]
    if has_timestamps:
        insert_columns += ["created_at", "updated_at"]
        selected += [literal(now, target.c.created_at.type), literal(now, target.c.updated_at.type)]
    new_rows = select(*selected).where(~exists().where(_same_key(target, stage, key)))
    # Counted before the insert: psycopg reports no rowcount for INSERT ... SELECT.
    inserted = connection.execute(
        select(func.count()).select_from(new_rows.subquery())
    ).scalar_one()
    if inserted:
        connection.execute(insert(target).from_select(insert_columns, new_rows))
    staged = connection.execute(select(func.count()).select_from(stage)).scalar_one()
    return UpsertResult(
        inserted=inserted,
        updated=len(changed_rows),
        unchanged=staged - inserted - len(changed_rows),
        changes=changes,
    )


def delete_missing_children(
    connection: Connection, target: Table, stage: Table, *, parent: str, key: Sequence[str]
) -> int:
    """Delete target rows of the staged parents that the stage no longer has (a shorter
    schedule replaces a longer one)."""
    staged_parents = select(stage.c[parent]).distinct()
    still_there = exists().where(_same_key(target, stage, key))
    result = connection.execute(
        delete(target).where(target.c[parent].in_(staged_parents)).where(~still_there)
    )
    return result.rowcount


def new_or_changed_keys(
    connection: Connection, target: Table, stage: Table, *, key: str, compare: Sequence[str]
) -> list[Any]:
    """Staged keys that the target lacks or holds with different `compare` values."""
    joined = stage.outerjoin(target, target.c[key] == stage.c[key])
    differs = or_(
        target.c[key].is_(None), *(stage.c[n].is_distinct_from(target.c[n]) for n in compare)
    )
    return list(
        connection.execute(select(stage.c[key]).select_from(joined).where(differs)).scalars()
    )


def fetch_by_keys(
    connection: Connection, table: Table, key: str, values: Sequence[Any], columns: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows of `table` whose `key` is in `values`, read in chunks that every driver accepts."""
    rows: list[dict[str, Any]] = []
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        statement = select(*(table.c[c] for c in columns)).where(table.c[key].in_(chunk))
        rows.extend(dict(row) for row in connection.execute(statement).mappings())
    return rows


def drop_stage(connection: Connection, stage: Table) -> None:
    stage.drop(connection, checkfirst=True)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | dict | list):
        return value
    return str(value)
