"""Quality review of visits: a stable sample of about the configured share, reviewed by
the auditors only (once per visit, audited), and its failures on the compliance report
under the verifier and the team; the page in both languages. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from doorstep.domain.errors import Conflict, Forbidden, InvalidValue
from doorstep.services.conduct import audit
from doorstep.services.conduct.quality import CHECKLIST, Sample, record_review
from doorstep.store.db import transaction
from doorstep.store.models import Team, Visit, VisitQualityReview
from tests.factories.people import actor, user_named
from tests.factories.web import csrf_of, make_app, sign_in
from tests.factories.world import TEAM, World

pytestmark = pytest.mark.db
ALL = Sample(1.0)
PASSED = dict.fromkeys(CHECKLIST, True)


def test_the_sample_is_stable_and_about_the_share() -> None:
    sample = Sample(0.05, "k1")
    picked = {i for i in range(1, 20001) if sample.has(i)}
    assert 900 < len(picked) < 1100  # 5 % of 20 000 is 1 000 (sd ~31)
    assert picked == {i for i in range(1, 20001) if Sample(0.05, "k1").has(i)}
    assert picked != {i for i in range(1, 20001) if Sample(0.05, "k2").has(i)}  # keyed
    assert not any(Sample(0.0).has(i) for i in range(1, 1000))
    assert all(ALL.has(i) for i in range(1, 1000))


def add_visits(world: World, n: int, at: datetime) -> tuple[list[int], list[int]]:
    """`n` submitted visits of the world's team by its two verifiers; their ids and the
    verifiers' user ids."""
    with transaction(world.engine) as session:
        team = session.scalars(select(Team).order_by(Team.id)).first()
        assert team is not None
        verifiers = [user_named(session, "verifier").id, user_named(session, "verifier_mate").id]
        visits = [
            Visit(
                case_id=world.case_ids[k % len(world.case_ids)],
                team_id=team.id,
                verifier_ids=verifiers,
                state="submitted",
                checked_in_at=at + timedelta(minutes=k),
                flags=[],
            )
            for k in range(n)
        ]
        session.add_all(visits)
        session.flush()
        return [v.id for v in visits], verifiers


def test_only_auditors_review_once_and_it_is_audited(engine: Engine, world: World) -> None:
    (visit_id,), _ = add_visits(world, 1, datetime(2026, 3, 2, 2, tzinfo=UTC))
    now = datetime(2026, 3, 3, tzinfo=UTC)
    for who in ("manager", "verifier", "analyst"):
        with transaction(engine) as session, pytest.raises(Forbidden):
            record_review(session, actor(engine, who), visit_id, PASSED, {}, sample=ALL, now=now)
    auditor = actor(engine, "auditor")
    with transaction(engine) as session, pytest.raises(InvalidValue):
        record_review(session, auditor, visit_id, PASSED, {}, sample=Sample(0.0), now=now)
    partial = {k: True for k in CHECKLIST[:-1]}
    with transaction(engine) as session, pytest.raises(InvalidValue):
        record_review(session, auditor, visit_id, partial, {}, sample=ALL, now=now)
    with transaction(engine) as session:
        record_review(session, auditor, visit_id, PASSED, {}, sample=ALL, now=now)
    with transaction(engine) as session, pytest.raises(Conflict):
        record_review(session, auditor, visit_id, PASSED, {}, sample=ALL, now=now)
    with transaction(engine) as session:
        assert len(session.scalars(select(VisitQualityReview)).all()) == 1
        trail = [e.action for e in audit.timeline(session, "visit", visit_id)]
        assert trail == ["visit.quality_review"]


def test_pages_review_and_report_in_both_languages(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    at = datetime.now(UTC) - timedelta(days=2)
    (first, second), _ = add_visits(world, 2, at)
    app = make_app(engine, world, tmp_path, quality_sample=1.0)
    with TestClient(app) as client:
        csrf = sign_in(client, "manager")
        assert client.get("/quality").status_code == 403
        form = {"csrf_token": csrf, **dict.fromkeys(CHECKLIST, "yes")}
        assert client.post(f"/quality/{first}", data=form).status_code == 403
    with TestClient(app) as client:
        sign_in(client, "auditor")
        page = client.get("/quality", headers={"Accept-Language": "en"})
        assert page.status_code == 200
        assert f'data-visit="{first}"' in page.text and f'data-visit="{second}"' in page.text
        assert "Two verifiers were present" in page.text and "<script>" not in page.text
        zh = client.get("/quality").text  # the default language
        assert "外访质检" in zh and "两名核实员在场" in zh
        form = {"csrf_token": csrf_of(zh), **dict.fromkeys(CHECKLIST, "yes")}
        form |= {"no_threats": "no", "no_threats_note": "raised his voice at the door"}
        done = client.post(f"/quality/{first}", data=form, follow_redirects=False)
        assert done.status_code == 303
        assert f'data-visit="{first}"' not in client.get("/quality").text
        assert client.post(f"/quality/{first}", data=form).status_code == 409
        report = client.get("/rules/report", headers={"Accept-Language": "en"}).text
        assert 'data-failed="no_threats"' in report and "No threats × 1" in report
        csv = client.get("/rules/report.csv").text
    rows = [line.split(",") for line in csv.splitlines()[1:]]  # below the header
    for verifier in ("verifier", "verifier_mate"):
        mine = {(r[4], r[5]): r[6] for r in rows if r[3] == verifier}
        assert mine[("quality_sampled", "")] == "2" and mine[("quality_reviewed", "")] == "1"
        assert mine[("quality_failed", "no_threats")] == "1"
        assert ("quality_failed", "identified") not in mine
        team = next(r[2] for r in rows if r[3] == verifier)
        assert team == TEAM  # under the verifier's team


def test_schema_matches_the_models_and_the_migration_goes_down(engine: Engine) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from doorstep.store import migrate
    from doorstep.store.models import Base

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert not [d for d in diff if "visit_quality_reviews" in repr(d)]
    config = migrate.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0026_contacts_holds")
    assert "visit_quality_reviews" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert "visit_quality_reviews" in inspect(engine).get_table_names()
