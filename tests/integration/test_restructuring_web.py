"""Restructured plans through the app (SQLite and PostgreSQL): a settlement is shown as an
amount and a discount, never a rate, on the borrower's and the manager's pages in zh_CN and
en; instalment plans show both rates; the agreement is downloadable from the portal by
its borrower only; POST /api/offers/quote gives both rates or a discount."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from doorstep.domain.money import format_yuan
from doorstep.integrations.sms import LogSender
from doorstep.services.repayment import offers
from doorstep.store.db import transaction
from doorstep.store.models import Case, Loan, Offer
from tests.factories.people import actor, bearer
from tests.factories.web import csrf_of, sign_in
from tests.factories.world import AS_OF, World

pytestmark = pytest.mark.db
NOW = datetime.now(UTC)
CARD = re.compile(
    r'<section class="card plan( settlement)?" data-key="([^"]+)">(.*?)</section>', re.S
)


def borrower_of(engine: Engine, case_id: int) -> tuple[str, str]:
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        loan = session.scalars(select(Loan).where(Loan.customer_id == case.customer_id)).one()
        return case.customer_id, loan.loan_id


def offer_settlement_and_reschedule(engine: Engine, case_id: int, loan_id: str) -> int:
    manager, admin = actor(engine, "manager"), actor(engine, "admin")
    with transaction(engine) as session:
        _, options = offers.preview(session, manager, case_id, loan_id, AS_OF, offers.OfferPolicy())
        keys = [
            next(o.key for o in options if o.terms.kind.value == kind and not o.refused)
            for kind in ("settle", "reschedule")
        ]
        offer = offers.make_offer(
            session, manager, case_id, loan_id, AS_OF, offers.OfferPolicy(), keys=keys, now=NOW
        )
        offers.approve(session, admin, offer.id, now=NOW)  # a settlement's waiver is large
        return offer.id


def portal_sign_in(client: TestClient, app: FastAPI, loan_id: str, mobile: str) -> str:
    app.state.portal_sms = sender = LogSender(keep=5)
    token = csrf_of(client.get("/portal/sign-in").text)
    client.post("/portal/code", data={"loan_id": loan_id, "mobile": mobile, "csrf_token": token})
    code = re.search(r"(\d{6})", sender.recent()[0].text)
    assert code is not None
    client.post(
        "/portal/verify", data={"loan_id": loan_id, "code": code.group(1), "csrf_token": token}
    )
    return token


def test_a_settlement_is_an_amount_and_a_discount_in_both_languages(
    client: TestClient, app: FastAPI, engine: Engine, world: World
) -> None:
    customer_id, loan_id = borrower_of(engine, world.assigned_case)
    offer_id = offer_settlement_and_reschedule(engine, world.assigned_case, loan_id)
    with transaction(engine) as session:
        stored = {o["terms"]["kind"]: o for o in session.get(Offer, offer_id).options}  # type: ignore[union-attr]
    settle = stored["settle"]
    discount = format_yuan(settle["debt_total"] - settle["total_to_pay"])
    mobile = world.phones[int(customer_id[1:]) - 1]
    token = portal_sign_in(client, app, loan_id, mobile)
    for language, words in (("zh_CN", ("减免", "年化利率")), ("en", ("Discount", "Annualised"))):
        client.cookies.set("lang", language)
        page = client.get("/portal/plans").text
        cards = {m.group(2): (bool(m.group(1)), m.group(3)) for m in CARD.finditer(page)}
        assert set(cards) == {settle["key"], stored["reschedule"]["key"]}
        is_settlement, card = cards[settle["key"]]
        assert is_settlement and words[0] in card
        assert f'<dd class="discount">{discount}</dd>' in card
        assert format_yuan(settle["total_to_pay"]) in card
        assert "rate" not in card and "%" not in card and words[1] not in card
        _, plan = cards[stored["reschedule"]["key"]]
        rates = re.findall(r'<dd class="rate[^"]*">(-?\d+\.\d\d)%</dd>', plan)
        assert rates == [
            stored["reschedule"]["annualised_rate"],
            stored["reschedule"]["effective_rate"],
        ]
    # the settlement's agreement page: the same amounts, no rate
    chosen = client.post(
        "/portal/plans/accept",
        data={"offer_id": str(offer_id), "plan": settle["key"], "csrf_token": token},
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    agreement = client.get(chosen.headers["location"]).text
    assert f'<dd class="discount">{discount}</dd>' in agreement and 'class="rate' not in agreement
    # the manager's page: the settlement row shows its discount in place of the rates
    client.cookies.clear()
    sign_in(client, "manager")
    for language, word in (("zh_CN", "减免"), ("en", "discount")):
        client.cookies.set("lang", language)
        page = client.get(
            f"/cases/{world.assigned_case}/offers/new", params={"loan_id": loan_id}
        ).text
        rows = dict(re.findall(r'<tr data-key="([^"]+)"[^>]*>(.*?)</tr>', page, re.S))
        settlements = [row for key, row in rows.items() if key.startswith("settle-")]
        assert settlements and all(
            'class="num discount"' in row and word in row and 'class="num rate' not in row
            for row in settlements
        )
        plans = [row for key, row in rows.items() if key.startswith("reschedule-")]
        assert plans and all(len(re.findall(r"\d+\.\d\d%", row)) == 2 for row in plans)
    # an upfront fee is an input: the custom option carries it, and it raises the rate
    custom = {"loan_id": loan_id, "months": "12", "rate": "18"}
    page = client.get(f"/cases/{world.assigned_case}/offers/new", params=custom).text
    with_fee = client.get(
        f"/cases/{world.assigned_case}/offers/new", params={**custom, "fee": "500"}
    ).text

    def custom_rate(html: str, suffix: str) -> float:
        row = re.search(rf'<tr data-key="combined-12-[^"]*{suffix}"[^>]*>(.*?)</tr>', html, re.S)
        assert row is not None, suffix
        return float(re.findall(r"(\d+\.\d\d)%", row.group(1))[0])

    assert custom_rate(page, "-0") == 18.0
    assert custom_rate(with_fee, "-fee50000") > 18.0


def test_an_agreement_downloads_for_its_borrower_only(
    client: TestClient, app: FastAPI, engine: Engine, world: World
) -> None:
    customer_id, loan_id = borrower_of(engine, world.assigned_case)
    other_id, other_loan = borrower_of(engine, world.other_case)
    offer_id = offer_settlement_and_reschedule(engine, world.assigned_case, loan_id)
    with transaction(engine) as session:
        offer: Any = session.get(Offer, offer_id)
        key = next(o["key"] for o in offer.options if o["terms"]["kind"] == "reschedule")
    token = portal_sign_in(client, app, loan_id, world.phones[int(customer_id[1:]) - 1])
    chosen = client.post(
        "/portal/plans/accept",
        data={"offer_id": str(offer_id), "plan": key, "csrf_token": token},
        follow_redirects=False,
    )
    location = chosen.headers["location"]
    home = client.get("/portal").text
    assert 'id="agreements"' in home and f'href="{location}"' in home
    for language in ("zh_CN", "en"):
        document = client.get(f"{location}/agreement.pdf", params={"lang": language})
        assert document.status_code == 200 and document.content.startswith(b"%PDF")
        assert document.headers["content-type"] == "application/pdf"
        assert document.headers["cache-control"] == "no-store"
    assert client.get(f"{location}/agreement.pdf", params={"lang": "fr"}).status_code == 422
    client.cookies.clear()
    portal_sign_in(client, app, other_loan, world.phones[int(other_id[1:]) - 1])
    assert client.get(f"{location}/agreement.pdf").status_code == 404
    assert client.get(location).status_code == 404


def test_the_quote_api_gives_both_rates_or_a_discount(
    client: TestClient, engine: Engine, world: World
) -> None:
    manager = bearer(engine, "manager")
    credit = client.post(
        "/api/offers/quote",
        json={"amount": "100000", "fee": "1000", "payments": ["12x8833.30"]},
        headers=manager,
    )
    assert credit.status_code == 200, credit.text
    body = credit.json()
    assert (body["kind"], body["financed"], body["payments"]) == ("credit", "99000.00", 12)
    assert (body["annualised_rate"], body["effective_rate"]) == ("12.80", "13.58")
    assert body["discount"] is None
    settlement = client.post(
        "/api/offers/quote", json={"amount": "100000", "payments": ["80000"]}, headers=manager
    ).json()
    assert settlement["kind"] == "settlement"
    assert (settlement["discount"], settlement["discount_share"]) == ("20000.00", "20.00")
    assert settlement["annualised_rate"] is None and settlement["effective_rate"] is None
    bad = client.post(
        "/api/offers/quote", json={"amount": "100000", "payments": ["12x"]}, headers=manager
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem")
    verifier = bearer(engine, "verifier")
    refused = client.post(
        "/api/offers/quote", json={"amount": "1", "payments": ["1"]}, headers=verifier
    )
    assert refused.status_code == 403
