"""What the demo (`doorstep demo`, `demo.setup`, `demo.simulate`) reads besides the
services: its users by name, the cases it assigns and closes, its teams' members."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.domain.case import CancelReason, CaseState
from doorstep.store.models import Case, Team, TeamMember, User


def user_named(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def best_ready_cases(session: Session, city: str, limit: int) -> Sequence[Case]:
    """The city's ready cases, highest priority first."""
    return session.scalars(
        select(Case)
        .where(Case.state == CaseState.READY.value, Case.city == city)
        .order_by(Case.priority.desc())
        .limit(limit)
    ).all()


def team_members(session: Session) -> list[tuple[int, User]]:
    """(team id, member) of every team, in team then user order."""
    rows = session.execute(
        select(Team.id, User)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .join(User, User.id == TeamMember.user_id)
        .order_by(Team.id, User.id)
    ).all()
    return [(team_id, user) for team_id, user in rows]


def visited_unheld_cases_by(session: Session, last_visit_day: date) -> Sequence[int]:
    """Ids of visited cases, not on hold, visited on or before `last_visit_day`."""
    return session.scalars(
        select(Case.id)
        .where(
            Case.state == CaseState.VISITED.value,
            Case.hold_reason.is_(None),
            Case.visited_on <= last_visit_day,
        )
        .order_by(Case.id)
    ).all()


def held_out_customers(session: Session) -> set[str]:
    """Customers the selection ever kept back as holdout."""
    return set(
        session.scalars(
            select(Case.customer_id).where(Case.cancel_reason == CancelReason.HOLDOUT.value)
        )
    )
