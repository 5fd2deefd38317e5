"""conduct rules

Revision ID: 0006_conduct_rules
Revises: 0005_scoring_models
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006_conduct_rules"
down_revision: str | None = "0005_scoring_models"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
