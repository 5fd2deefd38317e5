"""Risk scoring over a real database (SQLite and PostgreSQL): visit_priority trained from a
demo book, registered, activated (audited, one active per purpose), applied with reason
codes, monitored, used by the selection, and the fairness report."""

from __future__ import annotations

import os
from decimal import Decimal

from doorstep.domain.errors import Forbidden, NotFound

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import IntegrityError

from doorstep.demo.generate import generate_book
from doorstep.domain import hardship
from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.ports import FixedClock
from doorstep.domain.selection import SelectionPolicy
from doorstep.scoring import PROTECTED, behaviour, protected_attribute
from doorstep.scoring.challenger import ChallengerConfig
from doorstep.scoring.pipeline import TrainingConfig
from doorstep.services import scoring
from doorstep.services.cases import select_cases
from doorstep.services.delinquency import run_delinquency
from doorstep.services.ingest import ingest_files
from doorstep.store import migrate
from doorstep.store.db import make_engine, transaction
from doorstep.store.models import AuditEvent, Case, ModelDrift, ModelVersion, Score
from tests.conftest import POSTGRES_URL, _postgres_problem, _postgres_reachable
from tests.factories.audit import signing
from tests.factories.databases import sqlite_database

pytestmark = pytest.mark.db
AS_OF = date(2025, 6, 30)
CLOCK = FixedClock(datetime(2025, 7, 1, 1, 30, tzinfo=UTC))
CUSTOMERS = 2_400
FAST = TrainingConfig(folds=2, calibration_folds=2, reference_rows=2000)
CHALLENGER = TrainingConfig(
    kind="challenger",
    folds=2,
    calibration_folds=2,
    challenger=ChallengerConfig(n_estimators=80, min_child_samples=20),
)
ANALYST = Actor("analyst", Role.ANALYST)
MANAGER = Actor("manager", Role.MANAGER)


@dataclass
class Book:
    engine: Engine
    folder: Path


def _load(engine: Engine, folder: Path, keys: tuple[Any, Any]) -> None:
    cipher, hasher = keys
    generate_book(folder, customers=CUSTOMERS, seed=11, as_of=AS_OF)
    (folder / "demo_truth.csv").unlink()
    with transaction(engine) as session:
        ingest_files(
            session,
            [folder],
            zone=ZoneInfo("Asia/Shanghai"),
            reports_dir=folder / "r",
            cipher=cipher,  # type: ignore[arg-type]
            hasher=hasher,  # type: ignore[arg-type]
        )
    with transaction(engine) as session:
        run_delinquency(session, AS_OF, waterfall=DEFAULT_WATERFALL, buckets=DEFAULT_BUCKETS)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def book(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    keys: tuple[Any, Any],
) -> Iterator[Book]:
    """A demo book of 2,400 customers with delinquency on AS_OF, one per backend."""
    tmp = tmp_path_factory.mktemp(f"scoring-{request.param}")
    if request.param == "sqlite":
        engine = sqlite_database(tmp / "doorstep.db").engine  # a copy of the migrated one
        _load(engine, tmp / "book", keys)
        yield Book(engine, tmp)
        engine.dispose()
        return
    if not _postgres_reachable():
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {_postgres_problem[0]}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = signing(make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}))
    try:
        migrate.upgrade(engine)
        _load(engine, tmp / "book", keys)
        yield Book(engine, tmp)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _train(engine: Engine, config: TrainingConfig = FAST) -> ModelVersion:
    with transaction(engine) as session:
        return scoring.train_visit_priority(
            session,
            ANALYST,
            AS_OF,
            config=config,
            waterfall=DEFAULT_WATERFALL,
            buckets=DEFAULT_BUCKETS,
            clock=CLOCK,
            windows=6,
        )


def _apply(engine: Engine) -> scoring.ApplyReport:
    with transaction(engine) as session:
        return scoring.apply(
            session,
            SYSTEM,
            AS_OF,
            waterfall=DEFAULT_WATERFALL,
            buckets=DEFAULT_BUCKETS,
            clock=CLOCK,
        )


@pytest.fixture(scope="module")
def trained(book: Book) -> tuple[ModelVersion, ModelVersion]:
    """visit_priority trained twice on the same book (versions 1 and 2)."""
    return _train(book.engine), _train(book.engine)


def test_visit_priority_end_to_end(book: Book, trained: tuple[ModelVersion, ModelVersion]) -> None:
    engine = book.engine
    first, second = trained

    # Training twice on the same book: the same data fingerprint and the same model.
    assert first.fingerprint == second.fingerprint
    assert first.blob_sha256 == second.blob_sha256
    assert (first.version, second.version) == (1, 2)
    assert first.status == second.status == "candidate"
    # The model learnt something real from the demo's payment stories.
    assert first.metrics["auc"] > 0.7, first.metrics
    assert first.metrics["rows"] > 300
    # No protected attribute reaches the model: neither the stored feature list nor the
    # fitted model's own inputs.
    with transaction(engine) as session:
        stored = session.get(ModelVersion, first.id)
        assert stored is not None
        bundle = scoring.load(stored)
    for names in (stored.features, bundle.features.names, list(bundle.reference.columns)):
        assert names and all(protected_attribute(n) is None for n in names), names
        for feature in bundle.features:
            assert all(protected_attribute(s) is None for s in feature.sources)
    assert not {"gender", "birth_date", "household", *PROTECTED} & set(stored.features)

    # Nothing is scored before a model is active; selection keeps its rule of thumb.
    with pytest.raises(NotFound):
        _apply(engine)

    # Activation: audited, one active per purpose, the previous one retired.
    with transaction(engine) as session:
        with pytest.raises(Forbidden):
            scoring.activate(session, MANAGER, first.id, now=CLOCK.now())
        scoring.activate(session, ANALYST, first.id, now=CLOCK.now(), reason="first model")
    with transaction(engine) as session:
        scoring.activate(session, ANALYST, second.id, now=CLOCK.now())
    with transaction(engine) as session:
        statuses = dict(session.execute(select(ModelVersion.id, ModelVersion.status)).all())
        assert statuses == {first.id: "retired", second.id: "active"}
        # the times are the caller's (activated and retired at its `now`)
        active = session.get(ModelVersion, second.id)
        retired = session.get(ModelVersion, first.id)
        assert active is not None and retired is not None
        assert active.activated_at == retired.retired_at == CLOCK.at
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "model.activate").order_by(AuditEvent.id)
        ).all()
        assert [(e.object_id, e.actor) for e in events] == [
            (str(first.id), "analyst"),
            (str(second.id), "analyst"),
        ]
        assert events[0].reason == "first model"
        assert events[1].summary["retired"] == [first.id]
    # The database itself refuses a second active version of a purpose.
    with pytest.raises(IntegrityError), transaction(engine) as session:
        session.execute(
            update(ModelVersion).where(ModelVersion.id == first.id).values(status="active")
        )

    # Apply: every past-due customer scored, probabilities in basis points, reasons in
    # both languages, drift stored.
    report = _apply(engine)
    assert report.scored > 100
    with transaction(engine) as session:
        scores = session.scalars(select(Score).where(Score.as_of == AS_OF)).all()
        assert len(scores) == report.scored
        assert all(
            isinstance(s.probability_bp, int) and 0 <= s.probability_bp <= 10_000 for s in scores
        )
        assert all(s.reasons for s in scores), "every stored score has reason codes"
        assert {s.scored_at for s in scores} == {CLOCK.at}  # stamped by the caller's clock
        for s in scores:
            assert 1 <= len(s.reasons) <= 3
            assert {"feature", "en", "zh_CN", "impact"} <= set(s.reasons[0])
            # a feature of the model, or the note that nothing cost the account anything
            assert s.reasons[0]["feature"] in [*stored.features, None]
        assert report.with_reasons > 0.9 * report.scored
        open_case_customers = set(
            session.scalars(select(Case.customer_id).where(Case.state != "cancelled"))
        )
        assert open_case_customers <= {s.customer_id for s in scores} | open_case_customers
        drift = session.scalars(select(ModelDrift).where(ModelDrift.as_of == AS_OF)).all()
        assert {d.name for d in drift} >= {"score", "max_dpd"}
        assert all(d.flagged == (d.psi > 0.25) for d in drift)
    again = _apply(engine)  # a rerun replaces the day
    assert again.scored == report.scored
    with transaction(engine) as session:
        assert len(session.scalars(select(Score.id)).all()) == report.scored

    # Selection ranks by expected value with the active model's scores of the day.
    with transaction(engine) as session:
        chosen = select_cases(
            session,
            SYSTEM,
            AS_OF,
            # no holdout here: this test is about the ranking, not the control group
            policy=SelectionPolicy(uplift_bp=2_500, visit_cost=30_000, holdout_share=Decimal(0)),
            capacity=30,
            buckets=DEFAULT_BUCKETS,
        )
        assert chosen.ranked_by == "expected_value"
        assert chosen.model_version_id == second.id
        probabilities = scoring.visit_probabilities(session, AS_OF)
        assert probabilities
        cases = session.scalars(select(Case).where(Case.state == "ready")).all()
        assert len(cases) == 30
        for case in cases:
            bp = probabilities[case.customer_id]
            expected = (bp * case.overdue_amount * 2_500 + 50_000_000) // 100_000_000 - 30_000
            assert case.priority == expected > 0
        ready = sorted(c.priority for c in cases)
        waiting = session.scalars(select(Case.priority).where(Case.state == "new")).all()
        assert not waiting or max(waiting) <= ready[0]

    # Fairness: score distribution and visit selection by gender and age band.
    with transaction(engine) as session:
        view = scoring.fairness_report(session, ANALYST, second.id)
        assert view is not None and view.scored == report.scored and view.selected > 0
        attributes = [r.attribute for r in view.reports]
        assert attributes == ["gender", "age band"]
        assert {g.group for g in view.reports[0].groups} <= {"M", "F"}
        for r in view.reports:
            assert sum(g.n for g in r.groups) == view.scored
            assert all(g.warned == (g.air < 0.8) for g in r.groups)
        page = scoring.model_view(session, ANALYST, second.id)
        assert page.drift and page.fairness is not None


def test_a_registered_version_is_stamped_by_the_callers_clock(
    book: Book, trained: tuple[ModelVersion, ModelVersion]
) -> None:
    """Training reads no system time: the version and its card carry the clock's."""
    with transaction(book.engine) as session:
        for version in trained:
            stored = session.get(ModelVersion, version.id)
            assert stored is not None
            assert stored.trained_at == CLOCK.at
            assert stored.card["trained_at"] == CLOCK.at.isoformat()


def test_reason_codes_point_at_what_moved_the_score(
    book: Book, trained: tuple[ModelVersion, ModelVersion]
) -> None:
    """Put the top reason's feature at its best value: the score moves the most."""
    engine = book.engine
    version = trained[0]
    with transaction(engine) as session:
        stored = session.get(ModelVersion, version.id)
        assert stored is not None
        bundle = scoring.load(stored)
        data = scoring.read_book(session)
    history = data.history(AS_OF, DEFAULT_WATERFALL, DEFAULT_BUCKETS)
    past_due = history[AS_OF].filter(history[AS_OF]["max_dpd"] > 0)["customer_id"].to_list()
    frame = behaviour.features(data.frames, history, AS_OF, past_due[:150])
    rows = bundle.features.frame(frame).reset_index(drop=True)
    base = bundle.points(rows)
    best = bundle.model.model.best_values  # type: ignore[attr-defined]
    moves = {}
    for name in bundle.features.names:
        changed = rows.copy()
        changed[name] = best[name]
        moves[name] = bundle.points(changed) - base
    reasons = bundle.reasons(rows)
    checked = 0
    for i, account in enumerate(reasons):
        if not account:
            continue
        gains = {name: float(m[i]) for name, m in moves.items()}
        assert gains[account[0].feature] == pytest.approx(max(gains.values()))
        assert account[0].impact == pytest.approx(max(gains.values()))
        checked += 1
    assert checked > 100


def test_challenger_and_file_training(book: Book, tmp_path: Path) -> None:
    """The challenger trains from the book too; any purpose trains from a file with a
    target, protected columns left out; activation is per purpose."""
    engine = book.engine
    challenger = _train(engine, CHALLENGER)
    assert challenger.kind == "challenger" and challenger.metrics["auc"] > 0.7
    rng = np.random.default_rng(3)
    n = 400
    income = rng.normal(8000, 2000, n)
    willingness = rng.integers(1, 6, n)
    logit = -0.6 * (willingness - 3) - 0.0003 * (income - 8000)
    import pandas as pd

    pd.DataFrame(
        {
            "willingness": willingness,
            "income": income,
            "gender": rng.choice(["M", "F"], n),
            "age": rng.integers(20, 60, n),
            "verdict_id": [f"V{i}" for i in range(n)],
            "willful": (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    ).to_csv(tmp_path / "verdicts.csv", index=False)
    with transaction(engine) as session:
        version = scoring.train_from_file(
            session,
            ANALYST,
            scoring.HARDSHIP,
            tmp_path / "verdicts.csv",
            "willful",
            config=FAST,
            clock=CLOCK,
        )
        assert version.features == ["willingness", "income"]
        assert set(version.metrics["excluded"]) == {"gender", "age", "verdict_id"}
        scoring.activate(session, ANALYST, version.id, now=CLOCK.now())
    with transaction(engine) as session:
        active = {
            v.purpose: v.id for v in scoring.list_models(session, ANALYST) if v.status == "active"
        }
        assert active[scoring.HARDSHIP] == version.id
        assert len(active) == len(set(active))
        # that model's inputs are not interview facts: the advice comes from the rules
        facts = hardship.InterviewFacts(willingness=1, borrower_reached=True, broken_promises=2)
        advice = scoring.hardship_advice(session, facts)
        assert advice["source"] == hardship.RULES_VERSION and advice["leaning"] == "evasion"

    # Labelled verdicts exported with the interview's columns train the model the advice
    # then comes from.
    rows = []
    for _ in range(n):
        f = hardship.InterviewFacts(
            willingness=int(rng.integers(1, 6)),
            borrower_reached=bool(rng.uniform() < 0.7),
            broken_promises=int(rng.integers(0, 4)),
            paid_since_overdue_fen=int(rng.choice([0, 50_000])),
        )
        willful = rng.uniform() < (0.8 if f.willingness <= 2 else 0.2)
        rows.append({**hardship.interview_row(f), "willful": int(willful)})
    pd.DataFrame(rows).to_csv(tmp_path / "interviews.csv", index=False)
    with transaction(engine) as session:
        model = scoring.train_from_file(
            session, ANALYST, scoring.HARDSHIP, tmp_path / "interviews.csv", "willful",
            config=FAST, clock=CLOCK,
        )  # fmt: skip
        assert "willingness" in model.features
        scoring.activate(session, ANALYST, model.id, now=CLOCK.now())
    with transaction(engine) as session:
        unwilling = scoring.hardship_advice(session, facts)
        willing = scoring.hardship_advice(
            session, hardship.InterviewFacts(willingness=5, borrower_reached=True)
        )
        assert unwilling["source"] == f"model hardship_vs_evasion v{model.version}"
        assert unwilling["probability"] > willing["probability"]
        assert unwilling["advice_only"] is True and unwilling["reasons"]
