"""Queries of the conduct rules: a case's holds, the contact log's counters, the decisions
kept, and what the compliance and retention reports count."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from doorstep.store.models import (
    AuditEvent,
    CaseHold,
    ContactAttempt,
    Customer,
    CustomerHold,
    RuleDecision,
    Team,
    TeamMember,
    User,
)


def active_holds(session: Session, case_id: int, now: datetime) -> list[CaseHold]:
    """Holds of a case not lifted and not ended by their end rule at `now`, oldest first."""
    return list(
        session.scalars(
            select(CaseHold)
            .where(
                CaseHold.case_id == case_id,
                CaseHold.lifted_at.is_(None),
                or_(CaseHold.ends_at.is_(None), CaseHold.ends_at > now),
            )
            .order_by(CaseHold.started_at, CaseHold.id)
        )
    )


def expired_holds(session: Session, now: datetime) -> list[CaseHold]:
    """Holds whose end rule has ended them but that are not yet marked lifted."""
    return list(
        session.scalars(
            select(CaseHold).where(CaseHold.lifted_at.is_(None), CaseHold.ends_at <= now)
        )
    )


def holds_between(session: Session, start: datetime, end: datetime) -> list[CaseHold]:
    return list(
        session.scalars(
            select(CaseHold)
            .where(
                CaseHold.started_at < end,
                or_(CaseHold.lifted_at.is_(None), CaseHold.lifted_at >= start),
            )
            .order_by(CaseHold.started_at)
        )
    )


_PERFORMED = ContactAttempt.performed.is_(True)
_CALLS = ContactAttempt.channel.in_(("call", "third_party"))


def connected_calls_on(session: Session, customer_id: str, day: date, relation: str) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                ContactAttempt.customer_id == customer_id,
                ContactAttempt.local_day == day,
                ContactAttempt.relation == relation,
                ContactAttempt.connected.is_(True),
                _PERFORMED,
                _CALLS,
            )
        )
        or 0
    )


def dials_on(session: Session, contact_point_id: int, day: date) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                ContactAttempt.contact_point_id == contact_point_id,
                ContactAttempt.local_day == day,
                _PERFORMED,
                _CALLS,
            )
        )
        or 0
    )


def calls_since(session: Session, customer_id: str, since: datetime, relation: str) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                ContactAttempt.customer_id == customer_id,
                ContactAttempt.attempted_at >= since,
                ContactAttempt.relation == relation,
                _PERFORMED,
                _CALLS,
            )
        )
        or 0
    )


def last_conversation_day(session: Session, customer_id: str, relation: str) -> date | None:
    day: date | None = session.scalar(
        select(func.max(ContactAttempt.local_day)).where(
            ContactAttempt.customer_id == customer_id,
            ContactAttempt.relation == relation,
            ContactAttempt.connected.is_(True),
            _PERFORMED,
            _CALLS,
        )
    )
    return day


def performed_on_point(session: Session, contact_point_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                ContactAttempt.contact_point_id == contact_point_id, _PERFORMED
            )
        )
        or 0
    )


def recent_debtor_calls(session: Session, customer_id: str, limit: int = 3) -> list[bool]:
    """Whether each of the debtor's last performed calls connected, newest first."""
    return list(
        session.scalars(
            select(ContactAttempt.connected)
            .where(
                ContactAttempt.customer_id == customer_id,
                ContactAttempt.relation == "debtor",
                _PERFORMED,
                _CALLS,
            )
            .order_by(ContactAttempt.attempted_at.desc(), ContactAttempt.id.desc())
            .limit(limit)
        )
    )


def attempts_between(session: Session, start: datetime, end: datetime) -> list[ContactAttempt]:
    return list(
        session.scalars(
            select(ContactAttempt)
            .where(ContactAttempt.attempted_at >= start, ContactAttempt.attempted_at < end)
            .order_by(ContactAttempt.attempted_at)
        )
    )


def decisions_between(session: Session, start: datetime, end: datetime) -> list[RuleDecision]:
    return list(
        session.scalars(
            select(RuleDecision)
            .where(RuleDecision.at >= start, RuleDecision.at < end)
            .order_by(RuleDecision.at)
        )
    )


def user_names(session: Session) -> dict[int, str]:
    return {i: n for i, n in session.execute(select(User.id, User.username))}


def team_of_users(session: Session) -> dict[int, str]:
    """Each team member's team name (a user in several teams: the last one read)."""
    return {
        user_id: name
        for user_id, name in session.execute(
            select(TeamMember.user_id, Team.name).join(Team, Team.id == TeamMember.team_id)
        )
    }


RECORD_TABLES = (
    (ContactAttempt, ContactAttempt.attempted_at),
    (RuleDecision, RuleDecision.at),
    (CaseHold, CaseHold.started_at),
    (AuditEvent, AuditEvent.at),
)
"""The records the retention rule keeps, each with the time that dates a row."""


def records_before(session: Session, cutoff: datetime) -> list[tuple[str, int, int]]:
    """(table, rows, rows dated before `cutoff`) for each of `RECORD_TABLES`."""
    counts = []
    for table, column in RECORD_TABLES:
        total = session.scalar(select(func.count()).select_from(table)) or 0
        old = session.scalar(select(func.count()).select_from(table).where(column < cutoff)) or 0
        counts.append((table.__tablename__, total, old))
    return counts


def customer_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Customer)) or 0


def _live(now: datetime) -> Any:
    return and_(
        CustomerHold.lifted_at.is_(None),
        or_(CustomerHold.ends_at.is_(None), CustomerHold.ends_at > now),
    )


def active_customer_holds(
    session: Session, customer_ids: Collection[str], now: datetime
) -> list[CustomerHold]:
    """The customers' holds not resolved and not ended at `now`, oldest first."""
    found: list[CustomerHold] = []
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), 500):
        found += session.scalars(
            select(CustomerHold)
            .where(CustomerHold.customer_id.in_(ids[start : start + 500]), _live(now))
            .order_by(CustomerHold.started_at, CustomerHold.id)
        )
    return found


def any_customer_holds(session: Session, now: datetime) -> list[CustomerHold]:
    """Every customer hold active at `now` (the daily selection reads them all at once)."""
    return list(session.scalars(select(CustomerHold).where(_live(now))))


def expired_customer_holds(session: Session, now: datetime) -> list[CustomerHold]:
    return list(
        session.scalars(
            select(CustomerHold).where(
                CustomerHold.lifted_at.is_(None), CustomerHold.ends_at <= now
            )
        )
    )


def late_responses(session: Session, now: datetime) -> list[CustomerHold]:
    """Complaints and disputes still open past the day they had to be answered by, not
    escalated yet."""
    return list(
        session.scalars(
            select(CustomerHold)
            .where(
                CustomerHold.lifted_at.is_(None),
                CustomerHold.respond_by <= now,
                CustomerHold.escalated_at.is_(None),
            )
            .order_by(CustomerHold.respond_by, CustomerHold.id)
        )
    )


def overrides_since(
    session: Session, case_ids: list[int], action: str, since: datetime
) -> dict[int, str]:
    """Per case, the reason of its latest performed, overridden decision on `action` since
    `since`."""
    found: dict[int, str] = {}
    for start in range(0, len(case_ids), 500):
        rows = session.execute(
            select(RuleDecision.case_id, RuleDecision.override_reason)
            .where(
                RuleDecision.case_id.in_(case_ids[start : start + 500]),
                RuleDecision.action == action,
                RuleDecision.performed.is_(True),
                RuleDecision.override_reason.is_not(None),
                RuleDecision.at >= since,
            )
            .order_by(RuleDecision.at)
        )
        found.update({c: why for c, why in rows if c is not None and why is not None})
    return found
