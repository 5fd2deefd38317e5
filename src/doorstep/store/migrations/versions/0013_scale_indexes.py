"""indexes for dashboards and the audit log at scale

Revision ID: 0013_scale_indexes
Revises: 0011_daily_figures
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_scale_indexes"
down_revision: str | None = "0011_daily_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_visits_checked_in_at", "visits", ["checked_in_at"]),
    ("ix_promises_due_on", "promises_to_pay", ["due_on"]),
    ("ix_cases_city_state_opened", "cases", ["city", "state", "opened_on"]),
    ("ix_audit_events_object", "audit_events", ["object_type", "object_id"]),
    ("ix_audit_events_at", "audit_events", ["at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
