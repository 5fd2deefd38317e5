"""The dossier PDF is rendered once per case, day, reader and content: a repeat request is
served from the day's cache (still authorised and audited), a change to the case renders
a new document, another reader gets their own. SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, update

from doorstep.config import Settings
from doorstep.integrations import pdf
from doorstep.services.lender import dossier
from doorstep.store.db import transaction
from doorstep.store.models import Assignment, AuditEvent, Case, PlanStop, VisitPlan
from tests.factories.book import TEST_CIPHER, TEST_DATA_KEY, TEST_LOOKUP_KEY
from tests.factories.people import bearer
from tests.factories.world import World

pytestmark = pytest.mark.db


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The titles of the documents actually rendered (the real renderer, counted; in this
    process, so the count is seen)."""
    made: list[str] = []

    def counted(title: str, blocks: list[pdf.Block], footer: str) -> bytes:
        made.append(title)
        return pdf.render(title, blocks, footer=footer)

    monkeypatch.setattr(dossier, "render_apart", counted)
    return made


def test_the_renderer_process_makes_the_pdf() -> None:
    document = dossier.render_apart("案件资料", [pdf.Heading("借款人")], "页脚")
    assert document.startswith(b"%PDF") and document.rstrip().endswith(b"%%EOF")


def _cached(tmp_path: Path, case_id: int) -> list[Path]:
    return sorted((tmp_path / "var" / "cache" / "dossiers").glob(f"*/{case_id}-*.pdf.sealed"))


def _audited(engine: Engine, case_id: int) -> list[str]:
    with transaction(engine) as session:
        return list(
            session.scalars(
                select(AuditEvent.actor).where(
                    AuditEvent.action == "case.dossier", AuditEvent.object_id == str(case_id)
                )
            )
        )


def test_a_repeat_request_is_served_from_the_cache(
    client: TestClient, world: World, engine: Engine, tmp_path: Path, renders: list[str]
) -> None:
    url = f"/cases/{world.assigned_case}/dossier.pdf"
    verifier = bearer(engine, "verifier")
    first = client.get(url, headers=verifier)
    assert first.status_code == 200 and first.content.startswith(b"%PDF")
    second = client.get(url, headers=verifier)
    assert second.status_code == 200 and second.headers["cache-control"] == "no-store"
    assert second.content == first.content
    assert len(renders) == 1  # the second came from the file
    [path] = _cached(tmp_path, world.assigned_case)
    assert not path.read_bytes().startswith(b"%PDF")  # sealed at rest
    assert TEST_CIPHER.decrypt_bytes(path.read_bytes()) == first.content
    assert path.stat().st_mode & 0o077 == 0  # the service's user only
    assert _audited(engine, world.assigned_case) == ["verifier", "verifier"]  # both audited


def test_a_change_to_the_case_renders_a_new_document(
    client: TestClient, world: World, engine: Engine, tmp_path: Path, renders: list[str]
) -> None:
    url = f"/cases/{world.assigned_case}/dossier.pdf"
    verifier = bearer(engine, "verifier")
    before = client.get(url, headers=verifier).content
    with transaction(engine) as session:  # e.g. the day's batch moved the case on
        session.execute(
            update(Case)
            .where(Case.id == world.assigned_case)
            .values(max_dpd=Case.max_dpd + 30, overdue_amount=Case.overdue_amount + 12_345)
        )
    after = client.get(url, headers=verifier)
    assert after.status_code == 200 and after.content != before
    assert len(renders) == 2
    [path] = _cached(tmp_path, world.assigned_case)  # the stale version is gone
    assert TEST_CIPHER.decrypt_bytes(path.read_bytes()) == after.content
    assert client.get(url, headers=verifier).content == after.content
    assert len(renders) == 2


def test_each_reader_gets_their_own_document_and_access_is_checked_every_time(
    client: TestClient, world: World, engine: Engine, tmp_path: Path, renders: list[str]
) -> None:
    url = f"/cases/{world.assigned_case}/dossier.pdf"
    verifier, manager = bearer(engine, "verifier"), bearer(engine, "manager")
    mine = client.get(url, headers=verifier).content
    theirs = client.get(url, headers=manager)
    assert theirs.status_code == 200 and theirs.content != mine
    assert len(renders) == 2 and len(_cached(tmp_path, world.assigned_case)) == 2
    if shutil.which("pdftotext"):
        for who, data in (("verifier", mine), ("manager", theirs.content)):
            path = tmp_path / f"{who}.pdf"
            path.write_bytes(data)
            text = subprocess.run(
                ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
            ).stdout
            assert f"· {who} ·" in text  # the reader's own name in the footer
            for id_number in world.id_numbers:  # masked for every reader
                assert id_number not in text
    # the assignment ends: the cached file is not a way around the access rules
    with transaction(engine) as session:
        session.execute(update(Assignment).values(ends_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert client.get(url, headers=verifier).status_code == 404
    assert _audited(engine, world.assigned_case) == ["verifier", "manager"]


def test_earlier_days_are_dropped(
    client: TestClient, world: World, engine: Engine, tmp_path: Path, renders: list[str]
) -> None:
    old = tmp_path / "var" / "cache" / "dossiers" / "2000-01-01"
    old.mkdir(parents=True)
    (old / f"{world.assigned_case}-old.pdf").write_bytes(b"%PDF old")
    response = client.get(
        f"/cases/{world.assigned_case}/dossier.pdf", headers=bearer(engine, "verifier")
    )
    assert response.status_code == 200 and response.content != b"%PDF old"
    assert not old.exists()


def test_the_batch_renders_the_days_dossiers_ahead_for_each_verifier(
    client: TestClient, world: World, engine: Engine, tmp_path: Path, renders: list[str]
) -> None:
    from doorstep.services.batch import daily

    with transaction(engine) as session:  # published for today: scheduled, live-assigned
        session.execute(
            update(Case).where(Case.id == world.assigned_case).values(state="scheduled")
        )
    config = Settings(var_dir=tmp_path / "var", data_keys=TEST_DATA_KEY, lookup_key=TEST_LOOKUP_KEY)
    today = datetime.now(config.zone).date()
    with transaction(engine) as session:
        past = daily._dossiers(session, daily.DayContext(today - timedelta(days=1), config))
        counts = daily._dossiers(session, daily.DayContext(today, config))
    assert past == {"prepared": 0, "skipped": 0}  # a day caught up later: no one to serve
    assert counts == {"prepared": 2, "skipped": 0}  # the team's two verifiers

    # on a plan published for tomorrow, it is tomorrow's batch that prepares it
    with transaction(engine) as session:
        plan = VisitPlan(
            city="北京市",
            day=today + timedelta(days=1),
            state="published",
            seconds=1,
            cost=0,
            distance_m=0,
        )
        session.add(plan)
        session.flush()
        team = session.scalar(
            select(Assignment.team_id).where(Assignment.case_id == world.assigned_case)
        )
        stop = {"case_id": world.assigned_case, "team_id": team, "seq": 1, "status": "routed"}
        session.add(PlanStop(plan_id=plan.id, **stop))
    with transaction(engine) as session:
        later = daily._dossiers(session, daily.DayContext(today, config))
        assert later == {"prepared": 0, "skipped": 0}
        session.execute(delete(PlanStop))
        session.execute(delete(VisitPlan))
    assert len(renders) == 2 and len(_cached(tmp_path, world.assigned_case)) == 2
    assert _audited(engine, world.assigned_case) == []  # rendering is not printing

    url = f"/cases/{world.assigned_case}/dossier.pdf"
    document = client.get(url, headers=bearer(engine, "verifier"))
    assert document.status_code == 200 and document.content.startswith(b"%PDF")
    assert len(renders) == 2  # the morning's download is a file read
    assert _audited(engine, world.assigned_case) == ["verifier"]
