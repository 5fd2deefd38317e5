"""Queries of the reveal controls: each person's counts (taken with one conditional UPDATE),
bulk reveal requests and their decisions, the facts the anomaly alerts need."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.store.models import Alert, Assignment, Case, RevealCounter, RevealRequest
from doorstep.store.repositories.cases import live_assignment, visible_to

PENDING, APPROVED, REFUSED, USED = "pending", "approved", "refused", "used"


def _ensure_counter(session: Session, user_id: int, day: date, window_no: int) -> None:
    """The person's counter row, made on first use (a row another transaction is making
    at the same moment is waited for, then left as it is)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(RevealCounter)
        .values(user_id=user_id, day=day, day_count=0, window_no=window_no, window_count=0)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )


def take(
    session: Session,
    user_id: int,
    n: int,
    *,
    day: date,
    window_no: int,
    daily: int,
    per_window: int,
) -> tuple[int, int] | None:
    """Count `n` reveals for the person if both limits still allow them, in ONE
    conditional UPDATE (a new day or window starts again from zero): PostgreSQL makes a
    concurrent one wait for the row and re-checks its condition on the committed counts,
    SQLite runs writers one at a time. Returns (today, in the window) with these, or
    None, counting nothing, when either limit would be passed."""
    _ensure_counter(session, user_id, day, window_no)
    today = case((RevealCounter.day == day, RevealCounter.day_count), else_=0)
    in_window = case((RevealCounter.window_no == window_no, RevealCounter.window_count), else_=0)
    row = session.execute(
        update(RevealCounter)
        .where(
            RevealCounter.user_id == user_id,
            today + n <= daily,
            in_window + n <= per_window,
        )
        .values(day=day, day_count=today + n, window_no=window_no, window_count=in_window + n)
        .returning(RevealCounter.day_count, RevealCounter.window_count)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    return None if row is None else (int(row[0]), int(row[1]))


def counted(session: Session, user_id: int, *, day: date, window_no: int) -> tuple[int, int]:
    """The person's reveals today and in the window, as committed (or taken here)."""
    row = session.execute(
        select(
            case((RevealCounter.day == day, RevealCounter.day_count), else_=0),
            case((RevealCounter.window_no == window_no, RevealCounter.window_count), else_=0),
        ).where(RevealCounter.user_id == user_id)
    ).one_or_none()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def is_planned(session: Session, case_id: int, states: Collection[str], now: datetime) -> bool:
    """The case is on a published plan (scheduled or being visited) or live-assigned to
    any team."""
    return bool(
        session.scalar(
            select(Case.id).where(
                Case.id == case_id,
                or_(Case.state.in_(states), exists().where(_live_any(now))),
            )
        )
    )


def _live_any(now: datetime) -> Any:
    return (
        (Assignment.case_id == Case.id)
        & Assignment.revoked_at.is_(None)
        & (Assignment.starts_at <= now)
        & or_(Assignment.ends_at.is_(None), Assignment.ends_at > now)
    )


def assigned_to(session: Session, case_id: int, team_ids: frozenset[int], now: datetime) -> bool:
    if not team_ids:
        return False
    found = session.scalar(
        select(Case.id).where(Case.id == case_id, live_assignment(team_ids, now))
    )
    return found is not None


def open_alert(session: Session, kind: str, user_id: int, since: datetime) -> Alert | None:
    """The person's open alert of `kind` raised since `since` (one per person and day)."""
    found: Alert | None = session.scalar(
        select(Alert)
        .where(
            Alert.kind == kind,
            Alert.raised_by == user_id,
            Alert.resolved_at.is_(None),
            Alert.raised_at >= since,
        )
        .order_by(Alert.id.desc())
        .limit(1)
    )
    return found


def visible_cities(
    session: Session, actor: Actor, case_ids: Collection[int], now: datetime
) -> dict[int, str]:
    """Case -> city ("" when unknown) of those of `case_ids` the actor may see."""
    found = session.scalars(visible_to(select(Case).where(Case.id.in_(case_ids)), actor, now))
    return {case.id: case.city or "" for case in found}


def requests_with_status(session: Session, status: str) -> list[RevealRequest]:
    return list(
        session.scalars(
            select(RevealRequest)
            .where(RevealRequest.status == status)
            .order_by(RevealRequest.created_at, RevealRequest.id)
        )
    )


def decide(
    session: Session,
    request_id: int,
    approver_id: int,
    *,
    approve: bool,
    at: datetime,
    until: datetime,
    note: str | None,
) -> bool:
    """Approve or refuse a pending request made by someone else; False when it is not
    pending any more (another approver was first) or the approver made it."""
    done = session.execute(
        update(RevealRequest)
        .where(
            RevealRequest.id == request_id,
            RevealRequest.status == PENDING,
            RevealRequest.requester_id != approver_id,
        )
        .values(
            status=APPROVED if approve else REFUSED,
            decided_by=approver_id,
            decided_at=at,
            decision_note=note,
            approved_until=until if approve else None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))


def claim(session: Session, request_id: int, requester_id: int, now: datetime) -> bool:
    """Use an approved request once, while its approval lasts: False otherwise."""
    done = session.execute(
        update(RevealRequest)
        .where(
            RevealRequest.id == request_id,
            RevealRequest.requester_id == requester_id,
            RevealRequest.status == APPROVED,
            RevealRequest.approved_until > now,
        )
        .values(status=USED, used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))
