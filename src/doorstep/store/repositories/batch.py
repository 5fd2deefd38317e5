"""What the daily batch asks the database: its runs and steps, the PostgreSQL lock of a
day's run, and the reads its steps make (deliveries already ingested, the field's
capacity and cities, the plans already made for a day)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from doorstep.store.models import BatchRun, BatchStep, ImportBatch, Team

# -- runs and steps -----------------------------------------------------------------------


def run_of_day(session: Session, as_of: date) -> BatchRun | None:
    """The day's run, if the batch ever started for it (one row per day)."""
    return session.scalar(select(BatchRun).where(BatchRun.as_of == as_of))


def steps_by_name(session: Session, run_id: int) -> dict[str, BatchStep]:
    return {s.name: s for s in session.scalars(select(BatchStep).where(BatchStep.run_id == run_id))}


def step_of_run(session: Session, run_id: int, name: str) -> BatchStep:
    """The run's step of that name (it exists: the run is opened with all its steps)."""
    return session.scalars(
        select(BatchStep).where(BatchStep.run_id == run_id, BatchStep.name == name)
    ).one()


def step_state(session: Session, run_id: int, name: str) -> str | None:
    return session.scalar(
        select(BatchStep.state).where(BatchStep.run_id == run_id, BatchStep.name == name)
    )


def latest_runs(session: Session, limit: int) -> list[tuple[BatchRun, list[BatchStep]]]:
    """The latest `limit` runs with their steps in order, newest day first."""
    latest = session.scalars(select(BatchRun).order_by(BatchRun.as_of.desc()).limit(limit)).all()
    steps = session.scalars(
        select(BatchStep)
        .where(BatchStep.run_id.in_([r.id for r in latest]))
        .order_by(BatchStep.run_id, BatchStep.seq)
    ).all()
    by_run: dict[int, list[BatchStep]] = {}
    for step in steps:
        by_run.setdefault(step.run_id, []).append(step)
    return [(run, by_run.get(run.id, [])) for run in latest]


# -- the day's lock on PostgreSQL (session-level advisory locks die with their connection) --


def current_schema(connection: Connection) -> str:
    return connection.execute(text("SELECT current_schema()")).scalar() or ""


def try_advisory_lock(connection: Connection, key: int) -> bool:
    """Take the advisory lock `key` for this connection's session, if it is free."""
    return bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())


def advisory_unlock(connection: Connection, key: int) -> None:
    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    connection.commit()


# -- what the steps read ------------------------------------------------------------------


def applied_file_hashes(session: Session) -> set[str]:
    """The SHA-256 of every file of every applied import batch."""
    return {
        f["sha256"] for files in session.scalars(select(ImportBatch.files)) for f in files or ()
    }


def field_capacity(session: Session) -> int:  # all teams together
    """What the teams in the field can visit in a day, all together."""
    return int(session.scalar(select(func.coalesce(func.sum(Team.max_visits), 0))) or 0)


def capacity_by_city(session: Session) -> dict[str, int]:
    """What each city's teams can visit in a day (a team without a city counts for none)."""
    rows = session.execute(
        select(Team.city, func.sum(Team.max_visits))
        .where(Team.city.is_not(None))
        .group_by(Team.city)
    )
    return {str(city): int(total or 0) for city, total in rows}


def team_cities(session: Session) -> set[str]:
    """The cities that have a team."""
    return {c for c in session.scalars(select(Team.city)) if c}
