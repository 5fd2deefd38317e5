"""Cases for tests: opened by the real selection, put in a state, assigned to a team."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.selection import SelectionPolicy
from doorstep.services import cases
from doorstep.services.people import teams
from doorstep.store.db import transaction
from doorstep.store.models import Assignment, Case, Loan


def open_cases(session: Session, as_of: date, capacity: int = 100) -> list[Case]:
    """The selection of `as_of` with the default policy; every case, by id."""
    cases.select_cases(
        session, SYSTEM, as_of, policy=SelectionPolicy(), capacity=capacity, buckets=DEFAULT_BUCKETS
    )
    return list(session.scalars(select(Case).order_by(Case.id)))


def assign(
    session: Session, case_id: int, team_id: int, starts_at: datetime, ends_at: datetime
) -> Assignment:
    """Give the case to the team for the period (by the system)."""
    return teams.assign(session, SYSTEM, case_id, team_id, starts_at, ends_at)


def set_state(engine: Engine, case_id: int, state: str) -> int:
    """Put a case in `state` (no hold) whatever selection made of it; its version."""
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.state, case.hold_reason = state, None
        session.flush()
        return case.version


def schedule(engine: Engine, case_id: int) -> int:
    """Move the case on to scheduled through the real transitions (by the system)."""
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        if case.state in ("new", "confirming"):
            cases.act(session, SYSTEM, case_id, "mark_ready")
        cases.act(session, SYSTEM, case_id, "schedule")
    return case_id


def customer_and_loan(engine: Engine, case_id: int) -> tuple[str, str]:
    """The case's customer id and their (first) loan id."""
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        loan = session.scalars(
            select(Loan).where(Loan.customer_id == case.customer_id).order_by(Loan.loan_id)
        ).first()
        assert loan is not None
        return case.customer_id, loan.loan_id
