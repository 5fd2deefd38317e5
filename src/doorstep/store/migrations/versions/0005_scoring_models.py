"""scoring models

Revision ID: 0005_scoring_models
Revises: 0004_visit_plans
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005_scoring_models"
down_revision: str | None = "0004_visit_plans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
