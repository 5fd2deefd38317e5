"""personal data minimised: birth year only, sealed positions, texts and change log

Revision ID: 0023_personal_data_minimised
Revises: 0022_restructuring

A copy of the database must give back no national ID, phone, address, position or
interview. The birth date (digits 7-14 of the ID, which the masked form hides) becomes
the birth year; positions, free texts about a person and the ingest change log become
ciphertext under the personal-data cipher, which `store.migrate.upgrade(keys=...)` hands
in: a database holding such values cannot be migrated without the keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0023_personal_data_minimised"
down_revision: str | None = "0022_restructuring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSITIONS = {
    # table -> (new sealed column, (old latitude, old longitude))
    "contact_points": [("position", ("lat", "lng"))],
    "visits": [("position", ("lat", "lng")), ("out_position", ("out_lat", "out_lng"))],
    "visit_evidence": [("exif_position", ("exif_lat", "exif_lng"))],
    "alerts": [("position", ("lat", "lng"))],
}
TEXTS = {"contact_attempts": ["note", "override_reason"], "borrower_messages": ["statement"]}
DOCUMENTS = {"visits": ["interview"], "ingest_changes": ["before", "after"]}
CHUNK = 2000


def _keys() -> tuple[Any, Any]:
    keys = context.config.attributes.get("keys")
    return keys if keys is not None else (None, None)


def _cipher() -> Any:
    cipher = _keys()[0]
    if cipher is None:
        raise RuntimeError(
            "this database holds personal data to encrypt (or decrypt): migrate it with "
            "the keys, e.g. `doorstep db upgrade`, not with a bare schema migration"
        )
    return cipher


def _rewrite(
    table: str, reads: list[str], writes: list[str], change: Callable[[Any], Sequence[Any]]
) -> None:
    """Every row with a value in `reads`: `writes` set to `change(row)`, a chunk of rows
    at a time in id order."""
    bind = op.get_bind()
    present = " OR ".join(f"{c} IS NOT NULL" for c in reads)
    select = sa.text(
        f"SELECT id, {', '.join(reads)} FROM {table} WHERE id > :last AND ({present}) "
        f"ORDER BY id LIMIT {CHUNK}"
    )
    setting = ", ".join(f"{c} = :{c}" for c in writes)
    update = sa.text(f"UPDATE {table} SET {setting} WHERE id = :row_id")
    last = -1
    while chunk := bind.execute(select, {"last": last}).all():
        values = [{"row_id": r[0], **dict(zip(writes, change(r), strict=True))} for r in chunk]
        bind.execute(update, values)
        last = chunk[-1][0]


def _position(cipher: Any, lat: Any, lng: Any) -> str | None:
    if lat is None or lng is None:
        return None
    return str(cipher.encrypt(f"{float(lat)!r},{float(lng)!r}"))


def _sealed(cipher: Any, value: Any) -> str | None:
    if value is None:
        return None
    return str(cipher.encrypt(value if isinstance(value, str) else json.dumps(value)))


def _each(change: Callable[[Any, Any], Any], cipher: Any) -> Callable[[Any], list[Any]]:
    """A row's values after the key, each changed by `change(cipher, value)`."""

    def changed(row: Any) -> list[Any]:
        return [change(cipher, value) for value in row[1:]]

    return changed


def _has_rows(table: str, columns: list[str]) -> bool:
    present = " OR ".join(f"{c} IS NOT NULL" for c in columns)
    found = op.get_bind().execute(sa.text(f"SELECT 1 FROM {table} WHERE {present} LIMIT 1"))
    return found.first() is not None


def _year_of(column: str) -> str:
    if op.get_bind().dialect.name == "sqlite":
        return f"CAST(strftime('%Y', {column}) AS INTEGER)"
    return f"CAST(EXTRACT(YEAR FROM {column}) AS INTEGER)"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _retype(table: str, column: str, kind: sa.types.TypeEngine[Any], cast: str) -> None:
    """Change a column's type in place. SQLite (3.35+) gets a new column, the values
    copied, the old one dropped and the new renamed: no rebuild of a table other tables
    point at (a rebuild with rows in them fails their foreign keys)."""
    if not _sqlite():
        op.alter_column(table, column, type_=kind, postgresql_using=f'"{column}"::{cast}')
        return
    required = table != "visits"  # the change log's before/after are NOT NULL
    default = sa.text("''") if required else None
    op.add_column(
        table,
        sa.Column(f"{column}_retyped", kind, nullable=not required, server_default=default),
    )
    op.execute(f'UPDATE {table} SET {column}_retyped = "{column}"')
    op.drop_column(table, column)
    op.execute(f'ALTER TABLE {table} RENAME COLUMN {column}_retyped TO "{column}"')


def _required(table: str, name: str, kind: sa.types.TypeEngine[Any], fill: str) -> None:
    """Add a NOT NULL column filled by the expression `fill`. SQLite adds NOT NULL only
    with a default (every row then gets its real value)."""
    sqlite = _sqlite()
    default = sa.text("0") if sqlite else None
    op.add_column(table, sa.Column(name, kind, nullable=not sqlite, server_default=default))
    op.execute(f"UPDATE {table} SET {name} = {fill}")
    if not sqlite:
        op.alter_column(table, name, nullable=False)


def _keys_needed_for(columns: dict[str, list[str]]) -> None:
    """Refuse before the first change when values must be converted and there are no
    keys (SQLite does not roll back a column it added)."""
    if any(_has_rows(table, names) for table, names in columns.items()):
        _cipher()


def upgrade() -> None:
    _keys_needed_for(
        {**TEXTS, **DOCUMENTS, **{t: [c for _, p in cs for c in p] for t, cs in POSITIONS.items()}}
    )
    _required("customers", "birth_year", sa.SmallInteger(), _year_of("birth_date"))
    op.drop_column("customers", "birth_date")
    _seal_positions()
    _seal_texts()
    _seal_documents()


def _seal_positions() -> None:
    for table, columns in POSITIONS.items():
        for new, _ in columns:
            op.add_column(table, sa.Column(new, sa.Text(), nullable=True))
        if table == "contact_points":
            op.add_column(table, sa.Column("position_hash", sa.String(64), nullable=True))
        old = [c for _, pair in columns for c in pair]
        if _has_rows(table, old):
            cipher, hasher = _cipher(), _keys()[1]
            new_columns = [new for new, _ in columns]

            def sealed(row: Any, cipher: Any = cipher, count: int = len(columns)) -> list[Any]:
                return [_position(cipher, row[1 + 2 * i], row[2 + 2 * i]) for i in range(count)]

            if table == "contact_points" and hasher is not None:

                def hashed(row: Any, hasher: Any = hasher, sealed: Any = sealed) -> list[Any]:
                    text = f"{float(row[1])!r},{float(row[2])!r}" if row[1] is not None else None
                    return [*sealed(row), None if text is None else hasher.digest(text)]

                _rewrite(table, old, [*new_columns, "position_hash"], hashed)
            else:
                _rewrite(table, old, new_columns, sealed)
        for column in old:
            op.drop_column(table, column)


def _seal_texts() -> None:
    for table, columns in TEXTS.items():
        if _has_rows(table, columns):
            _rewrite(table, columns, columns, _each(_sealed, _cipher()))


def _seal_documents() -> None:
    for table, columns in DOCUMENTS.items():
        for column in columns:
            _retype(table, column, sa.Text(), "text")
        if _has_rows(table, columns):
            _rewrite(table, columns, columns, _each(_sealed, _cipher()))


def downgrade() -> None:
    _keys_needed_for(
        {**TEXTS, **DOCUMENTS, **{t: [n for n, _ in cs] for t, cs in POSITIONS.items()}}
    )
    json_type = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
    for table, columns in DOCUMENTS.items():
        if _has_rows(table, columns):
            _rewrite(table, columns, columns, _each(_opened, _cipher()))
        for column in columns:
            _retype(table, column, json_type, "jsonb")
    for table, columns in TEXTS.items():
        if _has_rows(table, columns):
            _rewrite(table, columns, columns, _each(_opened, _cipher()))
    _open_positions()
    _birth_dates_back()


def _opened(cipher: Any, token: Any) -> str | None:
    return None if token is None else str(cipher.decrypt(token))


def _open_positions() -> None:
    for table, columns in POSITIONS.items():
        for _, pair in columns:
            for column in pair:
                op.add_column(table, sa.Column(column, sa.Float(), nullable=True))
        new = [n for n, _ in columns]
        if _has_rows(table, new):
            cipher = _cipher()

            def opened(row: Any, cipher: Any = cipher) -> list[Any]:
                out: list[Any] = []
                for token in row[1:]:
                    text = _opened(cipher, token)
                    out += [float(p) for p in text.split(",")] if text else [None, None]
                return out

            _rewrite(table, new, [c for _, pair in columns for c in pair], opened)
        for column in new:
            op.drop_column(table, column)
        if table == "contact_points":
            op.drop_column(table, "position_hash")


def _birth_dates_back() -> None:
    """The birth date from the ID (with the keys), else the first of January."""
    op.add_column("customers", sa.Column("birth_date", sa.Date(), nullable=True))
    bind = op.get_bind()
    cipher = _keys()[0]
    rows = bind.execute(sa.text("SELECT customer_id, id_number, birth_year FROM customers")).all()
    update = sa.text("UPDATE customers SET birth_date = :born WHERE customer_id = :key")
    for start in range(0, len(rows), CHUNK):
        chunk, values = rows[start : start + CHUNK], []
        for key, token, year in chunk:
            born = date(int(year), 1, 1)
            if cipher is not None:
                number = str(cipher.decrypt(token))
                born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            values.append({"key": key, "born": born})
        bind.execute(update, values)
    if not _sqlite():  # SQLite cannot make it NOT NULL in place: the models still require it
        op.alter_column("customers", "birth_date", nullable=False)
    op.drop_column("customers", "birth_year")
