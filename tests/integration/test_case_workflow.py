"""The visit cannot be skipped, through the API or the pages, on SQLite and PostgreSQL.

Only the visit service moves a case to visiting (a check-in by a team of two) and to
visited (a submission, with its verdict); a person closes only a visited case that has a
verdict, with a reason; and every close, whichever route takes it, tells the lender
through the outbox in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, delete, func, select

from doorstep.store.db import transaction
from doorstep.store.models import AuditEvent, Case, OutboxEvent, TeamMember, Verdict, Visit
from tests.factories.cases import set_state
from tests.factories.people import bearer
from tests.factories.visits import assigned_case_scheduled, every_case_judged
from tests.factories.web import make_app, sign_in
from tests.factories.world import ANYTIME_RULES, World, build_world
from tests.integration.test_visits import HOME

pytestmark = pytest.mark.db

Act = Callable[..., Response]


def through_the_api(client: TestClient, engine: Engine) -> Act:
    headers = bearer(engine, "manager")

    def act(case_id: int, **body: Any) -> Response:
        return client.post(f"/api/cases/{case_id}/actions", json=body, headers=headers)

    return act


def through_the_page(client: TestClient, engine: Engine) -> Act:
    """The case page's action form, signed in with a cookie and its CSRF token."""
    token = sign_in(client, "manager")

    def act(case_id: int, **form: Any) -> Response:
        return client.post(
            f"/cases/{case_id}/actions",
            data={**{k: str(v) for k, v in form.items()}, "csrf_token": token},
            headers={"accept": "text/html"},
            follow_redirects=False,
        )

    return act


def through_the_verdict(client: TestClient, engine: Engine) -> Act:
    """The verdict panel's close form (the only action it takes)."""
    token = sign_in(client, "manager")

    def act(case_id: int, **form: Any) -> Response:
        assert form.pop("action") == "close"
        form.pop("version", None)
        return client.post(
            f"/cases/{case_id}/verdict/close",
            data={**form, "csrf_token": token},
            headers={"accept": "text/html"},
            follow_redirects=False,
        )

    return act


ROUTES = {"api": through_the_api, "page": through_the_page, "verdict": through_the_verdict}
OK = {"api": 200, "page": 303, "verdict": 303}


def app_over(world: World, engine: Engine, tmp_path: Path) -> FastAPI:
    return make_app(engine, world, tmp_path, rules_file=ANYTIME_RULES, visit_hours="00:00-23:59")


def lender_events(engine: Engine, case_id: int) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        return [
            e.payload
            for e in session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.topic == "case.closed", OutboxEvent.key == str(case_id)
                )
            )
        ]


def state_of(engine: Engine, case_id: int) -> tuple[str, int]:
    with transaction(engine) as session:
        case = session.get_one(Case, case_id)
        return case.state, case.version


@pytest.mark.parametrize("route", ["api", "page"])
def test_a_manager_cannot_walk_a_case_past_its_visit(
    route: str, engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """The finding: start_visit → record_visit → close, each refused; the case stays
    where it was, and the lender hears nothing."""
    world = build_world(engine, tmp_path, keys)
    case_id = world.assigned_case
    with TestClient(app_over(world, engine, tmp_path)) as client:
        act = ROUTES[route](client, engine)
        for state, action, status in (
            ("scheduled", "start_visit", 403),
            ("visiting", "record_visit", 403),
            ("visited", "close", 409),  # visited by hand: no visit, so no verdict
        ):
            seen = set_state(engine, case_id, state)
            refused = act(case_id, action=action, reason="at the door", version=seen)
            assert refused.status_code == status, (action, refused.text)
            assert state_of(engine, case_id) == (state, seen), action
        refused = act(case_id, action="close", reason="at the door")
        assert "verdict" in refused.text or "结论" in refused.text
    assert lender_events(engine, case_id) == []
    with transaction(engine) as session:
        trail = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("case.%"))
        ).all()
    assert not {"case.start_visit", "case.record_visit", "case.close"} & set(trail)


@pytest.mark.parametrize("route", ["api", "page", "verdict"])
def test_every_close_says_why_and_tells_the_lender(
    route: str, engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """A visited case with its verdict closes through any route only with a reason; the
    close accepts the verdict and writes the lender's `case.closed` event."""
    world = build_world(engine, tmp_path, keys, then=every_case_judged)
    case_id = world.assigned_case
    seen = set_state(engine, case_id, "visited")
    with TestClient(app_over(world, engine, tmp_path)) as client:
        act = ROUTES[route](client, engine)
        unsaid = act(case_id, action="close", reason="  ", version=seen)
        assert unsaid.status_code == 409, unsaid.text
        assert state_of(engine, case_id) == ("visited", seen)
        closed = act(case_id, action="close", reason="verdict accepted", version=seen)
        assert closed.status_code == OK[route], closed.text
    assert state_of(engine, case_id) == ("closed", seen + 1)
    [told] = lender_events(engine, case_id)
    assert (told["case_id"], told["next_step"]) == (case_id, "plan_offer")
    with transaction(engine) as session:
        verdict = session.scalars(select(Verdict).where(Verdict.case_id == case_id)).one()
        assert verdict.reviewed_at is not None  # closing accepted it


def test_a_team_left_with_one_verifier_cannot_check_in(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """A visit is made by two: a check-in by a team of one is refused before any write."""
    world = build_world(engine, tmp_path, keys, then=assigned_case_scheduled)
    case_id = world.assigned_case
    with transaction(engine) as session:
        team_id = session.scalars(select(TeamMember.team_id)).first()
        partner = session.scalars(
            select(TeamMember.user_id)
            .where(TeamMember.team_id == team_id)
            .order_by(TeamMember.user_id.desc())
        ).first()
        session.execute(
            delete(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == partner)
        )
    at_the_door = {
        "lat": str(HOME[0]),
        "lng": str(HOME[1]),
        "accuracy": "10",
        "partner_present": "true",
        "id_shown": "true",
        "recording_on": "true",
    }
    with TestClient(app_over(world, engine, tmp_path)) as client:
        token = sign_in(client, "verifier")
        alone = client.post(
            f"/cases/{case_id}/check-in",
            data={**at_the_door, "csrf_token": token},
            headers={"accept": "text/html"},
            follow_redirects=False,
        )
    assert alone.status_code == 403, alone.text
    assert state_of(engine, case_id)[0] == "scheduled"
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Visit)) == 0
