"""The privacy pages through the app (no browser): the staff list with due dates and
overdue ones highlighted, in Chinese and English, kept from the managers; a request taken
through its steps by forms and the copy downloaded; a borrower's request from the portal."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from doorstep.domain.ports import FixedClock
from doorstep.domain.privacy import ReceivedVia, RequestKind, Subject
from doorstep.services.conduct import privacy
from doorstep.store.db import transaction
from doorstep.store.models import ContactPoint, PrivacyRequest
from tests.factories.people import actor
from tests.factories.privacy import RELATIVE_PHONE, SH, add_relative, customer_of, policy
from tests.factories.web import sign_in
from tests.factories.world import World
from tests.integration.test_offers_web import borrower_of, portal_sign_in

pytestmark = pytest.mark.db
NOW = datetime(2026, 3, 25, 10, 0, tzinfo=SH)


def filed(world: World, tmp_path: Path, received: datetime, kind: RequestKind) -> int:
    new = privacy.NewRequest(
        Subject.BORROWER, kind, ReceivedVia.LETTER, customer_of(world, world.assigned_case)
    )
    with transaction(world.engine) as session:
        who = actor(world.engine, "auditor")
        return privacy.file_request(
            session, who, new, policy=policy(world, tmp_path), now=received
        ).id


def test_the_staff_list_shows_deadlines_and_highlights_overdue_ones(
    app: FastAPI, client: TestClient, world: World, tmp_path: Path
) -> None:
    app.state.doorstep.clock = FixedClock(NOW)
    late = filed(
        world, tmp_path, datetime(2026, 3, 2, 9, tzinfo=SH), RequestKind.ACCESS
    )  # due 03-17
    fresh = filed(world, tmp_path, datetime(2026, 3, 20, 9, tzinfo=SH), RequestKind.DELETE)  # 04-04
    sign_in(client, "auditor")
    page = client.get("/privacy")
    assert page.status_code == 200
    rows = {
        n: page.text.split(f'data-request="{n}"', 1)[1].split("</tr>", 1)[0] for n in (late, fresh)
    }
    assert (
        'class="overdue"' in rows[late]
        and "2026-03-17" in rows[late]
        and "已逾期 8 天" in rows[late]
    )
    assert 'class=""' in rows[fresh] and "2026-04-04" in rows[fresh] and "还剩 10 天" in rows[fresh]
    assert 'href="/privacy"' in page.text  # in the auditor's menu
    client.cookies.set("lang", "en")
    english = client.get("/privacy").text
    assert "overdue by 8 days" in english and "10 days left" in english


def test_managers_do_not_see_privacy_requests(client: TestClient, world: World) -> None:
    sign_in(client, "manager")
    assert client.get("/privacy").status_code == 403
    assert 'href="/privacy"' not in client.get("/cases").text


def test_a_third_partys_deletion_taken_through_the_forms(client: TestClient, world: World) -> None:
    point_id = add_relative(world, customer_of(world, world.assigned_case))
    token = sign_in(client, "auditor")
    made = client.post(
        "/privacy",
        data={
            "subject": "third_party",
            "kind": "delete",
            "received_via": "phone",
            "phone": RELATIVE_PHONE,
            "details": "请删除我的号码",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    detail = made.headers["location"]
    page = client.get(detail).text
    assert "请删除我的号码" in page and "139****1111" in page and RELATIVE_PHONE not in page
    for action, data in (("verify", {"identified_by": "callback"}), ("complete", {})):
        version = page.split('name="version" value="', 1)[1].split('"', 1)[0]
        answer = client.post(
            f"{detail}/{action}",
            data={**data, "csrf_token": token, "version": version},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        page = client.get(detail).text
    done = client.get(detail).text
    assert 'id="state">已完成' in done and "privacy.complete" in done
    with transaction(world.engine) as session:
        assert session.get_one(ContactPoint, point_id).value == ""
    stale = client.post(
        f"{detail}/refuse", data={"text": "无法核实身份", "csrf_token": token, "version": "1"}
    )
    assert stale.status_code == 409  # someone changed it since: nothing happens


def test_an_access_requests_copy_is_downloaded(
    app: FastAPI, client: TestClient, world: World, tmp_path: Path
) -> None:
    request_id = filed(world, tmp_path, datetime(2026, 3, 20, 9, tzinfo=SH), RequestKind.ACCESS)
    token = sign_in(client, "auditor")
    client.post(
        f"/privacy/{request_id}/verify", data={"identified_by": "written", "csrf_token": token}
    )
    copy = client.post(f"/privacy/{request_id}/export", data={"csrf_token": token})
    assert copy.status_code == 200 and copy.headers["content-type"] == "application/zip"
    assert copy.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(copy.content)) as archive:
        assert world.id_numbers[0] in archive.read("data.json").decode("utf-8")
    done = client.post(
        f"/privacy/{request_id}/complete", data={"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    assert "copy handed over: sha256" in client.get(f"/privacy/{request_id}").text


def test_a_borrower_asks_from_the_portal(app: FastAPI, client: TestClient, world: World) -> None:
    customer_id, loan_id, mobile = borrower_of(world.engine, world, world.assigned_case)
    token = portal_sign_in(client, app, loan_id, mobile)
    assert "/portal/privacy" in client.get("/portal").text
    form = client.get("/portal/privacy")
    assert form.status_code == 200 and 'name="kind"' in form.text
    refused = client.post("/portal/privacy", data={"kind": "everything", "csrf_token": token})
    assert refused.status_code == 422 and 'id="error"' in refused.text
    sent = client.post(
        "/portal/privacy",
        data={"kind": "delete", "details": "贷款结清后请删除", "csrf_token": token},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/portal?done=privacy"
    with transaction(world.engine) as session:
        request = session.scalars(select(PrivacyRequest)).one()
        assert (request.customer_id, request.subject, request.kind) == (
            customer_id,
            "borrower",
            "delete",
        )
        assert (request.state, request.identified_by, request.received_via) == (
            "verified",
            "portal_sign_in",
            "portal",
        )
        assert request.due_on - request.received_on == timedelta(days=15)
    mine = client.get("/portal/privacy").text
    assert f'data-request="{request.id}"' in mine and "身份已核实" in mine
