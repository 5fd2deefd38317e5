"""`doorstep disputes open|list|resolve` (SQLite and PostgreSQL): a manager records a
dispute from a case, sees it among the customer's holds, answers it and the lender's
outbox event carries the outcome; a verifier is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from doorstep.cli.main import app as cli
from doorstep.store.db import transaction
from doorstep.store.models import CustomerHold, OutboxEvent
from tests.factories.databases import url_of
from tests.factories.world import World

pytestmark = pytest.mark.db


def test_a_dispute_from_the_command_line(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DOORSTEP_DATABASE_URL", url_of(world.engine))
    runner, case = CliRunner(), str(world.assigned_case)
    note = ["--note", "paid at the branch"]
    refused = runner.invoke(
        cli, ["disputes", "open", case, "already_paid", *note, "--as", "verifier"]
    )
    assert refused.exit_code != 0
    opened = runner.invoke(
        cli, ["disputes", "open", case, "already_paid", *note, "--as", "manager"]
    )
    assert opened.exit_code == 0, opened.output
    with transaction(world.engine) as session:
        hold_id = session.scalars(select(CustomerHold.id)).one()
    listed = runner.invoke(cli, ["disputes", "list", case, "--as", "manager"])
    assert listed.exit_code == 0 and "already_paid" in listed.output, listed.output
    answer = ["--note", "payment found", "--as", "manager"]
    done = runner.invoke(cli, ["disputes", "resolve", str(hold_id), "upheld", *answer])
    assert done.exit_code == 0, done.output
    with transaction(world.engine) as session:
        event = session.scalars(select(OutboxEvent)).one()
        assert event.topic == "dispute.resolved" and event.payload["outcome"] == "upheld"
