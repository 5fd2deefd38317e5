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

# table -> what deleting its loan does (as 0001 made the foreign key)
TABLES = {"installments": "CASCADE", "payments": None}


def _foreign_key(table: str, columns: list[str], *, on_update: str | None) -> dict[str, object]:
    return {
        "constraint_name": f"fk_{table}_loan_id_loans",
        "referent_table": "loans",
        "local_cols": columns,
        "remote_cols": columns,
        "ondelete": TABLES[table],
        "onupdate": on_update,
    }


def upgrade() -> None:
    # A partition's installments and payments become one range of an index (and, as the
    # ingest loads them in slot order, of the table) instead of probes by loan id spread
    # over tables bigger than memory. The foreign key becomes (loan_id, partition_slot),
    # ON UPDATE CASCADE: a child's slot cannot differ from its loan's, and follows it.
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    op.drop_index("ix_loans_partition_slot", table_name="loans")
    op.create_index("ix_loans_partition_slot", "loans", ["partition_slot", "loan_id"], unique=True)
    slot = ["loan_id", "partition_slot"]
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
        with op.batch_alter_table(table) as batch:  # SQLite rebuilds the table for its keys
            batch.drop_constraint(f"fk_{table}_loan_id_loans", type_="foreignkey")
            batch.create_foreign_key(**_foreign_key(table, slot, on_update="CASCADE"))  # type: ignore[arg-type]
        op.create_index(f"ix_{table}_partition_slot", table, ["partition_slot", "loan_id"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_partition_slot", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_loan_id_loans", type_="foreignkey")
            batch.create_foreign_key(**_foreign_key(table, ["loan_id"], on_update=None))  # type: ignore[arg-type]
            batch.drop_column("partition_slot")
    op.drop_index("ix_loans_partition_slot", table_name="loans")
    op.create_index("ix_loans_partition_slot", "loans", ["partition_slot", "loan_id"])
