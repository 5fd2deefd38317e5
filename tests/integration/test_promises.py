"""Promises to pay judged by the batch from later payments: kept, partly kept, broken
(with an alert and an outbox event), idempotent on a rerun."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from doorstep.cli.main import app as cli_app
from doorstep.services.repayment.promises import broken_promises, judge_promises
from doorstep.store.db import transaction
from doorstep.store.models import Alert, AuditEvent, Case, OutboxEvent, PromiseToPay
from tests.factories.databases import url_of
from tests.factories.repayment import four_promises
from tests.factories.world import World, build_world

pytestmark = pytest.mark.db
NOW = datetime(2024, 6, 14, 12, 0, tzinfo=UTC)  # when the batch judges (dates the events)


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    """The small world with four promises (tests/factories/repayment.py)."""
    return build_world(engine, tmp_path, keys, then=four_promises)


def statuses(engine: Engine) -> list[tuple[str, int]]:
    with transaction(engine) as session:
        return [
            (p.status, p.paid)
            for p in session.scalars(select(PromiseToPay).order_by(PromiseToPay.id))
        ]


def counts(engine: Engine) -> tuple[int, int, int]:
    with transaction(engine) as session:
        return (
            session.scalar(select(func.count()).select_from(Alert)) or 0,
            session.scalar(select(func.count()).select_from(OutboxEvent)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def test_promises_are_judged_once(engine: Engine, world: World) -> None:
    with transaction(engine) as session:
        early = judge_promises(session, date(2024, 6, 11), now=NOW)  # inside the grace: all open
    assert early.judged == {"kept": 0, "partly_kept": 0, "broken": 0}
    assert statuses(engine)[1] == ("open", 50000)  # progress recorded
    with transaction(engine) as session:
        run = judge_promises(session, date(2024, 6, 14), now=NOW, grace_days=3)
    assert run.judged == {"kept": 1, "partly_kept": 1, "broken": 1} and run.still_open == 1
    assert statuses(engine) == [
        ("kept", 100000),
        ("partly_kept", 50000),
        ("broken", 0),
        ("open", 0),
    ]
    with transaction(engine) as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.kind == "promise_broken" and alert.case_id == world.case_ids[2]
        topics = session.scalars(select(OutboxEvent.topic)).all()
        assert topics == ["promise.judged"] * 3
        case = session.get(Case, world.case_ids[2])
        assert case is not None
        assert broken_promises(session, case.customer_id) == 1
        other = session.get(Case, world.case_ids[0])
        assert other is not None and broken_promises(session, other.customer_id) == 0
    before = (statuses(engine), counts(engine))
    with transaction(engine) as session:
        again = judge_promises(session, date(2024, 6, 14), now=NOW)
    assert again.judged == {"kept": 0, "partly_kept": 0, "broken": 0}
    assert (statuses(engine), counts(engine)) == before  # a rerun changes nothing


def test_cli_batch_promises(
    engine: Engine, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORSTEP_DATABASE_URL", url_of(engine))
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(cli_app, ["batch", "promises", "--as-of", "2024-06-14"])
    assert result.exit_code == 0, result.output
    assert "broken 1" in result.output
    rerun = CliRunner().invoke(cli_app, ["batch", "promises", "--as-of", "2024-06-14"])
    assert "broken 0" in rerun.output
