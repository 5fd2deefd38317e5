"""The lender's feedback feed over a real database: the export rows (DESIGN §5), the API's
keyset paging, and who may read it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from doorstep.app import create_app
from doorstep.cli.feedback import FeedbackFormat, write_feedback
from doorstep.cli.main import app as cli_app
from doorstep.config import Settings
from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.errors import DoorstepError
from doorstep.services.lender import feedback
from doorstep.services.outbox import emit
from doorstep.store.db import transaction
from doorstep.store.models import (
    Case,
    Loan,
    Verdict,
    WebhookDelivery,
)
from tests.factories.databases import url_of
from tests.factories.people import bearer
from tests.factories.visits import JUDGED_AT, every_case_judged
from tests.factories.world import World, build_world

pytestmark = pytest.mark.db
AUDITOR = Actor("auditor", Role.AUDITOR)
SAME_TIME = JUDGED_AT


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    """The small world, every case visited and judged (tests/factories/visits.py)."""
    return build_world(engine, tmp_path, keys, then=every_case_judged)


def all_rows(engine: Engine, since: datetime) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        return [
            feedback.feedback_record(r) for r in feedback.iter_feedback(session, since, batch=3)
        ]


def test_rows_carry_what_the_lender_needs(engine: Engine, world: World) -> None:
    rows = all_rows(engine, datetime(2024, 1, 1, tzinfo=UTC))
    assert len(rows) == len(world.case_ids)
    first = next(r for r in rows if r["case_id"] == world.case_ids[0])
    assert first["next_step"] == "legal_review"  # the manager's override wins
    assert first["ability"] == "1234.56" and first["ptp_amount"] == "500.00"
    assert first["ptp_date"] == "2024-06-10"
    assert first["evidence_sha256"] == ["0" * 64]
    assert first["verifier_ids"] == [11, 12]
    with transaction(engine) as session:
        case = session.get(Case, world.case_ids[0])
        assert case is not None
        loans = session.scalars(
            select(Loan.loan_id).where(Loan.customer_id == case.customer_id).order_by(Loan.loan_id)
        ).all()
    assert first["loan_ids"] == list(loans) and loans
    second = next(r for r in rows if r["case_id"] == world.case_ids[1])
    assert second["next_step"] == "plan_offer" and second["ptp_amount"] is None
    keys = [(r["updated_at"], r["case_id"]) for r in rows]
    assert keys == sorted(keys, key=lambda k: k[0])
    assert all_rows(engine, datetime.now(UTC) + timedelta(days=1)) == []


def test_export_csv_and_jsonl(engine: Engine, world: World) -> None:
    since = datetime(2024, 1, 1, tzinfo=UTC)
    out = io.StringIO()
    assert write_feedback(engine, since, FeedbackFormat.csv, out) == len(world.case_ids)
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(table[0]) == list(feedback.FEEDBACK_COLUMNS)
    by_case = {int(r["case_id"]): r for r in table}
    assert by_case[world.case_ids[0]]["ability"] == "1234.56"
    assert by_case[world.case_ids[0]]["reasons"] == "job_loss;illness"
    assert by_case[world.case_ids[1]]["reached"] == "false"
    out = io.StringIO()
    write_feedback(engine, since, FeedbackFormat.jsonl, out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {line["case_id"] for line in lines} == set(world.case_ids)


def test_cli_export_writes_the_file(
    engine: Engine, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORSTEP_DATABASE_URL", url_of(engine))
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    target = tmp_path / "feedback.jsonl"
    result = CliRunner().invoke(
        cli_app,
        ["export", "feedback", "--since", "2024-01-01", "--format", "jsonl", "-o", str(target)],
    )
    assert result.exit_code == 0, result.output
    assert len(target.read_text(encoding="utf-8").splitlines()) == len(world.case_ids)
    bad = CliRunner().invoke(cli_app, ["export", "feedback", "--since", "June"])
    assert bad.exit_code != 0 and "not a date" in bad.output


def test_api_pages_every_row_once(engine: Engine, world: World, tmp_path: Path) -> None:
    app = create_app(Settings(var_dir=tmp_path / "var"), engine=engine, migrate_schema=False)
    client = TestClient(app)
    auditor = bearer(engine, "auditor")
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"since": "2024-01-01", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/api/feedback", params=params, headers=auditor)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["case_id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(world.case_ids) and len(seen) == len(set(seen))
    assert pages == len(world.case_ids) // 3 + 1
    problem = client.get("/api/feedback", params={"cursor": "garbage"}, headers=auditor)
    assert problem.status_code == 422 and "cursor" in problem.text
    naive = client.get("/api/feedback", params={"since": "2024-01-01T00:00"}, headers=auditor)
    assert naive.status_code == 422 and "since" in naive.text
    verifier = client.get("/api/feedback", headers=bearer(engine, "verifier"))
    assert verifier.status_code == 403


def test_service_refuses_bad_limits_and_roles(engine: Engine, world: World) -> None:
    with transaction(engine) as session:
        with pytest.raises(DoorstepError, match="limit"):
            feedback.feedback_page(session, AUDITOR, SAME_TIME, limit=0)
        with pytest.raises(DoorstepError):
            feedback.feedback_page(session, Actor("m", Role.MANAGER), SAME_TIME)


def test_dead_letter_page_and_retry(
    engine: Engine, world: World, tmp_path: Path, keys: tuple[Any, Any]
) -> None:
    cipher, _ = keys
    with transaction(engine) as session:
        feedback.add_endpoint(
            session,
            SYSTEM,
            "http://127.0.0.1:9/hook",
            cipher,
            destinations=feedback.Destinations(allow_private=True),
        )
        event_id = emit(
            session, "case.closed", str(world.case_ids[0]), {"case_id": 1}, now=datetime.now(UTC)
        )
        session.execute(update(WebhookDelivery).values(state="dead", attempts=8, last_status=503))
    app = create_app(Settings(var_dir=tmp_path / "var"), engine=engine, migrate_schema=False)
    client = TestClient(app)
    manager = bearer(engine, "manager")
    page = client.get("/feedback/dead-letters", headers=manager)
    assert page.status_code == 200 and event_id in page.text and "HTTP 503" in page.text
    assert (
        client.get("/feedback/dead-letters", headers=bearer(engine, "verifier")).status_code == 403
    )
    with transaction(engine) as session:
        delivery_id = session.scalars(select(WebhookDelivery.id)).one()
    done = client.post(
        f"/feedback/dead-letters/{delivery_id}/retry", headers=manager, follow_redirects=False
    )
    assert done.status_code == 303
    with transaction(engine) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None and (delivery.state, delivery.attempts) == ("pending", 0)
    again = client.post(f"/feedback/dead-letters/{delivery_id}/retry", headers=manager)
    assert again.status_code == 422 and "no-dead-letters" not in again.text
    empty = client.get("/feedback/dead-letters", headers=manager)
    assert "no-dead-letters" in empty.text


def test_the_batch_writes_the_days_feedback_file(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    """The daily batch's exports step: the file of the day before holds the verdicts last
    changed that day (Shanghai time) and no other; a rerun rewrites the same file."""
    from doorstep.services.batch import daily

    config = Settings(var_dir=tmp_path / "var")
    with transaction(engine) as session:
        that_day = session.scalars(select(Verdict.case_id).where(Verdict.updated_at == SAME_TIME))
        expected = set(that_day)
    assert 0 < len(expected) < len(world.case_ids)
    context = daily.DayContext(date(2024, 6, 4), config)  # the 3rd's verdicts, by the 4th
    for _ in range(2):
        with transaction(engine) as session:
            assert daily._exports(session, context) == {"feedback_rows": len(expected)}
    path = feedback.daily_file(tmp_path / "var" / "exports", date(2024, 6, 3))
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert {int(r["case_id"]) for r in rows} == expected
    assert not list(path.parent.glob("*.part"))
    with transaction(engine) as session:  # a day without verdicts: a file with its header
        assert daily._exports(session, daily.DayContext(date(2024, 6, 3), config)) == {
            "feedback_rows": 0
        }
