"""scale: a partition's customers are one range of an index

Revision ID: 0016_partition_customers
Revises: 0015_loan_partitions
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016_partition_customers"
down_revision: str | None = "0015_loan_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the scoring partition reads its customers' contacts, attempts and promises by them
    op.create_index("ix_loans_partition_slot_customer", "loans", ["partition_slot", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_loans_partition_slot_customer", table_name="loans")
