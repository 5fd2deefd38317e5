"""The pages' form action: a refusal undoes what the work wrote and shows why (the error
page with the error's status and the way back, or the route's own form); else the work is
committed before the browser is sent on (303). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.middleware.sessions import SessionMiddleware

from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError, InvalidValue, NotFound
from doorstep.services.conduct import audit
from doorstep.store.models import AuditEvent
from doorstep.web.forms import act, day_field

pytestmark = pytest.mark.db


def events(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    """A page that writes an audit event, then refuses when asked to."""
    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key="test")
    committed_before_then: list[int] = []

    @app.post("/things/{thing}")
    def thing(request: Request, thing: int, refuse: str = "", own: str = "") -> Response:
        with Session(engine) as session:

            def work() -> int:
                audit.record(session, SYSTEM, "thing.touch", "thing", thing, {})
                if refuse == "missing":
                    raise NotFound("no such thing", message_zh="没有这个东西")
                if refuse:
                    raise InvalidValue("not like that", message_zh="不能这样")
                return thing * 2

            def then(doubled: int) -> str:
                committed_before_then.append(events(engine))  # seen from another connection
                return f"/things/{doubled}"

            def own_form(exc: DoorstepError) -> HTMLResponse:
                # The form shows the state before the work: what it wrote is undone.
                seen = session.scalar(select(func.count()).select_from(AuditEvent))
                return HTMLResponse(f"{exc.message}; events: {seen}", status_code=400)

            return act(
                request,
                session,
                work,
                then,
                back=f"/things/{thing}/edit",
                refused=own_form if own else None,
            )

    app.state.committed_before_then = committed_before_then
    with TestClient(app) as client:
        yield client


def test_done_is_committed_then_redirected(client: TestClient, engine: Engine) -> None:
    answer = client.post("/things/21", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/things/42"
    assert events(engine) == 1
    assert client.app.state.committed_before_then == [1]  # type: ignore[attr-defined]


def test_a_refusal_writes_nothing_and_shows_why(client: TestClient, engine: Engine) -> None:
    missing = client.post("/things/21", params={"refuse": "missing"})
    assert missing.status_code == 404 and "没有这个东西" in missing.text  # zh_CN by default
    client.cookies.set("lang", "en")
    refused = client.post("/things/21", params={"refuse": "yes"})
    assert refused.status_code == 422
    assert "not like that" in refused.text and 'href="/things/21/edit"' in refused.text
    own = client.post("/things/21", params={"refuse": "yes", "own": "yes"})
    assert own.status_code == 400 and own.text == "not like that; events: 0"
    assert events(engine) == 0
    assert client.app.state.committed_before_then == []  # type: ignore[attr-defined]


def test_a_date_field() -> None:
    assert day_field(" 2024-07-01 ", "end") == date(2024, 7, 1)
    for bad in ("2024-13-01", "01/07/2024", ""):
        with pytest.raises(InvalidValue, match=r"^end: not a date") as refused:
            day_field(bad, "end")
        assert refused.value.message_zh.startswith("end：")
