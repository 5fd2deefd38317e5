"""The scoring step split into partitions of whole customers gives the scores, population
stability and report of the one-pass run; a partition delivered twice changes nothing."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pytest
from sqlalchemy import Engine, delete, select

from doorstep.domain.access import SYSTEM
from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.errors import PartitionFailed
from doorstep.scoring import monitoring
from doorstep.services import scoring
from doorstep.services.delinquency import collect
from doorstep.store.db import transaction
from doorstep.store.models import ModelDrift, Score
from tests.factories.audit import signing
from tests.integration.test_jobs_worker import (  # noqa: F401 (fixtures)
    pg_url,
    task_queue,
    worker,
)
from tests.integration.test_scoring_service import (  # noqa: F401 (module fixture)
    AS_OF,
    CLOCK,
    Book,
    _apply,
    _train,
    book,
)

pytestmark = pytest.mark.db
KW: dict[str, Any] = {"waterfall": DEFAULT_WATERFALL, "buckets": DEFAULT_BUCKETS, "clock": CLOCK}


def scores(engine: Engine, version_id: int) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Score.customer_id, Score.case_id, Score.probability_bp, Score.points).where(
                Score.model_version_id == version_id, Score.as_of == AS_OF
            )
        ).all()
    found = {row[0]: tuple(row[1:]) for row in rows}
    assert len(found) == len(rows)  # no customer twice
    return found


def drift(engine: Engine, version_id: int) -> dict[str, tuple[float, bool, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(ModelDrift.name, ModelDrift.psi, ModelDrift.flagged, ModelDrift.rows).where(
                ModelDrift.model_version_id == version_id, ModelDrift.as_of == AS_OF
            )
        ).all()
    return {name: (psi, flagged, n) for name, psi, flagged, n in rows}


def partitions_in_process(engine: Engine, version_id: int, runs: list[int]) -> Any:
    """A dispatch running the partitions here, in the order `runs` gives (a partition
    listed twice is a task delivered twice); the outcome is the last run's."""

    def dispatch(as_of: date, partitions: int) -> list[Any]:
        outcomes: dict[int, Any] = {}
        for n in runs:
            with transaction(engine) as session:
                outcomes[n] = scoring.apply_partition(
                    session, as_of, n, partitions, version_id, **KW
                )
        return [outcomes[n] for n in range(partitions) if n in outcomes]

    return dispatch


def test_partitioned_scoring_equals_one_pass(book: Book) -> None:  # noqa: F811
    engine = book.engine
    version = _train(engine)
    with transaction(engine) as session:
        scoring.activate(session, SYSTEM, version.id, now=CLOCK.now())
    whole = _apply(engine)
    expected, expected_drift = scores(engine, version.id), drift(engine, version.id)
    assert whole.scored == len(expected) > 100
    with transaction(engine) as session:
        session.execute(delete(Score))
        session.execute(delete(ModelDrift))

    runs = [3, 0, 2, 1, 2]  # out of order, partition 2 delivered twice
    outcomes = collect(AS_OF, 4, partitions_in_process(engine, version.id, runs), step="scoring")
    assert all(o["scored"] for o in outcomes)  # every partition has customers
    with transaction(engine) as session:
        merged = scoring.finish_partitioned(session, SYSTEM, AS_OF, version.id, outcomes)
    assert scores(engine, version.id) == expected
    assert (merged.scored, merged.with_reasons) == (whole.scored, whole.with_reasons)
    assert merged.mean_probability == pytest.approx(whole.mean_probability, rel=1e-12)
    got = drift(engine, version.id)
    assert got.keys() == expected_drift.keys() and monitoring.SCORE in got
    for name, (psi, flagged, n) in expected_drift.items():
        assert got[name][0] == pytest.approx(psi, rel=1e-9, abs=1e-12), name
        assert got[name][1:] == (flagged, n), name

    def lost(as_of: date, partitions: int) -> list[Any]:  # partition 3 never reported
        return list(outcomes[:3])

    with pytest.raises(PartitionFailed, match=r"scoring on .*partition\(s\) 3 of 4"):
        collect(AS_OF, 4, lost, step="scoring")


@pytest.mark.parametrize("categorical", [False, True])
def test_histograms_of_parts_give_the_psi_of_the_whole(categorical: bool) -> None:
    rng = np.random.default_rng(7)
    if categorical:
        reference = pd.Series(
            rng.choice(np.array(["a", "b", "c", None], dtype=object), 500), dtype=object
        )
        current = pd.Series(
            rng.choice(np.array(["a", "c", "d", None], dtype=object), 300), dtype=object
        )
    else:
        reference = pd.Series(rng.normal(size=500))
        current = pd.Series(np.where(rng.random(300) < 0.1, np.nan, rng.normal(0.3, 1, 300)))
    whole = monitoring.psi(reference, current, categorical=categorical or None)
    pairs = [
        pair
        for part in (current[:100], current[100:250], current[250:])
        for pair in scoring.histogram(reference, part, categorical=categorical)
    ]
    values = [v for v, n in pairs for _ in range(n)]
    expanded = pd.Series(values, dtype=object if categorical else np.float64)
    assert monitoring.psi(reference, expanded, categorical=categorical or None) == whole


@pytest.mark.slow
def test_scoring_step_on_a_real_worker_equals_one_pass(
    pg_url: str,  # noqa: F811
    worker: Any,  # noqa: F811
    tmp_path: Path,
    keys: tuple[Any, Any],
) -> None:
    """The daily scoring step with a broker: partitions scored by a `doorstep worker`
    (Redis, PostgreSQL), their histograms sent back as JSON; the stored scores and drift
    are those of the one-pass run."""
    from doorstep.config import Settings
    from doorstep.services.batch.daily import DEFAULT_STEPS, run_day
    from doorstep.store import migrate
    from doorstep.store.db import make_engine
    from tests.integration.test_jobs_worker import BROKER
    from tests.integration.test_scoring_service import _load

    engine = signing(make_engine(pg_url))
    try:
        migrate.upgrade(engine)
        _load(engine, tmp_path / "book", keys)
        version = _train(engine)
        with transaction(engine) as session:
            scoring.activate(session, SYSTEM, version.id, now=CLOCK.now())
        whole = _apply(engine)
        expected, expected_drift = scores(engine, version.id), drift(engine, version.id)
        with transaction(engine) as session:
            session.execute(delete(Score))
            session.execute(delete(ModelDrift))

        config = Settings(
            var_dir=tmp_path / "batch",
            database_url=pg_url,
            broker_url=BROKER,
            delinquency_partitions=3,
            task_timeout_seconds=300,
        )
        steps = [s for s in DEFAULT_STEPS if s.name == "scoring"]
        [outcome] = run_day(engine, config, AS_OF, steps=steps)
        assert worker.poll() is None
        assert dict(outcome.counts) == {"scored": whole.scored, "partitions": 3}
        assert scores(engine, version.id) == expected
        got = drift(engine, version.id)
        assert got.keys() == expected_drift.keys()
        for name, (psi, flagged, n) in expected_drift.items():
            assert got[name][0] == pytest.approx(psi, rel=1e-9, abs=1e-12), name
            assert got[name][1:] == (flagged, n), name
    finally:
        engine.dispose()
