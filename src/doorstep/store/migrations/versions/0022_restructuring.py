"""restructuring: the agreement of an accepted repayment plan (PDF in zh_CN and en)

Revision ID: 0022_restructuring
Revises: 0021_reveal_controls
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0022_restructuring"
down_revision: str | None = "0021_reveal_controls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_agreements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("plan_key", sa.String(length=120), nullable=False),
        sa.Column("created_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("document_zh", sa.LargeBinary(), nullable=False),
        sa.Column("document_en", sa.LargeBinary(), nullable=False),
        sa.Column("sha256_zh", sa.String(length=64), nullable=False),
        sa.Column("sha256_en", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_plan_agreements_offer_id_offers")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_plan_agreements_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_plan_agreements_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_agreements")),
    )
    with op.batch_alter_table("plan_agreements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_agreements_offer_id"), ["offer_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_plan_agreements_customer_id"), ["customer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("plan_agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_agreements_customer_id"))
        batch_op.drop_index(batch_op.f("ix_plan_agreements_offer_id"))
    op.drop_table("plan_agreements")
