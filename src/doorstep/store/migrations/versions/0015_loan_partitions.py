"""scale: a stable partition number per loan, stored at ingest

Revision ID: 0015_loan_partitions
Revises: 0014_field_figures
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_loan_partitions"
down_revision: str | None = "0014_field_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration must not change when the application does): the slot of a
# loan is CRC32 of its customer's id modulo 1024, as `doorstep.store.models.loan` says.
SLOTS = 1024
CHUNK = 50_000


def _slot(customer_id: str) -> int:
    return zlib.crc32(customer_id.encode("utf-8")) % SLOTS


def _backfill(bind: sa.Connection) -> None:
    """Every existing loan's slot, computed once per customer: the slots go into a
    temporary table, then one UPDATE joins them in (no statement per loan)."""
    slots = sa.table(
        "customer_slots", sa.column("customer_id", sa.String), sa.column("slot", sa.SmallInteger)
    )
    bind.execute(
        sa.text(
            "CREATE TEMPORARY TABLE customer_slots "
            "(customer_id VARCHAR(64) PRIMARY KEY, slot SMALLINT NOT NULL)"
        )
    )
    customers = bind.execute(sa.text("SELECT DISTINCT customer_id FROM loans")).scalars().all()
    for start in range(0, len(customers), CHUNK):
        bind.execute(
            sa.insert(slots),
            [{"customer_id": c, "slot": _slot(c)} for c in customers[start : start + CHUNK]],
        )
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("ANALYZE customer_slots"))
    bind.execute(
        sa.text(
            "UPDATE loans SET partition_slot = customer_slots.slot FROM customer_slots "
            "WHERE customer_slots.customer_id = loans.customer_id"
        )
    )
    bind.execute(sa.text("DROP TABLE customer_slots"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # SQLite adds a NOT NULL column only with a default, and rebuilding `loans` to drop
        # it would cascade-delete every installment: an impossible slot as the default,
        # and a trigger that refuses any loan left with it
        op.add_column(
            "loans",
            sa.Column("partition_slot", sa.SmallInteger(), nullable=False, server_default="-1"),
        )
        _backfill(bind)
        for event in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER loans_partition_slot_{event.lower()} BEFORE {event} ON loans "
                "WHEN NEW.partition_slot NOT BETWEEN 0 AND 1023 "
                "BEGIN SELECT RAISE(ABORT, 'loans.partition_slot: not a slot'); END"
            )
    else:
        op.add_column("loans", sa.Column("partition_slot", sa.SmallInteger(), nullable=True))
        _backfill(bind)
        op.alter_column("loans", "partition_slot", nullable=False)
    op.create_index("ix_loans_partition_slot", "loans", ["partition_slot", "loan_id"])


def downgrade() -> None:
    op.drop_index("ix_loans_partition_slot", table_name="loans")
    if op.get_bind().dialect.name == "sqlite":
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER loans_partition_slot_{event}")
    op.drop_column("loans", "partition_slot")  # SQLite 3.35+ drops a column in place
