"""visit plans

Revision ID: 0004_visit_plans
Revises: 6679823a8460
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004_visit_plans"
down_revision: str | None = "6679823a8460"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
