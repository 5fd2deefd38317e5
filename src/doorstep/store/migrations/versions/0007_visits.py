"""visits

Revision ID: 0007_visits
Revises: 0006_conduct_rules
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007_visits"
down_revision: str | None = "0006_conduct_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
