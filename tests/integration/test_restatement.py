"""A backdated payment restates the snapshots already stored, on SQLite and PostgreSQL:
the next batch recomputes only the loans whose payments changed, from their earliest
changed day, rewrites the snapshots that differ and records each restatement (before,
after, why), which the batch page shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.ports import FixedClock
from doorstep.services.batch.daily import DEFAULT_STEPS, StepOutcome, run_day
from doorstep.services.delinquency import iter_snapshots
from doorstep.store.db import transaction
from doorstep.store.models import (
    BookFigure,
    DelinquencySnapshot,
    ImportBatch,
    RestatementDue,
    SnapshotRestatement,
)
from doorstep.store.repositories import book
from tests.factories.book import load_book, make_keys, small_book
from tests.factories.people import add_staff
from tests.factories.web import make_app, sign_in

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
DAYS = [date(2024, 6, 1), date(2024, 6, 2), date(2024, 6, 3)]
NEXT = date(2024, 6, 4)
STEPS = tuple(s for s in DEFAULT_STEPS if s.name in {"ingest", "delinquency", "figures"})


def clock_of(day: date) -> FixedClock:
    return FixedClock(datetime.combine(day, time(6), ZONE).astimezone(UTC))


def run(engine: Engine, config: Settings, day: date) -> dict[str, StepOutcome]:
    outcomes = run_day(engine, config, day, steps=STEPS, clock=clock_of(day))
    return {o.name: o for o in outcomes}


def deliver(config: Settings, name: str, *rows: str) -> None:
    assert config.drop_dir is not None
    folder = config.drop_dir / name
    folder.mkdir(parents=True)
    text = "payment_id,loan_id,paid_on,amount,channel\n" + "".join(f"{r}\n" for r in rows)
    (folder / "payments.csv").write_text(text, encoding="utf-8")


def stored(engine: Engine, day: date) -> pl.DataFrame:
    with engine.connect() as connection:
        return book.read_snapshots(connection, day)


def fresh(engine: Engine, day: date) -> pl.DataFrame:
    """The day's snapshots computed now from the whole book, as a rerun would."""
    with Session(engine) as session:
        frames = list(iter_snapshots(session, day, DEFAULT_WATERFALL, DEFAULT_BUCKETS))
    return pl.concat(frames).drop("unapplied").sort("loan_id")


@pytest.fixture
def config(engine: Engine, tmp_path: Path) -> Settings:
    """Four overdue loans (each paid its first installment only), the batch run for
    three days; the drop folder is where the lender's later files arrive."""
    load_book(engine, small_book(4).write(tmp_path / "book"), make_keys(), tmp_path / "r")
    settings = Settings(var_dir=tmp_path / "var", drop_dir=tmp_path / "drop")
    (tmp_path / "drop").mkdir()
    for day in DAYS:
        run(engine, settings, day)
    return settings


def test_a_backdated_payment_restates_the_days_already_computed(
    engine: Engine, config: Settings
) -> None:
    before = {day: stored(engine, day) for day in DAYS}
    assert before[DAYS[0]].filter(pl.col("loan_id") == "L0002")["dpd"].item() == 83
    # enough for everything L0002 owed on the 1st, paid that day
    deliver(config, "20240604", "B0001,L0002,2024-06-01,5000.00,transfer")

    steps = run(engine, config, NEXT)

    assert steps["ingest"].counts["restatements_due"] == 1
    assert steps["delinquency"].counts == {
        "loans": 4,
        "overdue_loans": 3,  # L0002 is paid up on the 4th too
        "restated_loans": 1,
        "recomputed": 3,  # L0002 on the three days: no other loan is recomputed
        "restated": 3,
    }
    for day in DAYS:  # every stored day is what a rerun of that day would give
        assert stored(engine, day).equals(fresh(engine, day)), day
        changed = stored(engine, day).join(before[day], on="loan_id", suffix="_before")
        moved = changed.filter(pl.col("dpd") != pl.col("dpd_before"))["loan_id"].to_list()
        assert moved == ["L0002"], day
    with Session(engine) as session:
        batch_id = session.scalars(select(ImportBatch.id).order_by(ImportBatch.id.desc())).first()
        records = session.scalars(
            select(SnapshotRestatement).order_by(SnapshotRestatement.as_of)
        ).all()
        assert [(r.run_as_of, r.loan_id, r.as_of) for r in records] == [
            (NEXT, "L0002", day) for day in DAYS
        ]
        first = records[0]
        assert (first.before["dpd"], first.after["dpd"]) == (83, 0)
        assert first.before["overdue_principal"] > first.after["overdue_principal"]
        assert (first.changed_from, first.import_batches) == (DAYS[0], [batch_id])
        assert session.scalar(select(func.count()).select_from(RestatementDue)) == 0
        untouched = session.scalar(
            select(DelinquencySnapshot.computed_at).where(
                DelinquencySnapshot.loan_id == "L0001", DelinquencySnapshot.as_of == DAYS[0]
            )
        )
        assert untouched == clock_of(DAYS[0]).now()  # other loans were not rewritten
        # the figures of the restated days follow their snapshots
        overdue = session.scalar(
            select(func.sum(BookFigure.overdue)).where(BookFigure.as_of == DAYS[0])
        )
    assert steps["figures"].counts["restated_days"] == 3
    day_one = stored(engine, DAYS[0])
    assert overdue == sum(
        day_one[c].sum()
        for c in ("overdue_principal", "overdue_interest", "overdue_fee", "overdue_penalty")
    )


def test_the_batch_page_shows_what_was_restated_and_why(
    engine: Engine, config: Settings, tmp_path: Path
) -> None:
    deliver(config, "20240604", "B0001,L0003,2024-06-02,1066.19,transfer")
    run(engine, config, NEXT)
    with transaction(engine) as session:
        add_staff(session)
    with TestClient(make_app(engine, None, tmp_path)) as client:
        sign_in(client, "manager")
        page = client.get("/batch").text
    assert 'data-testid="restated"' in page
    assert 'data-loan="L0003" data-as-of="2024-06-02"' in page
    assert 'data-loan="L0003" data-as-of="2024-06-03"' in page
    # the fields that changed, money in yuan: L0003 paid its second installment
    assert "overdue_principal=2895.72" in page and "overdue_principal=1980.21" in page
    assert "2024-06-02 起的还款有变动" in page


def test_only_payments_on_computed_days_that_changed_mark_a_loan(
    engine: Engine, config: Settings
) -> None:
    # unchanged (L0001's first payment again), and one dated after the last computed day
    deliver(
        config,
        "20240604",
        "P0001,L0001,2024-02-10,1066.19,alipay",
        "B0002,L0004,2024-06-04,500.00,transfer",
    )
    steps = run(engine, config, NEXT)
    assert "restatements_due" not in steps["ingest"].counts
    assert "restated" not in steps["delinquency"].counts
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(SnapshotRestatement)) == 0
    assert stored(engine, NEXT).equals(fresh(engine, NEXT))  # the new day counts it


def test_a_payment_moved_to_another_day_restates_from_the_earlier_one(
    engine: Engine, config: Settings
) -> None:
    """A correction that moves a payment later still restates from where it was."""
    deliver(config, "20240604", "P0003,L0003,2024-06-03,1066.19,alipay")  # was 2024-02-10
    steps = run(engine, config, NEXT)
    assert steps["delinquency"].counts["restated_loans"] == 1
    with Session(engine) as session:
        [changed_from] = session.scalars(select(SnapshotRestatement.changed_from).distinct()).all()
    assert changed_from == date(2024, 2, 10)
    for day in DAYS:
        assert stored(engine, day).equals(fresh(engine, day)), day
