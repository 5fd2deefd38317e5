"""repayment offers

Revision ID: 0008_repayment_offers
Revises: 0007_visits
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008_repayment_offers"
down_revision: str | None = "0007_visits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
