"""Everything a case page or the API shows about one case, gathered in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
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
    timeline: list[AuditEvent]
    actions: list[str]


def case_facts(session: Session, actor: Actor, case_id: int, now: datetime) -> CaseFacts:
    """The case's facts as the actor may see them, its contacts ranked as trusted at `now`."""
    case = get_case(session, actor, case_id)
    customer = repo.customer(session, case.customer_id)
    assert customer is not None
    loans = repo.loans_of(session, case.customer_id)
    loan_ids = [loan.loan_id for loan in loans]
    history = repo.snapshots_of(session, loan_ids)
    latest: dict[str, DelinquencySnapshot] = {}
    for snap in history:  # newest first
        latest.setdefault(snap.loan_id, snap)
    contacts = ranked(session, case.customer_id, now)
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
        attempts=repo.attempts_of(session, [i for c in contacts for i in c.point_ids]),
        timeline=audit.timeline(session, "case", case.id),
        actions=actions_for(case),
    )
