"""scale: installments and payments carry their loan's partition slot

Revision ID: 0017_child_partition_slots
Revises: 0016_partition_customers
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_child_partition_slots"
down_revision: str | None = "0016_partition_customers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("installments", "payments")


def upgrade() -> None:
    # A partition's installments and payments become one range of an index (and, as the
    # ingest loads them in slot order, of the table) instead of probes by loan id spread
    # over tables bigger than memory.
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    for table in TABLES:
        # SQLite adds a NOT NULL column only with a default; every row gets a real one below
        op.add_column(
            table,
            sa.Column(
                "partition_slot",
                sa.SmallInteger(),
                nullable=not sqlite,
                server_default="-1" if sqlite else None,
            ),
        )
        op.execute(
            f"UPDATE {table} SET partition_slot = "
            f"(SELECT loans.partition_slot FROM loans WHERE loans.loan_id = {table}.loan_id)"
            if sqlite
            else f"UPDATE {table} SET partition_slot = loans.partition_slot FROM loans "
            f"WHERE loans.loan_id = {table}.loan_id"
        )
        if not sqlite:
            op.alter_column(table, "partition_slot", nullable=False)
        op.create_index(f"ix_{table}_partition_slot", table, ["partition_slot", "loan_id"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_partition_slot", table_name=table)
        op.drop_column(table, "partition_slot")  # SQLite 3.35+ drops a column in place
