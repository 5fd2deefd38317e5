"""The visit's pages over HTTP on SQLite and PostgreSQL: the day, a check-in refused 3 km
away, the submission's JSON answers (named fields, refused files, a replayed key, the end
of the assignment), the supervisor's verdict fragment, close and alerts."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from doorstep.domain.ports import FixedClock
from doorstep.services.conduct.personal_data import unseal_position
from doorstep.store.db import transaction
from doorstep.store.models import Assignment, Case, RuleDecision, User, Verdict, Visit
from tests.factories.book import TEST_CIPHER
from tests.factories.people import issue_token
from tests.factories.visits import assigned_case_scheduled
from tests.factories.web import make_app
from tests.factories.world import World, build_world
from tests.integration.test_visits import HOME

pytestmark = pytest.mark.db


def bearer(engine: Engine, username: str) -> dict[str, str]:
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        token = issue_token(session, user, label="tests")
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    """The small world, its assigned case scheduled for the visit."""
    return build_world(engine, tmp_path, keys, then=assigned_case_scheduled)


@pytest.fixture
def app(world: World, engine: Engine, tmp_path: Path) -> FastAPI:
    # The quiet-hours rule off: the test runs at any hour (the rules have their own tests).
    override = tmp_path / "rules.toml"
    override.write_text("[rules.CN-HOURS]\nenabled = false\n", encoding="utf-8")
    return make_app(engine, world, tmp_path, visit_hours="00:00-23:59", rules_file=override)


def photo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    return out.getvalue()


AT_THE_DOOR = {"partner_present": "true", "id_shown": "true", "recording_on": "true"}
FORM = {
    "met": "borrower",
    "disclosure_ack": "on",
    "address_status": "valid",
    "reasons": ["job_loss"],
    "willingness": "2",
    "ability_per_month": "0",
    "leaning": "hardship",
    "outcome": "none",
}


def test_the_visit_over_http(client: TestClient, world: World, engine: Engine) -> None:
    me = bearer(engine, "verifier")
    case_id = world.assigned_case
    day = client.get("/day", headers=me)
    assert day.status_code == 200 and day.text.count('data-testid="stop"') == 1

    position = {"lat": str(HOME[0]), "lng": str(HOME[1]), "accuracy": "12"}
    alone = client.post(f"/cases/{case_id}/check-in", data=position, headers=me)
    assert alone.status_code == 422 and "CN-VISIT-TEAM" in alone.text
    with Session(engine) as session:  # the refusal is the rules' decision, kept
        assert session.scalar(select(func.count()).select_from(RuleDecision)) == 1
    far = client.post(
        f"/cases/{case_id}/check-in",
        data={**AT_THE_DOOR, "lat": str(HOME[0] + 0.027), "lng": str(HOME[1]), "accuracy": "12"},
        headers=me,
        follow_redirects=False,
    )
    assert far.status_code == 422 and "3.0 km" in far.text and "500 m" in far.text
    bad = client.post(f"/cases/{case_id}/check-in", data={"lat": "north", "lng": "1"}, headers=me)
    assert bad.status_code == 422 and "lat" in bad.text
    now = datetime.now(UTC).isoformat()
    done = client.post(
        f"/cases/{case_id}/check-in",
        data={**AT_THE_DOOR, **position, "device_time": now},
        headers=me,
        follow_redirects=False,
    )
    assert done.status_code == 303
    visit_id = int(done.headers["location"].rsplit("/", 1)[1])
    assert client.get(f"/visits/{visit_id}", headers=me).status_code == 200
    out = client.post(
        f"/visits/{visit_id}/check-out", data=position, headers=me, follow_redirects=False
    )
    assert out.status_code == 303
    with Session(engine) as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None and visit.state == "checked_out"
        assert unseal_position(TEST_CIPHER, visit.out_position) == HOME

    missing = {k: v for k, v in FORM.items() if k != "willingness"}
    answer = client.post(
        f"/visits/{visit_id}/submit", data={**missing, "idempotency_key": "k" * 20}, headers=me
    )
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["willingness"]

    fake = {"evidence": ("door.jpg", b"<html>not a photo</html>", "image/jpeg")}
    answer = client.post(
        f"/visits/{visit_id}/submit",
        data={**FORM, "idempotency_key": "k" * 20},
        files=fake,
        headers=me,
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "evidence"
    assert "door.jpg" in answer.json()["errors"][0]["message"]

    good = {"evidence": ("door.png", photo(), "application/octet-stream")}
    first = client.post(
        f"/visits/{visit_id}/submit",
        data={**FORM, "idempotency_key": "k" * 20},
        files=good,
        headers=me,
    )
    again = client.post(
        f"/visits/{visit_id}/submit",
        data={**FORM, "idempotency_key": "k" * 20},
        files=good,
        headers=me,
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["visit_id"] == again.json()["visit_id"] == visit_id
    assert again.json()["replayed"] is True
    assert first.json()["next_step"] == "hardship_review"
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Verdict)) == 1
        assert session.scalar(select(func.count()).select_from(Visit)) == 1

    boss = bearer(engine, "manager")
    fragment = client.get(f"/cases/{case_id}/verdict", headers=boss)
    assert fragment.status_code == 200 and 'data-next-step="hardship_review"' in fragment.text
    assert "image/png" in fragment.text and 'id="close-case"' in fragment.text
    refused = client.post(
        f"/cases/{case_id}/verdict/review",
        data={"override_step": "legal_review"},
        headers=boss,
    )
    assert refused.status_code == 422 and "reason" in refused.text
    unsaid = client.post(f"/cases/{case_id}/verdict/close", headers=boss, follow_redirects=False)
    assert unsaid.status_code == 409  # a close says why
    closed = client.post(
        f"/cases/{case_id}/verdict/close",
        data={"reason": "verdict reviewed"},
        headers=boss,
        follow_redirects=False,
    )
    assert closed.status_code == 303
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.state == "closed"

    assert client.get("/alerts", headers=boss).status_code == 200
    assert client.get("/alerts", headers=me).status_code == 403


def test_a_submission_after_the_assignment_ended_is_refused_with_a_message(
    client: TestClient, world: World, engine: Engine
) -> None:
    me = bearer(engine, "verifier")
    done = client.post(
        f"/cases/{world.assigned_case}/check-in",
        data={**AT_THE_DOOR, "lat": str(HOME[0]), "lng": str(HOME[1]), "accuracy": "10"},
        headers=me,
        follow_redirects=False,
    )
    visit_id = int(done.headers["location"].rsplit("/", 1)[1])
    with transaction(engine) as session:
        session.execute(
            update(Assignment)
            .where(Assignment.case_id == world.assigned_case)
            .values(ends_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    answer = client.post(
        f"/visits/{visit_id}/submit", data={**FORM, "idempotency_key": "late-key-01"}, headers=me
    )
    assert answer.status_code == 409 and answer.json()["code"] == "assignment_ended"
    assert "no longer assigned" in answer.json()["detail"] and "draft" in answer.json()["detail"]
    with Session(engine) as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None and visit.state == "checked_in"


def test_the_visit_pages_take_the_time_from_the_apps_clock(
    client: TestClient, world: World, engine: Engine
) -> None:
    at = (datetime.now(UTC) + timedelta(minutes=3)).replace(microsecond=0)
    client.app.state.doorstep.clock = FixedClock(at)  # type: ignore[attr-defined]
    me = bearer(engine, "verifier")
    position = {"lat": str(HOME[0]), "lng": str(HOME[1]), "accuracy": "10"}
    done = client.post(
        f"/cases/{world.assigned_case}/check-in",
        data={**AT_THE_DOOR, **position},
        headers=me,
        follow_redirects=False,
    )
    visit_id = int(done.headers["location"].rsplit("/", 1)[1])
    client.post(f"/visits/{visit_id}/check-out", data=position, headers=me)
    with Session(engine) as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None and visit.checked_out_at is not None
        times = [visit.checked_in_at, visit.checked_out_at]
    assert [t if t.tzinfo else t.replace(tzinfo=UTC) for t in times] == [at, at]
