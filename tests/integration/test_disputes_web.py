"""The case page's holds panel (SQLite and PostgreSQL): a manager opens and answers a
dispute and the lender is told; a verifier sees no such form and is refused; a complaint
hold made without an open case is lifted by a manager with a reason; the visit-interval
override is offered for a case visited within it, and taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from doorstep.domain.access import SYSTEM
from doorstep.domain.case import Caller
from doorstep.services import cases
from doorstep.services.repayment import portal
from doorstep.store.db import transaction
from doorstep.store.models import Case, CustomerHold, OutboxEvent, RuleDecision
from tests.factories.book import TEST_CIPHER
from tests.factories.web import make_app, sign_in
from tests.factories.world import World

pytestmark = pytest.mark.db


def signed_in(world: World, tmp_path: Path, username: str) -> tuple[TestClient, str]:
    client = TestClient(make_app(world.engine, world, tmp_path), headers={"Accept-Language": "en"})
    return client, sign_in(client, username)


def test_a_manager_opens_and_resolves_a_dispute_on_the_case_page(
    world: World, tmp_path: Path
) -> None:
    client, csrf = signed_in(world, tmp_path, "manager")
    page = f"/cases/{world.assigned_case}"
    assert 'class="open-dispute"' in client.get(page).text
    form = {"csrf_token": csrf, "kind": "not_my_loan", "note": "never borrowed from this lender"}
    opened = client.post(f"{page}/disputes", data=form, follow_redirects=False)
    assert opened.status_code == 303, opened.text
    shown = client.get(page).text
    assert 'data-type="dispute"' in shown and 'class="resolve-dispute"' in shown
    with transaction(world.engine) as session:
        hold = session.scalars(select(CustomerHold)).one()
        hold_id = hold.id
    answer = {"csrf_token": csrf, "outcome": "upheld", "note": "identity theft confirmed"}
    resolved = client.post(
        f"{page}/disputes/{hold_id}/resolve", data=answer, follow_redirects=False
    )
    assert resolved.status_code == 303, resolved.text
    assert "No open hold." in client.get(page).text
    with transaction(world.engine) as session:
        event = session.scalars(select(OutboxEvent)).one()
        assert event.topic == "dispute.resolved" and event.payload["outcome"] == "upheld"


def test_a_verifier_has_no_dispute_form_and_is_refused(world: World, tmp_path: Path) -> None:
    client, csrf = signed_in(world, tmp_path, "verifier")
    page = f"/cases/{world.assigned_case}"
    assert 'class="open-dispute"' not in client.get(page).text
    form = {"csrf_token": csrf, "kind": "already_paid", "note": "paid at the branch"}
    assert client.post(f"{page}/disputes", data=form).status_code == 403
    elsewhere = client.post(f"/cases/{world.other_case}/disputes", data=form)
    assert elsewhere.status_code == 403  # the role is refused before the case is looked up
    with transaction(world.engine) as session:
        assert session.scalars(select(CustomerHold)).all() == []


def test_a_complaint_hold_without_a_case_is_lifted_on_the_page(
    world: World, tmp_path: Path
) -> None:
    with transaction(world.engine) as session:
        case = session.get(Case, world.other_case)
        assert case is not None
        cases.apply(
            session,
            SYSTEM,
            case,
            "cancel",
            by=Caller.SELECTION,
            reason="closed by the lender",
            cancel_reason="other",
        )
        portal.complain(
            session, case.customer_id, "rude visitor", now=datetime.now(UTC), cipher=TEST_CIPHER
        )
    client, csrf = signed_in(world, tmp_path, "manager")
    page = f"/cases/{world.other_case}"
    shown = client.get(page).text
    assert 'data-type="complaint"' in shown and 'class="lift-hold"' in shown
    with transaction(world.engine) as session:
        hold_id = session.scalars(select(CustomerHold.id)).one()
    lifted = client.post(
        f"{page}/holds/{hold_id}/lift",
        follow_redirects=False,
        data={"csrf_token": csrf, "reason": "answered by phone"},
    )
    assert lifted.status_code == 303, lifted.text
    with transaction(world.engine) as session:
        hold = session.get(CustomerHold, hold_id)
        assert hold is not None and hold.lift_reason == "answered by phone"


def test_the_interval_override_is_offered_and_taken_on_the_page(
    world: World, tmp_path: Path
) -> None:
    client, csrf = signed_in(world, tmp_path, "manager")
    page = f"/cases/{world.assigned_case}"
    assert 'class="override-interval"' not in client.get(page).text  # not visited lately
    with transaction(world.engine) as session:
        case = session.get(Case, world.assigned_case)
        assert case is not None
        case.visited_on = datetime.now(UTC).date() - timedelta(days=2)
    assert 'class="override-interval"' in client.get(page).text
    done = client.post(
        f"{page}/visit-interval-override",
        follow_redirects=False,
        data={"csrf_token": csrf, "reason": "borrower asked for a second visit"},
    )
    assert done.status_code == 303, done.text
    with transaction(world.engine) as session:
        kept = session.scalars(
            select(RuleDecision).where(RuleDecision.case_id == world.assigned_case)
        )
        assert any(d.override_reason for d in kept)
