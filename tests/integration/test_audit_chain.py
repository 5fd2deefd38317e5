"""The audit chain over a real database: intact after real work, every kind of tampering
found (changed, removed, last event dropped), the CLI's exit code, concurrent writers.
What an insider without the audit key does, and the checkpoints: test_audit_keyed.py."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select, update
from typer.testing import CliRunner

from doorstep.cli.main import app as cli
from doorstep.domain.access import Actor, Role
from doorstep.domain.audit import BrokenLink
from doorstep.services.conduct import audit, audit_checks
from doorstep.store.db import transaction
from doorstep.store.models import AuditEvent, AuditHead
from tests.factories.audit import AUDIT_KEYS
from tests.factories.databases import url_of
from tests.factories.world import build_world

pytestmark = pytest.mark.db


def verify(engine: Engine, checkpoints: Path | None = None) -> tuple[int, BrokenLink | None]:
    path = checkpoints or Path("/nonexistent/audit.checkpoints")  # none taken
    with transaction(engine) as session:
        # small batches: the stream crosses pages
        found = audit_checks.verify(session, AUDIT_KEYS, path, batch=7)
    return found.events, found.broken


def event_ids(engine: Engine) -> list[int]:
    with transaction(engine) as session:
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def test_the_chain_holds_after_real_work(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    build_world(engine, tmp_path, keys)
    checked, broken = verify(engine)
    assert broken is None
    assert checked == len(event_ids(engine)) > 20
    with transaction(engine) as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"case.open", "user.add", "team.create", "case.assign"} <= actions


@pytest.mark.parametrize(
    "change",
    [
        {"reason": "nothing to see here"},
        {"summary": {"customer_id": "C0001", "dpd": 1}},
        {"actor": "someone_else"},
    ],
    ids=["reason", "summary", "actor"],
)
def test_a_changed_event_is_reported(
    engine: Engine, tmp_path: Path, keys: tuple[object, object], change: dict[str, object]
) -> None:
    build_world(engine, tmp_path, keys)
    ids = event_ids(engine)
    middle = ids[len(ids) // 2]
    with transaction(engine) as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == middle).values(**change))
    _, broken = verify(engine)
    assert broken is not None
    assert broken.event_id == middle
    assert "content" in broken.reason


def test_a_removed_event_is_reported(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    build_world(engine, tmp_path, keys)
    ids = event_ids(engine)
    with transaction(engine) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[5]))
    _, broken = verify(engine)
    assert broken is not None and broken.event_id == ids[6]  # its successor no longer links


def test_dropping_the_last_event_is_reported_by_the_head(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    build_world(engine, tmp_path, keys)
    ids = event_ids(engine)
    with transaction(engine) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[-1]))
    checked, broken = verify(engine)
    assert checked == len(ids) - 1
    assert broken is not None and broken.event_id == 0
    assert "head" in broken.reason
    # Lowering the counter too does not hide it: the head still holds the dropped hash.
    with transaction(engine) as session:
        session.execute(update(AuditHead).values(events=AuditHead.events - 1))
    _, broken = verify(engine)
    assert broken is not None and broken.event_id == 0 and "head" in broken.reason


def test_cli_audit_verify_exit_codes(
    engine: Engine, tmp_path: Path, keys: tuple[object, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(engine, tmp_path, keys)
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DOORSTEP_DATABASE_URL", url_of(engine))
    runner = CliRunner()
    clean = runner.invoke(cli, ["audit", "verify"])
    assert clean.exit_code == 0, clean.output
    ids = event_ids(engine)
    with transaction(engine) as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == ids[3]).values(reason="rewritten")
        )
    tampered = runner.invoke(cli, ["audit", "verify"])
    assert tampered.exit_code == 1, tampered.output
    assert f"event {ids[3]}" in tampered.output


def test_concurrent_writers_keep_one_chain(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    build_world(engine, tmp_path, keys, customers=4)
    before = len(event_ids(engine))
    start, failures = threading.Barrier(2), []

    def writer(name: str) -> None:
        actor = Actor(name, Role.MANAGER)
        try:
            start.wait()
            for n in range(50):
                with transaction(engine) as session:  # one event per transaction: interleaved
                    audit.record(session, actor, "test.write", "writer", name, {"n": n})
        except Exception as exc:  # reported below, not lost in the thread
            failures.append(f"{name}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    checked, broken = verify(engine)
    assert broken is None
    assert checked == before + 100
    with transaction(engine) as session:
        by_writer = dict(
            session.execute(
                select(AuditEvent.actor, func.count())
                .where(AuditEvent.action == "test.write")
                .group_by(AuditEvent.actor)
            ).all()
        )
        prev = session.scalars(select(AuditEvent.prev_hash).order_by(AuditEvent.id)).all()
        head = session.get(AuditHead, 1)
    assert by_writer == {"w1": 50, "w2": 50}
    assert len(set(prev)) == len(prev)  # no fork: no two events extend the same event
    assert head is not None and head.events == checked
