"""Queries about cases: candidates for selection, the filtered case list, a case's facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Connection, Select, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Role
from doorstep.domain.case import OPEN_STATES, CancelReason
from doorstep.domain.contact import EVIDENCE_RESULTS
from doorstep.store.models import (
    Assignment,
    Case,
    ContactAttempt,
    ContactPoint,
    Customer,
    DelinquencySnapshot,
    Installment,
    Loan,
    Payment,
)


def overdue_by_customer(connection: Connection, as_of: date) -> pl.DataFrame:
    """Per customer on `as_of`: worst DPD, overdue total (fen) and loans past due."""
    s = DelinquencySnapshot
    overdue = s.overdue_principal + s.overdue_interest + s.overdue_fee + s.overdue_penalty
    rows = connection.execute(
        select(
            Loan.customer_id,
            func.max(s.dpd),
            func.sum(overdue),
            func.sum(func.cast(s.dpd > 0, type_=s.dpd.type)),
        )
        .join(Loan, Loan.loan_id == s.loan_id)
        .where(s.as_of == as_of)
        .group_by(Loan.customer_id)
    ).all()
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.Utf8,
            "max_dpd": pl.Int64,
            "overdue_amount": pl.Int64,
            "loans_past_due": pl.Int64,
        },
        orient="row",
    )


def open_cases_by_customer(session: Session) -> dict[str, Case]:
    """Every open case, loaded in one query, by customer (one open case per customer)."""
    cases = session.scalars(select(Case).where(Case.state.in_([s.value for s in OPEN_STATES])))
    return {case.customer_id: case for case in cases}


def open_cases_by_customer_of(session: Session, customer_id: str) -> Case | None:
    """The customer's open case, if any (one open case per customer)."""
    return session.scalars(
        select(Case).where(
            Case.customer_id == customer_id, Case.state.in_([s.value for s in OPEN_STATES])
        )
    ).first()


def holdout_days(session: Session) -> dict[str, date]:
    """Per customer, the last day a case of theirs was kept back as selection holdout."""
    rows = session.execute(
        select(Case.customer_id, func.max(Case.opened_on))
        .where(Case.cancel_reason == CancelReason.HOLDOUT.value)
        .group_by(Case.customer_id)
    ).all()
    return {customer: day for customer, day in rows}


def case_ids_of(session: Session, customer_id: str) -> list[int]:
    return list(session.scalars(select(Case.id).where(Case.customer_id == customer_id)))


def cases_by_customer(session: Session) -> dict[str, list[Case]]:
    """Every case, grouped by customer (retention looks at whole customers)."""
    found: dict[str, list[Case]] = {}
    for case in session.scalars(select(Case).order_by(Case.id)):
        found.setdefault(case.customer_id, []).append(case)
    return found


def with_hold_reason(session: Session, case_ids: list[int]) -> set[int]:
    """Those of `case_ids` whose row carries a hold."""
    return set(
        session.scalars(select(Case.id).where(Case.id.in_(case_ids), Case.hold_reason.is_not(None)))
    )


def last_visits(connection: Connection) -> dict[str, date]:
    rows = connection.execute(
        select(Case.customer_id, func.max(Case.visited_on))
        .where(Case.visited_on.is_not(None))
        .group_by(Case.customer_id)
    ).all()
    return {customer: day for customer, day in rows if day is not None}


@dataclass(frozen=True)
class CaseFilter:
    states: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    city: str | None = None
    district: str | None = None
    min_dpd: int | None = None
    max_dpd: int | None = None
    min_amount: int | None = None  # fen
    max_amount: int | None = None
    on_hold: bool | None = None
    skip_trace: bool | None = None
    customer_id: str | None = None


def live_assignment(team_ids: frozenset[int], now: datetime) -> Any:
    return exists().where(
        Assignment.case_id == Case.id,
        Assignment.team_id.in_(team_ids),
        Assignment.revoked_at.is_(None),
        Assignment.starts_at <= now,
        or_(Assignment.ends_at.is_(None), Assignment.ends_at > now),
    )


def visible_to(statement: Select[Any], actor: Actor, now: datetime | None = None) -> Select[Any]:
    """Row-level access: verifiers see cases live-assigned to their teams; managers their
    regions; everyone else with read access, everything."""
    now = now or datetime.now(UTC)
    if actor.role is Role.VERIFIER:
        if not actor.team_ids:
            return statement.where(false())
        return statement.where(live_assignment(actor.team_ids, now))
    if actor.role is Role.MANAGER and actor.regions is not None:
        return statement.where(Case.city.in_(actor.regions))
    return statement


def filtered(statement: Select[Any], f: CaseFilter) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = []
    if f.states:
        conditions.append(Case.state.in_(f.states))
    if f.buckets:
        conditions.append(Case.bucket.in_(f.buckets))
    if f.city:
        conditions.append(Case.city == f.city)
    if f.district:
        conditions.append(Case.district == f.district)
    if f.min_dpd is not None:
        conditions.append(Case.max_dpd >= f.min_dpd)
    if f.max_dpd is not None:
        conditions.append(Case.max_dpd <= f.max_dpd)
    if f.min_amount is not None:
        conditions.append(Case.overdue_amount >= f.min_amount)
    if f.max_amount is not None:
        conditions.append(Case.overdue_amount <= f.max_amount)
    if f.on_hold is not None:
        conditions.append(
            Case.hold_reason.is_not(None) if f.on_hold else Case.hold_reason.is_(None)
        )
    if f.skip_trace is not None:
        conditions.append(Case.skip_trace.is_(f.skip_trace))
    if f.customer_id:
        conditions.append(Case.customer_id == f.customer_id)
    return statement.where(and_(*conditions)) if conditions else statement


def list_cases(
    session: Session, actor: Actor, f: CaseFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[Case], int]:
    """One page of cases by priority, and how many match in all."""
    base = filtered(visible_to(select(Case), actor), f)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.scalars(
        base.order_by(Case.priority.desc(), Case.id).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(rows), total


MAX_ID = 2**31 - 1
"""Integer keys are 32-bit on PostgreSQL: a larger id names no row (and the driver would
refuse to bind it, a 500 instead of a 404)."""


def get_visible(
    session: Session, actor: Actor, case_id: int, now: datetime | None = None
) -> Case | None:
    if not 0 < case_id <= MAX_ID:
        return None
    query = visible_to(select(Case).where(Case.id == case_id), actor, now)
    case: Case | None = session.scalar(query)
    return case


def customer(session: Session, customer_id: str) -> Customer | None:
    return session.get(Customer, customer_id)


def loans_of(session: Session, customer_id: str) -> list[Loan]:
    return list(
        session.scalars(select(Loan).where(Loan.customer_id == customer_id).order_by(Loan.loan_id))
    )


def installments_of(session: Session, loan_ids: list[str]) -> list[Installment]:
    return list(
        session.scalars(
            select(Installment)
            .where(Installment.loan_id.in_(loan_ids))
            .order_by(Installment.loan_id, Installment.seq)
        )
    )


def payments_of(session: Session, loan_ids: list[str]) -> list[Payment]:
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.loan_id.in_(loan_ids))
            .order_by(Payment.paid_on, Payment.payment_id)
        )
    )


def snapshots_of(
    session: Session, loan_ids: list[str], limit: int = 400
) -> list[DelinquencySnapshot]:
    return list(
        session.scalars(
            select(DelinquencySnapshot)
            .where(DelinquencySnapshot.loan_id.in_(loan_ids))
            .order_by(DelinquencySnapshot.as_of.desc(), DelinquencySnapshot.loan_id)
            .limit(limit)
        )
    )


def contact_points_of(session: Session, customer_id: str) -> list[ContactPoint]:
    return list(
        session.scalars(
            select(ContactPoint)
            .where(ContactPoint.customer_id == customer_id)
            .order_by(ContactPoint.channel, ContactPoint.confidence.desc())
        )
    )


def contact_points_of_many(
    session: Session, customer_ids: list[str]
) -> dict[str, list[ContactPoint]]:
    """`contact_points_of` for several customers in one query."""
    found: dict[str, list[ContactPoint]] = {c: [] for c in customer_ids}
    for point in session.scalars(
        select(ContactPoint)
        .where(ContactPoint.customer_id.in_(customer_ids))
        .order_by(ContactPoint.customer_id, ContactPoint.channel, ContactPoint.confidence.desc())
    ):
        found[point.customer_id].append(point)
    return found


def points_of_value(session: Session, point: ContactPoint) -> list[ContactPoint]:
    """Every row of the same value (lookup hash) of the same customer, one per source,
    `point` among them."""
    return list(
        session.scalars(
            select(ContactPoint)
            .where(
                ContactPoint.customer_id == point.customer_id,
                ContactPoint.channel == point.channel,
                ContactPoint.value_hash == point.value_hash,
            )
            .order_by(ContactPoint.id)
        )
    )


def attempts_of(session: Session, contact_point_ids: list[int]) -> list[ContactAttempt]:
    return list(
        session.scalars(
            select(ContactAttempt)
            .where(ContactAttempt.contact_point_id.in_(contact_point_ids))
            .order_by(ContactAttempt.attempted_at.desc())
        )
    )


def last_evidence_attempts(session: Session, contact_point_ids: list[int]) -> dict[int, datetime]:
    """The latest attempt of each point that is evidence about it (performed, with a result
    that restarts the decay clock: `domain.contact.EVIDENCE_RESULTS`), in one query. A
    blocked or unanswered attempt is no evidence."""
    rows = session.execute(
        select(ContactAttempt.contact_point_id, func.max(ContactAttempt.attempted_at))
        .where(
            ContactAttempt.contact_point_id.in_(contact_point_ids),
            ContactAttempt.performed.is_(True),
            ContactAttempt.result.in_([r.value for r in EVIDENCE_RESULTS]),
        )
        .group_by(ContactAttempt.contact_point_id)
    ).all()
    return {point_id: at for point_id, at in rows if at is not None}


def has_live_assignment(
    session: Session, team_ids: frozenset[int], case_id: int, now: datetime
) -> bool:
    if not team_ids:
        return False
    return bool(
        session.scalar(select(Case.id).where(Case.id == case_id, live_assignment(team_ids, now)))
    )
