"""Queries of case tasks, the managers who own them, and verdicts awaiting review."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from doorstep.store.models import Alert, Case, CaseTask, User, Verdict, Visit

OPEN = "open"


def open_tasks_of_case(session: Session, case_id: int) -> list[CaseTask]:
    return list(
        session.scalars(
            select(CaseTask)
            .where(CaseTask.case_id == case_id, CaseTask.state == OPEN)
            .order_by(CaseTask.id)
        )
    )


def tasks_of_case(session: Session, case_id: int) -> list[CaseTask]:
    return list(
        session.scalars(select(CaseTask).where(CaseTask.case_id == case_id).order_by(CaseTask.id))
    )


def open_tasks(
    session: Session, cities: frozenset[str] | None
) -> list[tuple[CaseTask, Case, str | None]]:
    """Open tasks, soonest due first, with their case and owner's name; only the
    `cities`' cases when given."""
    statement = (
        select(CaseTask, Case, User.display_name)
        .join(Case, Case.id == CaseTask.case_id)
        .outerjoin(User, User.id == CaseTask.owner_id)
        .where(CaseTask.state == OPEN)
        .order_by(CaseTask.due_on, CaseTask.id)
    )
    if cities is not None:
        statement = statement.where(or_(Case.city.in_(cities), Case.city.is_(None)))
    return [(task, case, name) for task, case, name in session.execute(statement).all()]


def overdue_unescalated(session: Session, today: date) -> list[CaseTask]:
    """Open tasks past their due day that raised no alert yet."""
    return list(
        session.scalars(
            select(CaseTask)
            .where(CaseTask.state == OPEN, CaseTask.due_on < today, CaseTask.escalated_at.is_(None))
            .order_by(CaseTask.id)
        )
    )


def managers(session: Session) -> list[User]:
    """Active managers, oldest account first (the owner chosen for a city's work)."""
    return list(
        session.scalars(
            select(User).where(User.role == "manager", User.active.is_(True)).order_by(User.id)
        )
    )


def verdicts_awaiting_review(
    session: Session, cities: frozenset[str] | None
) -> list[tuple[Verdict, Case, datetime]]:
    """Verdicts no manager has reviewed, oldest first, with their case and submission time."""
    statement = (
        select(Verdict, Case, Visit.submitted_at)
        .join(Case, Case.id == Verdict.case_id)
        .join(Visit, Visit.id == Verdict.visit_id)
        .where(Verdict.reviewed_at.is_(None))
        .order_by(Visit.submitted_at, Verdict.id)
    )
    if cities is not None:
        statement = statement.where(or_(Case.city.in_(cities), Case.city.is_(None)))
    return [(v, c, at) for v, c, at in session.execute(statement).all() if at is not None]


def count_open(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(CaseTask.state == OPEN)) or 0)


def open_alert_cities(session: Session, kind: str) -> set[str]:
    """The cities named by unresolved alerts of `kind` ("" for none)."""
    details = session.scalars(
        select(Alert.detail).where(Alert.kind == kind, Alert.resolved_at.is_(None))
    )
    return {str((d or {}).get("city") or "") for d in details}
