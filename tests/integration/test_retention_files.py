"""Retention deletes what goes with a borrower's personal data when its time is up (the
evidence files on disk, not only their rows; messages; notes; the change log; cached
dossiers), never what a legal hold keeps; and `batch evidence` finds the files no row
names. SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from doorstep.cli import common as cli_common
from doorstep.cli.main import app as cli
from doorstep.domain.rules import load
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services import visits
from doorstep.services.conduct import rules as conduct
from doorstep.store.db import transaction
from doorstep.store.models import (
    BorrowerMessage,
    CaseHold,
    ContactAttempt,
    ContactPoint,
    Evidence,
    IngestChange,
)
from tests.factories.people import actor
from tests.factories.privacy import (
    add_visit_with_photo,
    change_log,
    customer_of,
    repaid_and_over,
)
from tests.factories.world import World

pytestmark = pytest.mark.db
OWN, SHARED = b"\xff\xd8\xff\xe0 own photo", b"\xff\xd8\xff\xe0 shared photo"


def test_retention_deletes_expired_files_and_rows_and_keeps_held_ones(
    world: World, tmp_path: Path
) -> None:
    admin = actor(world.engine, "admin")
    store = LocalEvidenceStore(tmp_path / "evidence")
    due, held = world.other_case, world.shanghai_case
    due_customer, held_customer = customer_of(world, due), customer_of(world, held)
    own = add_visit_with_photo(world, due, store, OWN)
    shared = add_visit_with_photo(world, due, store, SHARED)
    add_visit_with_photo(world, held, store, SHARED)  # the same content, a held case's row
    for customer in (due_customer, held_customer):
        repaid_and_over(world, customer, over_for=timedelta(days=6 * 366))
    with transaction(world.engine) as session:
        session.add(CaseHold(case_id=held, type="dispute", started_by="admin"))
        point = session.scalars(
            select(ContactPoint.id).where(ContactPoint.customer_id == due_customer)
        ).first()
        assert point is not None
        session.add(
            ContactAttempt(
                contact_point_id=point,
                case_id=due,
                channel="call",
                result="no_answer",
                note="邻居说他搬走了",
                customer_id=due_customer,
                attempted_at=datetime.now(UTC) - timedelta(days=6 * 366),
            )
        )
    n = int(due_customer[1:])
    change_log(
        world,
        [
            ("customers", due_customer),
            ("contact_points", f"{due_customer}/phone/mobile/abc/application"),
            ("loans", f"L{n:04d}"),
            ("installments", f"L{n:04d}/3"),
            ("customers", held_customer),
        ],
    )
    cache = tmp_path / "dossiers"
    today = datetime.now(UTC).astimezone(load("cn").default_zone).date()
    stale = cache / (today - timedelta(days=1)).isoformat() / f"{world.assigned_case}-u3-a.pdf"
    fresh = cache / today.isoformat() / f"{world.assigned_case}-u3-b.pdf"
    for path in (stale, fresh):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF")
    stores = conduct.Stores(store, cache)

    def run(dry_run: bool) -> dict[str, conduct.RetentionLine]:
        with transaction(world.engine) as session:
            lines = conduct.retention_report(
                session,
                admin,
                datetime.now(UTC),
                pack=load("cn"),
                personal_data_years=5,
                dry_run=dry_run,
                stores=stores,
            )
        return {line.table: line for line in lines}

    planned = run(dry_run=True)
    evidence = planned["visit_evidence (rows and files)"]
    assert (evidence.past_period, evidence.legal_hold, evidence.action) == (
        3,
        1,
        "delete, 1 file(s)",
    )
    assert (planned["ingest_changes"].past_period, planned["ingest_changes"].legal_hold) == (5, 1)
    assert planned["borrower_messages"].action == "delete"
    assert planned["dossier cache (files)"].past_period == 1
    assert store.exists(own) and stale.exists()  # a dry run changes nothing
    done = run(dry_run=False)
    assert done["visit_evidence (rows and files)"].action == "deleted 2"
    assert not store.exists(own)
    assert store.exists(shared)  # the held case's row still names the same content
    assert not stale.exists() and fresh.exists()
    assert done["ingest_changes"].action == "deleted 4"
    with transaction(world.engine) as session:
        kept = session.scalars(select(Evidence.sha256)).all()
        assert kept == [shared]
        assert session.scalars(select(IngestChange.entity_key)).all() == [held_customer]
        messages = session.scalars(select(BorrowerMessage.customer_id)).all()
        assert messages == [held_customer]
        notes = session.scalars(
            select(ContactAttempt.note).where(ContactAttempt.customer_id == due_customer)
        ).all()
        assert notes == [None]


def test_orphan_evidence_files_are_reported_and_old_ones_removed(
    world: World, tmp_path: Path
) -> None:
    admin = actor(world.engine, "admin")
    store = LocalEvidenceStore(tmp_path / "evidence")
    named = add_visit_with_photo(world, world.assigned_case, store, OWN)
    old, young = store.put(b"left by a failed submission"), store.put(b"a submission under way")
    hours_ago = datetime.now(UTC).timestamp() - 3 * 3600
    os.utime(store.path_for(old), (hours_ago, hours_ago))
    now = datetime.now(UTC)
    with transaction(world.engine) as session:
        found = visits.orphan_evidence(session, store, admin, now=now)
    assert sorted((o.sha256, o.removed) for o in found) == sorted([(old, False), (young, False)])
    assert named not in {o.sha256 for o in found}
    with transaction(world.engine) as session:
        found = visits.orphan_evidence(session, store, admin, now=now, remove=True)
    assert {o.sha256: o.removed for o in found} == {old: True, young: False}
    assert not store.exists(old) and store.exists(young) and store.exists(named)


runner = CliRunner()


def test_batch_evidence_reports_orphans_and_removes_them_with_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DOORSTEP_DATABASE_URL", raising=False)
    monkeypatch.setattr(cli_common.console, "width", 250)
    store = LocalEvidenceStore(tmp_path / "var" / "evidence")
    orphan = store.put(b"nobody names me")
    long_ago = datetime.now(UTC).timestamp() - 2 * 3600
    os.utime(store.path_for(orphan), (long_ago, long_ago))
    checked = runner.invoke(cli, ["batch", "evidence"])
    assert checked.exit_code == 1 and f"orphan {orphan}" in checked.output, checked.output
    assert "1 orphan file(s) left" in checked.output and store.exists(orphan)
    removed = runner.invoke(cli, ["batch", "evidence", "--remove-orphans"])
    assert removed.exit_code == 0, removed.output
    assert "1 orphan file(s) removed" in removed.output and not store.exists(orphan)
