"""audit: each event names the audit key its link is signed with

Revision ID: 0018_audit_keyed
Revises: 0017_child_partition_slots

Events written before have plain SHA-256 links and no key id: `doorstep audit verify`
reports them unsigned until `doorstep audit resign` (which needs the audit key, so it
cannot run here) has checked that chain and re-signed it. A downgrade drops the key ids;
the old code then reads the keyed links as broken.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_audit_keyed"
down_revision: str | None = "0017_child_partition_slots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("key_id", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("key_id")
