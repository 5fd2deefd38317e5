"""API tokens: each scope is refused outside itself (403), an expired token is refused
(401), the last use is recorded; `doorstep users token / tokens list / tokens revoke`;
tokens issued before the scopes existed get every scope and 90 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, select, text
from typer.testing import CliRunner

from doorstep.cli import common as cli_common
from doorstep.cli.main import app as cli
from doorstep.domain.credentials import Scope
from doorstep.domain.ports import FixedClock
from doorstep.store import migrate
from doorstep.store.db import transaction
from doorstep.store.models import ApiToken, Case
from tests.factories.databases import url_of
from tests.factories.people import bearer
from tests.factories.world import World

pytestmark = pytest.mark.db

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
READ, WRITE, FEEDBACK = Scope.READ, Scope.WRITE, Scope.FEEDBACK


def requests(client: TestClient, world: World) -> dict[Scope, Any]:
    """One request per scope: what each needs (as the admin, whose role allows them all)."""
    case = world.other_case
    return {
        READ: lambda h: client.get(f"/api/cases/{case}", headers=h),
        WRITE: lambda h: client.post(
            f"/api/cases/{case}/actions",
            json={"action": "hold", "hold_reason": "complaint", "reason": "complaint by phone"},
            headers=h,
        ),
        FEEDBACK: lambda h: client.get("/api/feedback", headers=h),
    }


def hold_reason(engine: Engine, case_id: int) -> str | None:
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.hold_reason


@pytest.mark.parametrize("held", [READ, WRITE, FEEDBACK])
def test_each_scope_is_refused_outside_itself(
    world: World, client: TestClient, engine: Engine, held: Scope
) -> None:
    headers = bearer(engine, "admin", {held})
    for needed, send in requests(client, world).items():
        response = send(headers)
        if needed is held:
            assert response.status_code == 200, (held, needed, response.text)
        else:
            assert response.status_code == 403, (held, needed, response.text)
            assert response.json()["code"] == "outside_scope"
            assert f"'{needed.value}'" in response.json()["detail"]
    assert hold_reason(engine, world.other_case) == ("complaint" if held is WRITE else None)
    assert client.get("/api/me", headers=headers).status_code == 200  # who am I: any scope


def test_a_reveal_needs_the_write_scope(world: World, client: TestClient, engine: Engine) -> None:
    body = {"field": "id_number", "purpose": "contact_verification", "reason": "call back"}
    path = f"/api/cases/{world.other_case}/reveal"
    refused = client.post(path, json=body, headers=bearer(engine, "manager", {READ, FEEDBACK}))
    assert refused.status_code == 403 and refused.json()["code"] == "outside_scope"
    allowed = client.post(path, json=body, headers=bearer(engine, "manager", {WRITE}))
    assert allowed.status_code == 200, allowed.text


def test_an_expired_token_is_refused_and_its_last_use_is_kept(
    world: World, app: FastAPI, client: TestClient, engine: Engine
) -> None:
    headers = bearer(engine, "manager", {READ}, expires_at=START + timedelta(hours=1), now=START)

    def last_used() -> datetime | None:
        with transaction(engine) as session:
            return session.scalars(select(ApiToken.last_used_at)).one()

    assert last_used() is None
    app.state.doorstep.clock = FixedClock(START)
    assert client.get("/api/me", headers=headers).status_code == 200
    assert last_used() == START
    app.state.doorstep.clock = FixedClock(START + timedelta(seconds=30))
    assert client.get("/api/cases", headers=headers).status_code == 200
    assert last_used() == START  # kept to the minute: not a write per request
    app.state.doorstep.clock = FixedClock(START + timedelta(minutes=5))
    assert client.get("/api/cases", headers=headers).status_code == 200
    assert last_used() == START + timedelta(minutes=5)
    app.state.doorstep.clock = FixedClock(START + timedelta(hours=1))
    expired = client.get("/api/me", headers=headers)
    assert expired.status_code == 401 and expired.json()["code"] == "token_expired"
    assert last_used() == START + timedelta(minutes=5)


def test_the_commands_issue_list_and_revoke_tokens(
    world: World, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORSTEP_DATABASE_URL", url_of(engine))
    monkeypatch.setattr(cli_common.console, "width", 250)  # the table's rows on one line
    runner = CliRunner()
    issued = runner.invoke(
        cli, ["users", "token", "auditor", "--scope", "read,feedback", "--expires", "30"]
    )
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/feedback", headers=headers).status_code == 200
    assert client.get("/api/cases", headers=headers).status_code == 200
    with transaction(engine) as session:
        row = session.scalars(select(ApiToken)).one()
        assert row.scopes == "feedback,read"
        days = (row.expires_at - datetime.now(UTC)) / timedelta(days=1)
        assert 29.9 < days <= 30
    listed = runner.invoke(cli, ["users", "tokens", "list", "auditor"])
    assert listed.exit_code == 0 and "feedback,read" in listed.output, listed.output
    assert token not in listed.output
    assert runner.invoke(cli, ["users", "token", "auditor", "--scope", "admin"]).exit_code == 1
    revoked = runner.invoke(cli, ["users", "tokens", "revoke", str(row.id)])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/cases", headers=headers).status_code == 401


OLD = "2024-01-01 00:00:00"  # as the old schema's rows hold a time (UTC)


def test_tokens_issued_before_scopes_get_every_scope_for_90_days(engine: Engine) -> None:
    config = migrate.alembic_config(engine)
    from alembic import command

    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0017_child_partition_slots")
    assert "user_sessions" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash, active,"
                " created_at, updated_at)"
                " VALUES ('old', 'Old', 'admin', 'x', true, :t, :t)"
            ),
            {"t": OLD},
        )
        connection.execute(
            text(
                "INSERT INTO api_tokens (user_id, token_hash, label, created_at)"
                " SELECT id, :hash, 'lender feed', :t FROM users"
            ),
            {"hash": "a" * 64, "t": OLD},
        )
    migrate.upgrade(engine)
    with transaction(engine) as session:
        row = session.scalars(select(ApiToken)).one()
        assert row.scopes == "feedback,read,write"
        days = (row.expires_at - datetime.now(UTC)) / timedelta(days=1)
        assert 89.9 < days <= 90
        assert row.last_used_at is None
    assert {"user_sessions", "throttles"} <= set(inspect(engine).get_table_names())
    assert not {"login_failures", "portal_failures"} & set(inspect(engine).get_table_names())
