"""contacts and holds: holds that belong to the customer (customer_holds), and the rows of
one value from several sources brought to one verdict

Revision ID: 0026_contacts_holds
Revises: 0025_fieldwork_tasks
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

import doorstep.store.types

revision: str = "0026_contacts_holds"
down_revision: str | None = "0025_fieldwork_tasks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As domain.contact had them when this ran (a migration does not follow later changes).
STRENGTH = {"field": 0.95, "call": 0.9, "sms": 0.7, "third_party": 0.6}
CONFIRMING = ("reached", "confirmed")
INVALIDATING = ("wrong_number", "moved")
INVALID_CONFIDENCE = 0.05


def upgrade() -> None:
    op.create_table(
        "customer_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=32), nullable=True),
        sa.Column("started_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("respond_by", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("lifted_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=64), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("escalated_at", doorstep.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_customer_holds_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_holds")),
    )
    op.create_index(
        "ix_customer_holds_active", "customer_holds", ["customer_id", "lifted_at"], unique=False
    )
    one_verdict_per_value(op.get_bind())


def one_verdict_per_value(bind: sa.Connection) -> None:
    """Rows of one value (same customer, channel and lookup hash) from several sources get
    the verdict of the value's latest performed confirming or invalidating attempt, as an
    attempt now moves every row of its value: no value is left both invalid and trusted."""
    groups = sa.text(
        "SELECT customer_id, channel, value_hash FROM contact_points"
        " GROUP BY customer_id, channel, value_hash HAVING COUNT(*) > 1"
    ).columns(customer_id=sa.String, channel=sa.String, value_hash=sa.String)
    g = groups.subquery("g")
    points = sa.table(
        "contact_points",
        sa.column("id"),
        sa.column("customer_id"),
        sa.column("channel"),
        sa.column("value_hash"),
        sa.column("status"),
        sa.column("confidence"),
    )
    attempts = sa.table(
        "contact_attempts",
        sa.column("contact_point_id"),
        sa.column("channel"),
        sa.column("result"),
        sa.column("performed"),
        sa.column("attempted_at", doorstep.store.types.UTCDateTime(timezone=True)),
    )
    same = sa.and_(
        points.c.customer_id == g.c.customer_id,
        points.c.channel == g.c.channel,
        points.c.value_hash == g.c.value_hash,
    )
    rows = bind.execute(
        sa.select(points.c.id, points.c.customer_id, points.c.channel, points.c.value_hash,
                  points.c.confidence).join(g, same)
    ).all()  # fmt: skip
    key_of = {r.id: (r.customer_id, r.channel, r.value_hash) for r in rows}
    verdicts = bind.execute(
        sa.select(attempts.c.contact_point_id, attempts.c.channel, attempts.c.result,
                  attempts.c.attempted_at)
        .join(points, points.c.id == attempts.c.contact_point_id)
        .join(g, same)
        .where(attempts.c.performed.is_(True),
               attempts.c.result.in_(CONFIRMING + INVALIDATING))
    ).all()  # fmt: skip
    latest: dict[tuple[str, str, str], tuple[datetime, str, str]] = {}
    for v in verdicts:
        key = key_of[v.contact_point_id]
        if key not in latest or v.attempted_at > latest[key][0]:
            latest[key] = (v.attempted_at, v.result, v.channel)
    for r in rows:
        verdict = latest.get(key_of[r.id])
        if verdict is None:
            continue
        _, result, channel = verdict
        status, confidence = (
            ("confirmed", max(r.confidence, STRENGTH.get(channel, 0.6)))
            if result in CONFIRMING
            else ("invalid", INVALID_CONFIDENCE)
        )
        bind.execute(
            points.update().where(points.c.id == r.id).values(status=status, confidence=confidence)
        )


def downgrade() -> None:
    # The verdicts brought together stay together: the rows said the same value anyway.
    op.drop_index("ix_customer_holds_active", table_name="customer_holds")
    op.drop_table("customer_holds")
