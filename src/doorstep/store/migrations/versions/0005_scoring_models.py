"""scoring models: the model registry, scores with reasons, daily drift

Revision ID: 0005_scoring_models
Revises: 0004_visit_plans
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0005_scoring_models"
down_revision: str | None = "0004_visit_plans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("features", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("metrics", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("card", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("trained_by", sa.String(length=64), nullable=False),
        sa.Column("trained_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("activated_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("purpose", "version", name="uq_model_versions_purpose_version"),
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_versions_purpose"), ["purpose"], unique=False)
        batch_op.create_index(
            "uq_model_versions_one_active",
            ["purpose"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "scores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("probability_bp", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reasons", doorstep.store.types.JSONDocument, nullable=False),
        sa.Column("scored_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_scores_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_scores_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_scores_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scores")),
        sa.UniqueConstraint("model_version_id", "as_of", "customer_id", name="uq_scores_model_day"),
    )
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scores_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_scores_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_scores_model_version_id"), ["model_version_id"], unique=False
        )
        batch_op.create_index("ix_scores_purpose_as_of", ["purpose", "as_of"], unique=False)

    op.create_table(
        "model_drift",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("psi", sa.Float(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_drift_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_drift")),
        sa.UniqueConstraint("model_version_id", "as_of", "name", name="uq_model_drift_day_name"),
    )
    with op.batch_alter_table("model_drift", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_drift_model_version_id"), ["model_version_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("model_drift", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_drift_model_version_id"))
    op.drop_table("model_drift")
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_index("ix_scores_purpose_as_of")
        batch_op.drop_index(batch_op.f("ix_scores_model_version_id"))
        batch_op.drop_index(batch_op.f("ix_scores_customer_id"))
        batch_op.drop_index(batch_op.f("ix_scores_case_id"))
    op.drop_table("scores")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index("uq_model_versions_one_active")
        batch_op.drop_index(batch_op.f("ix_model_versions_purpose"))
    op.drop_table("model_versions")
