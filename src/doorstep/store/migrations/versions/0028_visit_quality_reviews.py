"""visit quality reviews: an auditor's checklist for each sampled visit

Revision ID: 0028_visit_quality_reviews
Revises: 0026_contacts_holds
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0028_visit_quality_reviews"
down_revision: str | None = "0026_contacts_holds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_quality_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("answers", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("notes", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("reviewed_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_visit_quality_reviews_visit_id_visits")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_visit_quality_reviews_reviewer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_quality_reviews")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_visit_quality_reviews_visit_id")),
    )


def downgrade() -> None:
    op.drop_table("visit_quality_reviews")
