"""The demo's simulated days: the same seed gives the same days, through the real
services (visits audited, payments ingested from the lender's files)."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.demo.generate import generate_book
from doorstep.demo.setup import DemoLogin, create_people
from doorstep.demo.simulate import Summary, simulate
from doorstep.integrations.keys import personal_data_keys
from doorstep.services.ingest import ingest_files
from doorstep.services.lender import feedback
from doorstep.store.db import transaction
from doorstep.store.models import AuditEvent, Case, Payment, Verdict, Visit
from tests.factories.databases import sqlite_database
from tests.factories.people import CHEAP_HASHER

pytestmark = pytest.mark.db


def build_demo(
    folder: Path,
    *,
    customers: int,
    days: int,
    seed: int = 7,
    holdout: str = "0.05",
    engine: Engine | None = None,
) -> tuple[Engine, Settings, Summary, list[DemoLogin]]:
    """A demo book in `engine`'s database (None: a new SQLite one), its people, and
    `days` simulated days."""
    config = Settings(var_dir=folder / "var", selection_holdout=holdout)  # type: ignore[arg-type]
    engine = engine or sqlite_database(folder / "doorstep.db").engine
    today = datetime.now(config.zone).date()
    made = generate_book(folder / "book", customers=customers, seed=seed, as_of=today)
    cipher, hasher = personal_data_keys(config)
    with transaction(engine) as session:
        ingest_files(
            session,
            [made.files[e] for e in made.files if e != "demo_truth"],
            zone=config.zone,
            reports_dir=config.reports_dir,
            cipher=cipher,
            hasher=hasher,
        )
        logins = create_people(session, today, config.zone, hasher=CHEAP_HASHER)
    summary = simulate(
        engine,
        config,
        truth_file=made.files["demo_truth"],
        start=today,
        days=days,
        seed=seed,
    )
    return engine, config, summary, logins


def outcome(engine: Engine) -> dict[str, Any]:
    with Session(engine) as session:
        verdicts = session.execute(
            select(Case.customer_id, Verdict.reached, Verdict.next_step, Verdict.primary_reason)
            .join(Case, Case.id == Verdict.case_id)
            .order_by(Case.customer_id, Verdict.id)
        ).all()
        payments = session.execute(
            select(Payment.payment_id, Payment.loan_id, Payment.amount).order_by(Payment.payment_id)
        ).all()
        cases = session.execute(
            select(Case.customer_id, Case.state, Case.cancel_reason).order_by(Case.customer_id)
        ).all()
    return {"verdicts": verdicts, "payments": payments, "cases": cases}


@pytest.mark.slow
def test_the_same_seed_gives_the_same_simulated_days(tmp_path: Path) -> None:
    first, _, summary, _ = build_demo(tmp_path / "a", customers=300, days=4)
    second, _, again, _ = build_demo(tmp_path / "b", customers=300, days=4)
    assert summary == again
    assert outcome(first) == outcome(second)
    assert summary.visits > 0 and summary.payments > 0
    with Session(first) as session:
        # the visits went through the services: checked in, submitted, audited
        assert session.scalar(select(func.count()).select_from(Visit)) == summary.visits
        audited = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "visit.submit")
        )
        assert audited == summary.visits
        # the simulated payments came in through ingest, under the lender's ids
        simulated = session.scalar(
            select(func.count()).select_from(Payment).where(Payment.payment_id.like("SIM%"))
        )
        assert 0 < (simulated or 0) <= summary.payments
    first.dispose()
    second.dispose()


def test_each_simulated_days_feedback_file_holds_that_days_verdicts(
    engine: Engine, tmp_path: Path
) -> None:
    """The simulation stamps verdicts with its own clock, so the batch of each next day
    writes the lender's file of the day before with the visits made on it."""
    _, config, summary, _ = build_demo(tmp_path, customers=300, days=3, engine=engine)
    start = datetime.now(config.zone).date()
    with Session(engine) as session:
        stamps = session.execute(select(Verdict.case_id, Verdict.updated_at)).all()
    local = [(case, at.astimezone(config.zone).date()) for case, at in stamps]
    assert len(local) == summary.visits
    assert {day for _, day in local} <= {start + timedelta(days=n) for n in (1, 2, 3)}
    first = start + timedelta(days=1)  # the start's batch planned it: visits are made
    assert Counter(day for _, day in local)[first] > 0
    exports = config.var_dir / "exports"
    for n in (1, 2):  # the last day's file comes with the batch of the day after it
        day = start + timedelta(days=n)
        with feedback.daily_file(exports, day).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert {int(r["case_id"]) for r in rows} == {case for case, on in local if on == day}
        assert len(rows) == sum(on == day for _, on in local)
        assert all(
            datetime.fromisoformat(r["updated_at"]).astimezone(config.zone).date() == day
            for r in rows
        )
        assert rows or day != first, f"the feedback file of {day} has its header only"


@pytest.mark.slow
def test_simulated_days_keep_city_capacity_and_judge_only_the_borrower_met(
    tmp_path: Path,
) -> None:
    """Over simulated days no case of a city without a team is made ready (an alert
    says the city has demand), and no verdict calls hardship or evasion without the
    borrower met (issue 20, findings 3 and 4)."""
    from doorstep.store.models import Alert, Team

    engine, _, summary, _ = build_demo(tmp_path / "a", customers=300, days=4)
    assert summary.visits > 0
    with Session(engine) as session:
        served = set(session.scalars(select(Team.city)))
        unserved = session.execute(
            select(Case.city, Case.state).where(Case.city.not_in(served))
        ).all()
        judged_unmet = session.scalars(
            select(Verdict.hardship_or_evasion).where(Verdict.reached.is_(False))
        ).all()
        alerted = {
            (a.detail or {}).get("city")
            for a in session.scalars(select(Alert).where(Alert.kind == "city_without_team"))
        }
    assert unserved, "the demo book has a city without a team"
    assert {state for _, state in unserved} <= {"new", "confirming"}
    assert {city for city, _ in unserved} <= alerted
    assert judged_unmet and set(judged_unmet) == {"not_met"}
