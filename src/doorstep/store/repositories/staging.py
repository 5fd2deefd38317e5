"""Set-based ingestion: stage a batch in a temporary table, then insert what is new,
update what changed (keeping the before and after of every change) and leave the rest.

Rows reach the stage through the driver's fastest path (executemany on SQLite; on
PostgreSQL COPY of CSV that polars writes in large chunks) in the storage text format of
each column, never row by row through the ORM or Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

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
    text,
    update,
)
from sqlalchemy.types import Date, DateTime

from doorstep.store.models.ingest import IngestChange
from doorstep.store.types import ExactDecimal, UTCDateTime

LINE = "_line"
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%6f"
COPY_CHUNK_ROWS = 100_000
"""Rows per CSV chunk sent to COPY: large enough to cost little per chunk, small enough
that a book of millions of rows is never held as one text in memory."""
ANALYSED_STAGE_ROWS = 100_000
"""From this many staged rows, PostgreSQL plans the upsert with the stage's statistics
(see `index_stage`)."""
BULK_INSERT_ROWS = 100_000
"""From this many new rows (and a share of the table), PostgreSQL checks the target's
foreign keys and builds its indexes once after the insert instead of row by row (see
`_in_bulk`)."""


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


def index_stage(connection: Connection, stage: Table, key: Sequence[str], rows: int) -> None:
    """Prepare the stage of `rows` rows for the joins of the upsert, once the rows are in.
    SQLite, and PostgreSQL for a small batch, get an index on the staged key: without
    it SQLite checks each staged row against a full scan (quadratic), and PostgreSQL
    probes the target's key row by row. A big batch on PostgreSQL gets statistics
    instead, which a temporary table lacks until analysed: with them it hashes or merges
    stage and target (a trimmed schedule found in seconds instead of minutes)."""
    if connection.dialect.name == "postgresql" and rows >= ANALYSED_STAGE_ROWS:
        connection.execute(text(f'ANALYZE "{stage.name}"'))
        return
    Index(f"ix_{stage.name}_key", *(stage.c[k] for k in key)).create(connection)


def _storage_frame(frame: pl.DataFrame, table: Table, dialect: str) -> pl.DataFrame:
    """Convert typed values to what the column stores (text for dates and decimals)."""
    conversions: list[pl.Expr | pl.Series] = []
    for name in frame.columns:
        column_type = table.c[name].type
        value = pl.col(name)
        if isinstance(column_type, UTCDateTime):
            fmt = SQLITE_DATETIME if dialect == "sqlite" else "%Y-%m-%dT%H:%M:%S.%6f+00:00"
            conversions.append(value.dt.convert_time_zone("UTC").dt.strftime(fmt))
        elif isinstance(column_type, Date | DateTime):
            conversions.append(value.dt.strftime("%Y-%m-%d"))
        elif isinstance(column_type, ExactDecimal):
            conversions.append(_canonical_decimals(frame[name]))
        else:
            conversions.append(value)
    return frame.with_columns(conversions)


def _canonical_decimals(values: pl.Series) -> pl.Series:
    """The canonical text of each decimal, worked out once per distinct value (a book
    has a handful of rates over millions of rows)."""
    distinct = values.drop_nulls().unique()
    canonical = pl.Series([_canonical_decimal(v) for v in distinct.to_list()], dtype=pl.Utf8)
    return values.replace_strict(distinct, canonical, default=None, return_dtype=pl.Utf8)


def _canonical_decimal(value: str) -> str:
    from decimal import Decimal

    return format(Decimal(value).normalize(), "f")


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
            cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN WITH (FORMAT csv)') as copy,
        ):
            for chunk in _csv_chunks(frame):
                copy.write(chunk)
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


def _csv_chunks(frame: pl.DataFrame) -> Iterator[str]:
    """The frame as CSV in COPY's reading: a null is an unquoted empty field, every text
    is quoted (an empty text stays empty, and a lone `\\.` is not read as end of data)."""
    for chunk in frame.iter_slices(COPY_CHUNK_ROWS):
        yield chunk.write_csv(include_header=False, quote_style="non_numeric")


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


@dataclass(frozen=True)
class _Upsert:
    """One stage-to-target upsert: which columns are compared, kept, carried, defaulted."""

    target: Table
    stage: Table
    key: Sequence[str]
    compare: Sequence[str]
    keep_when_null: Sequence[str]
    constants: dict[str, Any]
    insert_defaults: dict[str, Any]
    carry: Sequence[str]
    now: datetime | None

    @property
    def has_timestamps(self) -> bool:
        return "updated_at" in self.target.c and self.now is not None

    def incoming(self, name: str) -> Any:
        value = self.stage.c[name]
        if name in self.keep_when_null:
            return func.coalesce(value, self.target.c[name])
        return value

    def differs(self) -> Any:
        stage, target = self.stage, self.target
        return or_(
            *(
                and_(stage.c[name].is_not(None), stage.c[name].is_distinct_from(target.c[name]))
                if name in self.keep_when_null
                else stage.c[name].is_distinct_from(target.c[name])
                for name in self.compare
            )
        )

    def same_key(self) -> Any:
        return _same_key(self.target, self.stage, self.key)


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
    plan = _Upsert(
        target, stage, key, compare, keep_when_null, constants or {}, insert_defaults or {},
        carry, now,
    )  # fmt: skip
    changes = _update_changed(connection, plan)
    inserted = _insert_new(connection, plan)
    staged = connection.execute(select(func.count()).select_from(stage)).scalar_one()
    return UpsertResult(
        inserted=inserted,
        updated=len(changes),
        unchanged=staged - inserted - len(changes),
        changes=changes,
    )


def _update_changed(
    connection: Connection, plan: _Upsert
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Update the stored rows the stage changes; their (key, before, after) of what changed."""
    stage, target, compare = plan.stage, plan.target, plan.compare
    changed_rows = (
        connection.execute(
            select(
                *(stage.c[k] for k in plan.key),
                *(target.c[n].label(f"before_{n}") for n in compare),
                *(plan.incoming(n).label(f"after_{n}") for n in compare),
            )
            .select_from(stage.join(target, plan.same_key()))
            .where(plan.differs())
        )
        .mappings()
        .all()
    )
    changes = []
    for row in changed_rows:
        before = {n: _jsonable(row[f"before_{n}"]) for n in compare}
        after = {n: _jsonable(row[f"after_{n}"]) for n in compare}
        diff = [n for n in compare if before[n] != after[n]]
        entity_key = "/".join(str(row[k]) for k in plan.key)
        changes.append((entity_key, {n: before[n] for n in diff}, {n: after[n] for n in diff}))
    if changed_rows:
        values = {name: plan.incoming(name) for name in (*compare, *plan.carry)}
        if plan.has_timestamps:
            values["updated_at"] = plan.now
        connection.execute(
            update(target).where(plan.same_key()).where(plan.differs()).values(values)
        )
    return changes


def _insert_new(connection: Connection, plan: _Upsert) -> int:
    """Insert the staged rows whose key is not stored yet; how many."""
    target, stage, defaults = plan.target, plan.stage, plan.insert_defaults
    staged_names = [c.name for c in stage.columns if c.name != LINE]
    selected = [
        *(
            func.coalesce(stage.c[n], literal(defaults[n])) if n in defaults else stage.c[n]
            for n in staged_names
        ),
        *(literal(v, target.c[n].type) for n, v in plan.constants.items()),
        *(literal(v, target.c[n].type) for n, v in defaults.items() if n not in staged_names),
    ]
    insert_columns = [
        *staged_names,
        *plan.constants,
        *(n for n in defaults if n not in staged_names),
    ]
    if plan.has_timestamps:
        insert_columns += ["created_at", "updated_at"]
        selected += [
            literal(plan.now, target.c.created_at.type),
            literal(plan.now, target.c.updated_at.type),
        ]
    new_rows = select(*selected).where(~exists().where(plan.same_key()))
    # Counted before the insert: psycopg reports no rowcount for INSERT ... SELECT.
    inserted: int = connection.execute(
        select(func.count()).select_from(new_rows.subquery())
    ).scalar_one()
    if inserted:
        with _in_bulk(connection, target, inserted):
            connection.execute(insert(target).from_select(insert_columns, new_rows))
    return inserted


def is_empty(connection: Connection, table: Table) -> bool:
    """Whether `table` holds no row."""
    return not connection.execute(select(exists().select_from(table))).scalar_one()


def copies_straight(connection: Connection, target: Table) -> bool:
    """Whether a batch can be copied straight into `target`, without a stage to compare
    it with: on PostgreSQL, while the table is empty (every row is new, as in a first
    load). SQLite always goes through the stage."""
    return connection.dialect.name == "postgresql" and is_empty(connection, target)


def insert_all(
    connection: Connection,
    target: Table,
    frame: pl.DataFrame,
    *,
    now: datetime | None = None,
    insert_defaults: dict[str, Any] | None = None,
) -> UpsertResult:
    """Every row of `frame` into `target` as new, with the values `upsert_from_stage`
    would insert: `insert_defaults` for blanks, `now` as created and updated time."""
    defaults = insert_defaults or {}
    rows = frame.drop(LINE, strict=False).with_columns(
        pl.col(n).fill_null(v) if n in frame.columns else pl.lit(v).alias(n)
        for n, v in defaults.items()
    )
    if "updated_at" in target.c and now is not None:
        rows = rows.with_columns(pl.lit(now).alias("created_at"), pl.lit(now).alias("updated_at"))
    with _in_bulk(connection, target, rows.height):
        bulk_insert(connection, target, rows)
    return UpsertResult(inserted=rows.height, changes=[])


@contextmanager
def _in_bulk(connection: Connection, target: Table, rows: int) -> Iterator[None]:
    """Around an insert of `rows` new rows: on PostgreSQL, when that is a big share of the
    table, drop what makes each inserted row expensive and put it back afterwards, as the
    catalog defines it. A foreign key checks each row with a query of its own; added back
    it checks the whole table in one join. An index takes each row as one WAL-logged
    insertion; built again it sorts the table once. The target, and the tables its
    dropped foreign keys point to, stay locked (ACCESS EXCLUSIVE) until the transaction
    ends, so no one sees them without their keys; a failed insert rolls the drops back."""
    steps = _bulk_steps(connection, target, rows)
    for drop, _ in steps:
        connection.execute(text(drop))
    yield
    for _, create in reversed(steps):
        connection.execute(text(create))
    if steps:  # statistics for the plans of the next batches, which join with the stage
        table = connection.dialect.identifier_preparer.format_table(target)
        connection.execute(text(f"ANALYZE {table}"))


def _bulk_steps(connection: Connection, target: Table, rows: int) -> list[tuple[str, str]]:
    """(drop, create) statements of the foreign keys, then the keys and indexes, that are
    cheaper to rebuild than to maintain row by row for this insert."""
    if connection.dialect.name != "postgresql" or rows < BULK_INSERT_ROWS:
        return []
    table = connection.dialect.identifier_preparer.format_table(target)
    [(stored, owned)] = _catalog(connection, ESTIMATED_ROWS, table)
    if not owned:  # only the table's owner may drop and add its keys: row by row then
        return []
    stored = max(0.0, stored)  # -1 when never analysed (index builds count the rows too)
    steps = []
    if rows * 10 >= stored:  # one trigger query per row costs ~25 times a row of the join
        steps += _alter(connection, table, FOREIGN_KEYS)
    if rows * 2 >= stored:  # maintaining an index costs ~3 times a row of rebuilding it
        steps += _alter(connection, table, UNREFERENCED_KEYS)
        steps += [
            (f"DROP INDEX {name}", definition)
            for name, definition in _catalog(connection, PLAIN_INDEXES, table)
        ]
    return steps


def _alter(connection: Connection, table: str, query: str) -> list[tuple[str, str]]:
    quote = connection.dialect.identifier_preparer.quote
    return [
        (
            f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}",
            f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}",
        )
        for name, definition in _catalog(connection, query, table)
    ]


def _catalog(connection: Connection, query: str, table: str) -> list[Any]:
    return list(connection.execute(text(query), {"table": table}))


ESTIMATED_ROWS = """
SELECT reltuples, pg_has_role(relowner, 'USAGE') FROM pg_class
WHERE oid = CAST(:table AS regclass)"""
FOREIGN_KEYS = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = CAST(:table AS regclass) AND contype = 'f' ORDER BY conname"""
UNREFERENCED_KEYS = """
SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
JOIN pg_class i ON i.oid = c.conindid
WHERE c.conrelid = CAST(:table AS regclass) AND c.contype IN ('p', 'u')
  AND i.reltablespace = 0
  AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)
ORDER BY c.conname"""
"""Primary and unique keys no foreign key leans on (those must stay while others point at
them), in the default tablespace (their definition does not say another one)."""
PLAIN_INDEXES = """
SELECT CAST(CAST(x.indexrelid AS regclass) AS text), pg_get_indexdef(x.indexrelid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = CAST(:table AS regclass) AND i.reltablespace = 0
  AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = x.indexrelid)
ORDER BY 1"""
"""Indexes that back no constraint, in the default tablespace."""


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


def record_changes(connection: Connection, batch_id: int, changes: Sequence[IngestChange]) -> None:
    """The before/after of every row the import batch changed, in one statement."""
    if not changes:
        return
    connection.execute(
        insert(cast(Table, IngestChange.__table__)),
        [
            {
                "batch_id": batch_id,
                "entity": c.entity,
                "entity_key": c.entity_key,
                "before": c.before,
                "after": c.after,
            }
            for c in changes
        ],
    )
