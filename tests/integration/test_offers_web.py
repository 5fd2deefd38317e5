"""The portal and offer pages through the app (no browser): sessions kept apart, a
borrower sees only their own loans and offers, refusals are clear pages that change
nothing, read counts, the auditors' queue."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from doorstep.app import create_app
from doorstep.config import Settings
from doorstep.integrations.sms import LogSender
from doorstep.store.db import transaction
from doorstep.store.models import (
    AuditEvent,
    BorrowerMessage,
    Case,
    LearnRead,
    Loan,
    Offer,
    ScheduleVersion,
)
from tests.factories.book import TEST_CIPHER
from tests.factories.web import csrf_of, sign_in
from tests.factories.world import World

pytestmark = pytest.mark.db


def borrower_of(engine: Engine, world: World, case_id: int) -> tuple[str, str, str]:
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        loan = session.scalars(select(Loan).where(Loan.customer_id == case.customer_id)).one()
        return case.customer_id, loan.loan_id, world.phones[int(case.customer_id[1:]) - 1]


def portal_sign_in(client: TestClient, app: FastAPI, loan_id: str, mobile: str) -> str:
    sender = LogSender(keep=5)
    app.state.portal_sms = sender
    token = csrf_of(client.get("/portal/sign-in").text)
    answer = client.post(
        "/portal/code", data={"loan_id": loan_id, "mobile": mobile, "csrf_token": token}
    )
    assert answer.status_code == 200 and 'name="code"' in answer.text
    code = re.search(r"(\d{6})", sender.recent()[0].text)
    assert code is not None
    done = client.post(
        "/portal/verify",
        data={"loan_id": loan_id, "code": code.group(1), "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "doorstep_portal" in done.headers["set-cookie"]
    return token


def confirm_agreement(
    client: TestClient, app: FastAPI, location: str, mobile: str, token: str
) -> None:
    """Confirm the agreement at `location` with the code sent to `mobile`."""
    page = client.get(location)
    assert page.status_code == 200 and 'id="ask-code"' in page.text
    asked = client.post(f"{location}/code", data={"mobile": mobile, "csrf_token": token})
    assert asked.status_code == 200 and 'id="confirm"' in asked.text, asked.text
    code = re.search(r"(\d{6})", app.state.portal_sms.recent()[0].text)
    assert code is not None
    done = client.post(
        f"{location}/confirm",
        data={"code": code.group(1), "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/portal?done=accepted"


def make_offer(client: TestClient, case_id: int, loan_id: str) -> tuple[int, list[str]]:
    form = client.get(f"/cases/{case_id}/offers/new", params={"loan_id": loan_id})
    assert form.status_code == 200, form.text
    keys = re.findall(r'name="keys" value="([^"]+)"', form.text)
    chosen = [k for k in keys if k.startswith(("reschedule-", "lower_rate-"))]
    answer = client.post(
        f"/cases/{case_id}/offers",
        data={"loan_id": loan_id, "keys": chosen, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    panel = client.get(f"/cases/{case_id}/plans-panel")
    offer_id = int(re.findall(r'data-offer="(\d+)"', panel.text)[0])
    return offer_id, chosen


def test_sessions_are_kept_apart(
    client: TestClient, app: FastAPI, engine: Engine, world: World
) -> None:
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/portal/sign-in"
    assert client.get("/portal/dev/codes").status_code == 404  # off unless the setting is on
    _, loan_id, mobile = borrower_of(engine, world, world.assigned_case)
    portal_sign_in(client, app, loan_id, mobile)
    home = client.get("/portal")
    assert home.status_code == 200 and f'data-loan="{loan_id}"' in home.text
    assert len(re.findall(r'data-loan="', home.text)) == 1  # their own loans only
    # a borrower's cookie is no staff session
    staff = client.get("/cases", headers={"accept": "text/html"}, follow_redirects=False)
    assert staff.status_code == 303 and staff.headers["location"].startswith("/login")


def test_a_borrower_cannot_take_another_borrowers_offer(
    client: TestClient, app: FastAPI, engine: Engine, world: World
) -> None:
    sign_in(client, "manager")
    _, other_loan, _ = borrower_of(engine, world, world.other_case)
    other_offer, other_keys = make_offer(client, world.other_case, other_loan)
    _, loan_id, mobile = borrower_of(engine, world, world.assigned_case)
    own_offer, own_keys = make_offer(client, world.assigned_case, loan_id)
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/cases").text)})
    token = portal_sign_in(client, app, loan_id, mobile)
    plans = client.get("/portal/plans").text
    assert f'value="{own_offer}"' in plans and f'value="{other_offer}"' not in plans
    refusals: list[tuple[dict[str, Any], int, str]] = [
        ({"offer_id": str(other_offer), "plan": other_keys[0]}, 404, "没有还款方案"),
        ({"offer_id": str(own_offer), "plan": "settle-1-x"}, 422, "不是本次提供的方案"),
        ({"offer_id": "1 OR 1=1", "plan": own_keys[0]}, 422, "方案编号无效"),
    ]
    for data, status, message in refusals:
        answer = client.post("/portal/plans/accept", data={**data, "csrf_token": token})
        assert answer.status_code == status and message in answer.text
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(ScheduleVersion)) == 0
        assert set(session.scalars(select(Offer.state))) == {"offered"}
        assert not session.scalar(select(func.count()).where(AuditEvent.action == "offer.accept"))
    chosen = client.post(
        "/portal/plans/accept",
        data={"offer_id": str(own_offer), "plan": own_keys[0], "csrf_token": token},
        follow_redirects=False,
    )
    assert chosen.status_code == 303  # to the agreement: nothing is accepted yet
    location = chosen.headers["location"]
    assert re.fullmatch(r"/portal/agreements/\d+", location)
    with transaction(engine) as session:
        assert session.get(Offer, own_offer).state == "offered"  # type: ignore[union-attr]
    confirm_agreement(client, app, location, mobile, token)
    with transaction(engine) as session:
        assert session.get(Offer, own_offer).state == "active"  # type: ignore[union-attr]
        assert session.get(Offer, other_offer).state == "offered"  # type: ignore[union-attr]


def test_maker_cannot_approve_and_auditors_own_the_complaint_queue(
    client: TestClient, engine: Engine, world: World
) -> None:
    from doorstep.services.repayment import portal

    token = sign_in(client, "manager")
    with transaction(engine) as session:  # a settlement with a large discount
        customer_id = session.get(Case, world.assigned_case).customer_id  # type: ignore[union-attr]
        portal.complain(session, customer_id, "态度恶劣", now=datetime.now(UTC), cipher=TEST_CIPHER)
    _, loan_id, _ = borrower_of(engine, world, world.assigned_case)
    form = client.get(f"/cases/{world.assigned_case}/offers/new", params={"loan_id": loan_id})
    settle = next(
        k for k in re.findall(r'name="keys" value="([^"]+)"', form.text) if k.startswith("settle-")
    )
    client.post(
        f"/cases/{world.assigned_case}/offers",
        data={"loan_id": loan_id, "keys": [settle], "csrf_token": token},
    )
    with transaction(engine) as session:
        offer = session.scalars(select(Offer)).one()
        assert offer.needs_approval
    refused = client.post(f"/offers/{offer.id}/approve", data={"csrf_token": token})
    assert refused.status_code == 403 and "另一位经理" in refused.text
    assert client.get("/complaints").status_code == 403
    panel = client.get(f"/cases/{world.assigned_case}/plans-panel").text
    assert 'data-kind="complaint"' in panel and "态度恶劣" in panel
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, "auditor")
    queue = client.get("/complaints")
    assert queue.status_code == 200 and "态度恶劣" in queue.text


def test_learn_pages_count_reads_only(client: TestClient, engine: Engine) -> None:
    assert "每月能还多少" in client.get("/learn/budgeting").text
    client.cookies.set("lang", "en")
    assert "Budgeting in a hard month" in client.get("/learn/budgeting").text
    assert client.get("/learn/nonsense").status_code == 404
    with transaction(engine) as session:
        rows = {(r.page, r.language): r.reads for r in session.scalars(select(LearnRead))}
    assert rows == {("budgeting", "zh_CN"): 1, ("budgeting", "en"): 1}


def test_dev_page_shows_sent_codes_only_when_switched_on(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path / "dev", portal_dev_codes=True)
    app = create_app(settings, engine=engine, migrate_schema=False)
    app.state.doorstep.cipher, app.state.doorstep.hasher = world.cipher, world.hasher
    _, loan_id, mobile = borrower_of(engine, world, world.assigned_case)
    with TestClient(app) as client:
        token = csrf_of(client.get("/portal/sign-in").text)
        client.post(
            "/portal/code", data={"loan_id": loan_id, "mobile": mobile, "csrf_token": token}
        )
        page = client.get("/portal/dev/codes").text
    assert re.search(r"\d{6}", page) and mobile not in page  # the number is masked


def test_a_refused_portal_form_shows_again_with_the_reason(
    client: TestClient, app: FastAPI, engine: Engine, world: World
) -> None:
    _, loan_id, mobile = borrower_of(engine, world, world.assigned_case)
    token = portal_sign_in(client, app, loan_id, mobile)
    tell_us, visit = 'id="hardship"', 'action="/portal/slot"'
    refusals: list[tuple[str, dict[str, str], str, str]] = [
        ("/portal/complaint", {"statement": ""}, tell_us, ""),
        ("/portal/callback", {"day": "2024-02-30", "at": "10:00"}, tell_us, "day："),
        ("/portal/slot", {"day": "tomorrow", "start": "09:00", "end": "10:00"}, visit, "day："),
        ("/portal/slot", {"day": "2030-01-02", "start": "9h", "end": "10:00"}, visit, "start："),
    ]
    for path, data, form, message in refusals:
        answer = client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
        assert answer.status_code == 422, (path, answer.text)
        assert form in answer.text and 'id="error"' in answer.text and message in answer.text
    with transaction(engine) as session:
        assert not session.scalar(select(func.count()).select_from(BorrowerMessage))
    done = client.post(
        "/portal/complaint",
        data={"statement": "the visits are too early", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/portal?done=complaint"
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(BorrowerMessage)) == 1
