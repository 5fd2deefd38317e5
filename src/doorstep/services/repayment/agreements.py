"""The agreement of a plan the borrower chose: prepared as PDF in zh_CN and in en when they
choose it, confirmed with a one-time code sent to their mobile (the portal sign-in's own
`request_code` and `verify_code`), which accepts the plan; downloadable from the portal
afterwards. Only the borrower's own agreements are ever found."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from doorstep.domain.errors import IllegalTransition, InvalidValue, NotFound
from doorstep.domain.ports import KeyedHasher
from doorstep.integrations.sms import SmsSender
from doorstep.services.conduct import audit
from doorstep.services.repayment import offers, portal_sign_in
from doorstep.services.repayment.agreement_document import LANGUAGES, AgreementFacts, render
from doorstep.store.models import Customer, Offer, PlanAgreement
from doorstep.store.repositories import agreements as repo


def prepare(
    session: Session,
    customer_id: str,
    offer_id: int,
    key: str,
    *,
    now: datetime,
    zone: ZoneInfo,
    grace_days: int,
) -> PlanAgreement:
    """The agreement of the chosen plan of the borrower's open offer, rendered once (the
    same unconfirmed one when they choose that plan again)."""
    offer, option = offers.open_plan(session, customer_id, offer_id, key, now)
    found = repo.unconfirmed(session, offer.id, key)
    if found is not None:
        return found
    customer = session.get(Customer, customer_id)
    facts = AgreementFacts(
        offer_id=offer.id,
        loan_id=offer.loan_id,
        customer_id=customer_id,
        borrower=customer.name if customer else customer_id,
        starts_on=offer.starts_on,
        debt=offer.debt,
        option=option,
        prepared=now.astimezone(zone),
        grace_days=grace_days,
    )
    zh, en = (render(language, facts) for language in LANGUAGES)
    row = PlanAgreement(
        offer_id=offer.id,
        customer_id=customer_id,
        loan_id=offer.loan_id,
        plan_key=key,
        created_at=now,
        document_zh=zh,
        document_en=en,
        sha256_zh=hashlib.sha256(zh).hexdigest(),
        sha256_en=hashlib.sha256(en).hexdigest(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        offers.borrower_actor(customer_id),
        "agreement.prepare",
        "case" if offer.case_id else "customer",
        offer.case_id or customer_id,
        {"agreement": row.id, "offer": offer.id, "plan": key, **offers.cost_of(option)},
    )
    return row


def own(session: Session, customer_id: str, agreement_id: int) -> PlanAgreement:
    """The borrower's agreement; another borrower's is not found."""
    row = repo.agreement(session, agreement_id)
    if row is None or row.customer_id != customer_id:
        raise NotFound(f"no agreement {agreement_id}", message_zh=f"没有协议 {agreement_id}")
    return row


def _unconfirmed(session: Session, customer_id: str, agreement_id: int) -> PlanAgreement:
    row = own(session, customer_id, agreement_id)
    if row.confirmed_at is not None:
        raise IllegalTransition(
            "this agreement is already confirmed", message_zh="该协议已确认，无需再次确认"
        )
    return row


def send_code(
    session: Session,
    sender: SmsSender,
    hasher: KeyedHasher,
    customer_id: str,
    agreement_id: int,
    mobile: str,
    address: str,
    now: datetime,
) -> PlanAgreement:
    """Send the one-time code that confirms the agreement to the borrower's mobile (the
    sign-in's code: the same checks and throttles)."""
    row = _unconfirmed(session, customer_id, agreement_id)
    portal_sign_in.request_code(session, sender, hasher, row.loan_id, mobile, address, now)
    return row


def confirm(
    session: Session,
    hasher: KeyedHasher,
    customer_id: str,
    agreement_id: int,
    code: str,
    *,
    now: datetime,
    today: date,
) -> PlanAgreement:
    """The borrower's code confirms the agreement and accepts its plan (the upfront fee,
    if any, falls due `today`). A wrong code counts a try, as at sign-in."""
    row = _unconfirmed(session, customer_id, agreement_id)
    offers.open_plan(session, customer_id, row.offer_id, row.plan_key, now)  # still open?
    token = portal_sign_in.verify_code(session, hasher, row.loan_id, code, now)
    # the code's check opens a session of its own: not needed, the borrower is in theirs
    portal_sign_in.sign_out(session, token, now)
    offer = offers.accept(
        session, customer_id, row.offer_id, row.plan_key, now=now, agreed_on=today
    )
    row.confirmed_at = now
    session.flush()
    audit.record(
        session,
        offers.borrower_actor(customer_id),
        "agreement.confirm",
        "case" if offer.case_id else "customer",
        offer.case_id or customer_id,
        {
            "agreement": row.id,
            "offer": offer.id,
            "plan": row.plan_key,
            "sha256_zh": row.sha256_zh,
            "sha256_en": row.sha256_en,
        },
    )
    return row


@dataclass(frozen=True)
class AgreementView:
    agreement: PlanAgreement
    offer: Offer
    option: dict[str, Any]  # the plan as stored in the offer


def view(session: Session, customer_id: str, agreement_id: int) -> AgreementView:
    row = own(session, customer_id, agreement_id)
    offer = session.get(Offer, row.offer_id)
    assert offer is not None  # a foreign key
    option = next(o for o in offer.options if o.get("key") == row.plan_key)
    return AgreementView(row, offer, option)


def of_customer(session: Session, customer_id: str, now: datetime) -> list[PlanAgreement]:
    """The borrower's confirmed agreements and those still waiting for a confirmation
    that can come (their offer is still open), newest first."""
    return [
        row
        for row in repo.of_customer(session, customer_id)
        if row.confirmed_at is not None or _still_open(session, row.offer_id, now)
    ]


def _still_open(session: Session, offer_id: int, now: datetime) -> bool:
    offer = session.get(Offer, offer_id)
    return offer is not None and offers.visible_to_borrower(offer, now)


def document(session: Session, customer_id: str, agreement_id: int, language: str) -> bytes:
    """The agreement's PDF in `language`, exactly as it was confirmed (or is to be)."""
    if language not in LANGUAGES:
        raise InvalidValue(f"lang: one of {LANGUAGES}", message_zh=f"lang：须为 {LANGUAGES} 之一")
    row = own(session, customer_id, agreement_id)
    return row.document_zh if language == "zh_CN" else row.document_en
