"""identity links between customer numbers sharing a national ID; snapshot restatements

Revision ID: 0024_identity_checks
Revises: 0023_personal_data_minimised
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0024_identity_checks"
down_revision: str | None = "0023_personal_data_minimised"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = doorstep.store.types.UTCDateTime(timezone=True)
JSON = doorstep.store.types.JSONDocument


def _loan(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["loan_id"], ["loans.loan_id"], name=f"fk_{table}_loan_id_loans", ondelete="CASCADE"
    )


def _import_batch(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["import_batch_id"],
        ["import_batches.id"],
        name=f"fk_{table}_import_batch_id_import_batches",
    )


def upgrade() -> None:
    op.create_table(
        "identity_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("other_customer_id", sa.String(length=64), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.Column("file", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("found_at", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            "customer_id < other_customer_id", name="ck_identity_links_ordered_pair"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name="fk_identity_links_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_customer_id"],
            ["customers.customer_id"],
            name="fk_identity_links_other_customer_id_customers",
            ondelete="CASCADE",
        ),
        _import_batch("identity_links"),
        sa.PrimaryKeyConstraint("id", name="pk_identity_links"),
        sa.UniqueConstraint(
            "customer_id", "other_customer_id", name="uq_identity_links_customer_id"
        ),
    )
    op.create_index("ix_identity_links_other_customer_id", "identity_links", ["other_customer_id"])
    op.create_table(
        "restatements_due",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("from_day", sa.Date(), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        _loan("restatements_due"),
        _import_batch("restatements_due"),
        sa.PrimaryKeyConstraint("id", name="pk_restatements_due"),
    )
    op.create_table(
        "snapshot_restatements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_as_of", sa.Date(), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("before", JSON, nullable=False),
        sa.Column("after", JSON, nullable=False),
        sa.Column("changed_from", sa.Date(), nullable=False),
        sa.Column("import_batches", JSON, nullable=False),
        sa.Column("restated_at", UTC_TIME, nullable=False),
        _loan("snapshot_restatements"),
        sa.PrimaryKeyConstraint("id", name="pk_snapshot_restatements"),
    )
    op.create_index("ix_snapshot_restatements_run_as_of", "snapshot_restatements", ["run_as_of"])
    op.create_index(
        "ix_snapshot_restatements_loan_as_of", "snapshot_restatements", ["loan_id", "as_of"]
    )


def downgrade() -> None:
    op.drop_index("ix_snapshot_restatements_loan_as_of", table_name="snapshot_restatements")
    op.drop_index("ix_snapshot_restatements_run_as_of", table_name="snapshot_restatements")
    op.drop_table("snapshot_restatements")
    op.drop_table("restatements_due")
    op.drop_index("ix_identity_links_other_customer_id", table_name="identity_links")
    op.drop_table("identity_links")
