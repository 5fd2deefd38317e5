"""outbox and webhooks

Revision ID: 0009_outbox
Revises: 0008_repayment_offers
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0009_outbox"
down_revision: str | None = "0008_repayment_offers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
