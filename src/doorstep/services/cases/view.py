"""Everything a case page or the API shows about one case, gathered in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.ports import Cipher
from doorstep.services.cases.contacts import RankedContact, best, ranked
from doorstep.services.cases.lookup import get_case
from doorstep.services.cases.transitions import actions_for
from doorstep.services.conduct import audit
from doorstep.store.models import (
    AuditEvent,
    Case,
    ContactAttempt,
    Customer,
    DelinquencySnapshot,
    Installment,
    Loan,
    Payment,
)
from doorstep.store.repositories import cases as repo
from doorstep.store.repositories import identity


@dataclass(frozen=True)
class SameId:
    """Another customer number the lender sent with this customer's national ID: linked
    at ingest, never merged; its latest case when the reader may see it."""

    customer_id: str
    case_id: int | None
    found_at: datetime
    file: str
    line: int | None


@dataclass
class CaseFacts:
    case: Case
    customer: Customer
    loans: list[Loan]
    latest: dict[str, DelinquencySnapshot]
    history: list[DelinquencySnapshot]
    installments: list[Installment]
    payments: list[Payment]
    contacts: list[RankedContact]
    best_phone: RankedContact | None
    best_address: RankedContact | None
    attempts: list[ContactAttempt]
    notes: dict[int, str]  # attempt id -> its note, opened for this reader
    timeline: list[AuditEvent]
    actions: list[str]
    same_id: list[SameId]  # managers only: other customer numbers with this national ID


def case_facts(
    session: Session, actor: Actor, case_id: int, now: datetime, cipher: Cipher
) -> CaseFacts:
    """The case's facts as the actor may see them, its contacts ranked as trusted at `now`,
    the contact notes opened (after the access check)."""
    case = get_case(session, actor, case_id, now)
    customer = repo.customer(session, case.customer_id)
    assert customer is not None
    loans = repo.loans_of(session, case.customer_id)
    loan_ids = [loan.loan_id for loan in loans]
    history = repo.snapshots_of(session, loan_ids)
    latest: dict[str, DelinquencySnapshot] = {}
    for snap in history:  # newest first
        latest.setdefault(snap.loan_id, snap)
    contacts = ranked(session, case.customer_id, now)
    attempts = repo.attempts_of(session, [i for c in contacts for i in c.point_ids])
    return CaseFacts(
        case=case,
        customer=customer,
        loans=loans,
        latest=latest,
        history=history,
        installments=repo.installments_of(session, loan_ids),
        payments=repo.payments_of(session, loan_ids),
        contacts=contacts,
        best_phone=best(contacts, "phone"),
        best_address=best(contacts, "address"),
        attempts=attempts,
        notes={a.id: cipher.decrypt(a.note) for a in attempts if a.note},
        timeline=audit.timeline(session, "case", case.id),
        actions=actions_for(case),
        same_id=same_id(session, actor, case.customer_id, now),
    )


def same_id(session: Session, actor: Actor, customer_id: str, now: datetime) -> list[SameId]:
    """The customer's identity links, for managers (who change cases); nobody else."""
    if not actor.can(Permission.CHANGE_CASES):
        return []
    links = identity.links_of(session, customer_id)
    others = [
        link.other_customer_id if link.customer_id == customer_id else link.customer_id
        for link in links
    ]
    cases = identity.latest_visible_cases(session, actor, others, now)
    return [
        SameId(other, cases.get(other), link.found_at, link.file, link.line)
        for other, link in zip(others, links, strict=True)
    ]
