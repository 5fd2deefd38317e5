"""Queries about visits: a team's day, open visits, alerts, verdicts."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.orm import Session

from doorstep.store.models import (
    Alert,
    Assignment,
    AuditEvent,
    Case,
    Customer,
    Evidence,
    PlanStop,
    PromiseToPay,
    Team,
    TeamMember,
    User,
    Verdict,
    Visit,
    VisitPlan,
)

OPEN_STATES = ("checked_in", "checked_out")
"""A visit checked in (or out) and not submitted yet."""


def _live_at(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """An assignment in force at `now`: not revoked, started, not ended."""
    return (
        Assignment.revoked_at.is_(None),
        Assignment.starts_at <= now,
        or_(Assignment.ends_at.is_(None), Assignment.ends_at > now),
    )


def live_readers(
    session: Session,
    now: datetime,
    states: tuple[str, ...],
    *,
    not_planned_after: date | None = None,
) -> list[tuple[User, int]]:
    """(verifier, case) for every case in `states` live-assigned now to a team the active
    verifier belongs to: who will open which dossier today. With `not_planned_after`,
    not the cases of a plan published for a later day (live as soon as published, but
    visited, and their dossiers opened, that day)."""

    def on_published_plan(day: Any) -> Any:  # routed there for this very team
        return exists().where(
            PlanStop.case_id == Assignment.case_id,
            PlanStop.team_id == Assignment.team_id,
            PlanStop.seq.is_not(None),
            PlanStop.plan_id == VisitPlan.id,
            VisitPlan.state == "published",
            day,
        )

    later = (
        [
            or_(
                ~on_published_plan(VisitPlan.day > not_planned_after),
                on_published_plan(VisitPlan.day <= not_planned_after),
            )
        ]
        if not_planned_after is not None
        else []
    )
    rows = session.execute(
        select(User, Assignment.case_id)
        .join(TeamMember, TeamMember.user_id == User.id)
        .join(Assignment, Assignment.team_id == TeamMember.team_id)
        .join(Case, Case.id == Assignment.case_id)
        .where(
            User.active.is_(True),
            User.role == "verifier",
            Case.state.in_(states),
            *_live_at(now),
            *later,
        )
        .order_by(Assignment.case_id, User.id)
    ).all()
    return [(user, case_id) for user, case_id in rows]


def planned_stops(
    session: Session, team_ids: frozenset[int], day: date
) -> list[tuple[PlanStop, Case]]:
    """The routed stops of the teams in the published plans of `day`, in route order."""
    if not team_ids:
        return []
    rows = session.execute(
        select(PlanStop, Case)
        .join(VisitPlan, VisitPlan.id == PlanStop.plan_id)
        .join(Case, Case.id == PlanStop.case_id)
        .where(
            VisitPlan.day == day,
            VisitPlan.state == "published",
            PlanStop.team_id.in_(team_ids),
            PlanStop.seq.is_not(None),
        )
        .order_by(PlanStop.team_id, PlanStop.seq)
    ).all()
    return [(stop, case) for stop, case in rows]


def live_cases(
    session: Session, case_ids: list[int], team_ids: frozenset[int], now: datetime
) -> set[int]:
    """Those of `case_ids` live-assigned now to one of `team_ids`, in one query."""
    if not team_ids or not case_ids:
        return set()
    return set(
        session.scalars(
            select(Assignment.case_id).where(
                Assignment.case_id.in_(case_ids),
                Assignment.team_id.in_(team_ids),
                *_live_at(now),
            )
        )
    )


def live_team_of(
    session: Session, case_id: int, team_ids: frozenset[int], now: datetime
) -> int | None:
    """The team (of `team_ids`) the case is live-assigned to now, if any."""
    if not team_ids:
        return None
    team: int | None = session.scalar(
        select(Assignment.team_id)
        .where(
            Assignment.case_id == case_id,
            Assignment.team_id.in_(team_ids),
            *_live_at(now),
        )
        .order_by(Assignment.starts_at.desc())
        .limit(1)
    )
    return team


def hand_scheduled(
    session: Session, team_ids: frozenset[int], now: datetime, states: tuple[str, ...]
) -> list[Case]:
    """Cases live-assigned to the teams, in `states`, by priority."""
    if not team_ids:
        return []
    return list(
        session.scalars(
            select(Case)
            .join(Assignment, Assignment.case_id == Case.id)
            .where(
                Assignment.team_id.in_(team_ids),
                *_live_at(now),
                Case.state.in_(states),
            )
            .order_by(Case.priority.desc(), Case.id)
            .distinct()
        )
    )


def members_of(session: Session, team_id: int) -> list[int]:
    return list(
        session.scalars(
            select(TeamMember.user_id)
            .where(TeamMember.team_id == team_id)
            .order_by(TeamMember.user_id)
        )
    )


def team(session: Session, team_id: int) -> Team | None:
    return session.get(Team, team_id)


def open_visit(session: Session, case_id: int) -> Visit | None:
    """The case's visit that is checked in (or out) but not submitted yet."""
    visit: Visit | None = session.scalar(
        select(Visit)
        .where(Visit.case_id == case_id, Visit.state.in_(OPEN_STATES))
        .order_by(Visit.id.desc())
        .limit(1)
    )
    return visit


def open_visits_of_cases(session: Session, case_ids: list[int]) -> dict[int, Visit]:
    if not case_ids:
        return {}
    rows = session.scalars(
        select(Visit)
        .where(Visit.case_id.in_(case_ids), Visit.state.in_(OPEN_STATES))
        .order_by(Visit.id)
    )
    return {v.case_id: v for v in rows}


def previous_check_in(session: Session, team_id: int, before: datetime) -> Visit | None:
    """The team's latest check-in with a position before `before`."""
    visit: Visit | None = session.scalar(
        select(Visit)
        .where(
            Visit.team_id == team_id,
            Visit.checked_in_at < before,
            Visit.position.is_not(None),
        )
        .order_by(Visit.checked_in_at.desc())
        .limit(1)
    )
    return visit


def visit_by_key(session: Session, key: str) -> Visit | None:
    visit: Visit | None = session.scalar(select(Visit).where(Visit.idempotency_key == key))
    return visit


def evidence_of(session: Session, visit_id: int) -> list[Evidence]:
    return list(
        session.scalars(select(Evidence).where(Evidence.visit_id == visit_id).order_by(Evidence.id))
    )


def verdict_of_visit(session: Session, visit_id: int) -> Verdict | None:
    verdict: Verdict | None = session.scalar(select(Verdict).where(Verdict.visit_id == visit_id))
    return verdict


def latest_verdict(session: Session, case_id: int) -> Verdict | None:
    verdict: Verdict | None = session.scalar(
        select(Verdict).where(Verdict.case_id == case_id).order_by(Verdict.id.desc()).limit(1)
    )
    return verdict


def broken_promises(session: Session, customer_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(PromiseToPay)
            .where(PromiseToPay.customer_id == customer_id, PromiseToPay.status == "broken")
        )
        or 0
    )


def promise_of_visit(session: Session, visit_id: int) -> PromiseToPay | None:
    promise: PromiseToPay | None = session.scalar(
        select(PromiseToPay).where(PromiseToPay.visit_id == visit_id)
    )
    return promise


def unreached_visits(session: Session, case_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Verdict)
            .where(Verdict.case_id == case_id, Verdict.reached.is_(False))
        )
        or 0
    )


def overdue_open_visits(session: Session, checked_in_before: datetime) -> list[Visit]:
    """Visits still checked in since before the cut-off that have no overdue alert yet."""
    alerted = select(Alert.visit_id).where(
        Alert.kind == "overdue_checkout", Alert.visit_id.is_not(None)
    )
    return list(
        session.scalars(
            select(Visit)
            .where(
                Visit.state == "checked_in",
                Visit.checked_in_at < checked_in_before,
                Visit.id.not_in(alerted),
            )
            .order_by(Visit.id)
        )
    )


def open_alerts(session: Session, cities: frozenset[str] | None) -> list[tuple[Alert, Team | None]]:
    statement = (
        select(Alert, Team)
        .outerjoin(Team, Team.id == Alert.team_id)
        .outerjoin(Case, Case.id == Alert.case_id)
        .where(Alert.resolved_at.is_(None))
        .order_by(Alert.raised_at.desc(), Alert.id.desc())
    )
    if cities is not None:  # the team's city, else the case's
        city = func.coalesce(Team.city, Case.city)
        statement = statement.where(or_(city.in_(cities), city.is_(None)))
    return [(alert, team) for alert, team in session.execute(statement).all()]


def all_evidence(session: Session) -> Iterator[Evidence]:
    yield from session.scalars(select(Evidence).order_by(Evidence.id)).yield_per(1000)


def submission_summaries(session: Session) -> Iterator[dict[str, Any]]:
    """The audit summaries of every visit submission."""
    rows = session.scalars(
        select(AuditEvent.summary).where(AuditEvent.action == "visit.submit")
    ).yield_per(1000)
    for summary in rows:
        if isinstance(summary, dict):
            yield summary


def live_assignment_starts(
    session: Session, case_ids: Collection[int], team_ids: frozenset[int], now: datetime
) -> list[tuple[int, datetime]]:
    """(case, start) of every assignment of `case_ids` to one of `team_ids` live now."""
    if not case_ids or not team_ids:
        return []
    rows = session.execute(
        select(Assignment.case_id, Assignment.starts_at).where(
            Assignment.case_id.in_(case_ids), Assignment.team_id.in_(team_ids), *_live_at(now)
        )
    )
    return [(case_id, starts_at) for case_id, starts_at in rows]


def reveals_by(
    session: Session, username: str, case_ids: Collection[int], since: datetime
) -> list[tuple[int, datetime, dict[str, Any]]]:
    """(case, when, summary) of the personal-data reveals filed under `case_ids` by this
    user since `since`."""
    if not case_ids:
        return []
    rows = session.execute(
        select(AuditEvent.object_id, AuditEvent.at, AuditEvent.summary).where(
            AuditEvent.object_type == "case",
            AuditEvent.object_id.in_([str(c) for c in case_ids]),
            AuditEvent.action == "personal_data.reveal",
            AuditEvent.actor == username,
            AuditEvent.at >= since,
        )
    )
    return [(int(object_id), at, summary or {}) for object_id, at, summary in rows]


def customer_names(session: Session, customer_ids: Collection[str]) -> dict[str, str]:
    """Customer id -> name, for those of `customer_ids` that exist, in one query."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Customer.customer_id, Customer.name).where(Customer.customer_id.in_(customer_ids))
    )
    return {customer_id: name for customer_id, name in rows}


def display_names(session: Session, user_ids: Collection[int]) -> list[str]:
    """The display names of these users."""
    if not user_ids:
        return []
    return list(session.scalars(select(User.display_name).where(User.id.in_(user_ids))))


def claim_for_submission(
    session: Session, visit_id: int, *, key: str, at: datetime, by: int | None
) -> bool:
    """Mark an open visit submitted under the idempotency key, in one conditional UPDATE
    (a concurrent submission waits on the row, then finds it submitted): whether this
    call claimed it. A key used before raises the unique constraint's IntegrityError."""
    result = session.execute(
        update(Visit)
        .where(Visit.id == visit_id, Visit.state.in_(OPEN_STATES))
        .values(state="submitted", idempotency_key=key, submitted_at=at, submitted_by=by)
        .execution_options(synchronize_session=False)
    )
    claimed: int = result.rowcount  # type: ignore[attr-defined]
    return claimed == 1
