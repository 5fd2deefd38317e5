"""Queries of privacy requests and erasure: the request list, the do-not-contact list,
everything stored of one person (for an access request), the facts behind a legal hold,
and the deletions of a person's messages, notes, evidence rows and change-log rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, false, func, or_, select, update
from sqlalchemy.orm import Session

from doorstep.store.models import (
    Base,
    BorrowerMessage,
    Case,
    CaseHold,
    ContactAttempt,
    ContactPoint,
    ContactSuppression,
    Customer,
    DelinquencySnapshot,
    Evidence,
    IngestChange,
    Loan,
    Offer,
    Payment,
    PortalCode,
    PortalSession,
    PrivacyRequest,
    PromiseToPay,
    Verdict,
    Visit,
    VisitSlot,
)

CHUNK = 500


def requests_in(session: Session, states: Sequence[str] | None = None) -> list[PrivacyRequest]:
    """Requests in `states` (every one when None), the earliest deadline first."""
    query = select(PrivacyRequest).order_by(PrivacyRequest.due_on, PrivacyRequest.id)
    if states is not None:
        query = query.where(PrivacyRequest.state.in_(states))
    return list(session.scalars(query))


def requests_of_customer(session: Session, customer_id: str) -> list[PrivacyRequest]:
    return list(
        session.scalars(
            select(PrivacyRequest)
            .where(PrivacyRequest.customer_id == customer_id)
            .order_by(PrivacyRequest.id.desc())
        )
    )


def is_suppressed(session: Session, value_hash: str) -> bool:
    found = session.scalar(
        select(ContactSuppression.id).where(ContactSuppression.value_hash == value_hash)
    )
    return found is not None


def points_with_hash(session: Session, value_hash: str) -> list[ContactPoint]:
    """Every contact point holding this number (a relative may be the contact of several
    borrowers)."""
    return list(
        session.scalars(
            select(ContactPoint)
            .where(ContactPoint.value_hash == value_hash)
            .order_by(ContactPoint.id)
        )
    )


def attempts_on(session: Session, point_ids: list[int]) -> list[ContactAttempt]:
    return list(
        session.scalars(
            select(ContactAttempt)
            .where(ContactAttempt.contact_point_id.in_(point_ids))
            .order_by(ContactAttempt.attempted_at, ContactAttempt.id)
        )
    )


def clear_attempt_notes(session: Session, point_ids: list[int]) -> None:
    """The notes of the attempts on these contact points (they may name the person)."""
    for chunk in _chunks(point_ids):
        session.execute(
            update(ContactAttempt)
            .where(ContactAttempt.contact_point_id.in_(chunk))
            .values(note=None)
        )


# --- what is stored of one borrower (an access request) -----------------------------------


def _where(session: Session, model: type[Base], *criteria: ColumnElement[bool]) -> list[Any]:
    return list(session.scalars(select(model).where(*criteria)))


def borrower_rows(session: Session, customer_id: str) -> dict[str, list[Any]]:
    """Every row about one borrower, by table name, in a stable order."""
    loans = select(Loan.loan_id).where(Loan.customer_id == customer_id)
    cases = select(Case.id).where(Case.customer_id == customer_id)
    visits = select(Visit.id).where(Visit.case_id.in_(cases))
    rows: dict[str, list[Any]] = {
        "customers": _where(session, Customer, Customer.customer_id == customer_id),
        "contact_points": _where(session, ContactPoint, ContactPoint.customer_id == customer_id),
        "loans": _where(session, Loan, Loan.customer_id == customer_id),
        "payments": _where(session, Payment, Payment.loan_id.in_(loans)),
        "cases": _where(session, Case, Case.customer_id == customer_id),
        "contact_attempts": _where(
            session, ContactAttempt, ContactAttempt.customer_id == customer_id
        ),
        "visits": _where(session, Visit, Visit.case_id.in_(cases)),
        "visit_evidence": _where(session, Evidence, Evidence.visit_id.in_(visits)),
        "verdicts": _where(session, Verdict, Verdict.case_id.in_(cases)),
        "promises_to_pay": _where(session, PromiseToPay, PromiseToPay.customer_id == customer_id),
        "offers": _where(session, Offer, Offer.customer_id == customer_id),
        "borrower_messages": _where(
            session, BorrowerMessage, BorrowerMessage.customer_id == customer_id
        ),
        "visit_slots": _where(session, VisitSlot, VisitSlot.customer_id == customer_id),
    }
    for items in rows.values():
        items.sort(key=_primary_key)
    return rows


def _primary_key(row: Any) -> tuple[Any, ...]:
    return tuple(row.__mapper__.primary_key_from_instance(row))


# --- the facts behind a legal hold -----------------------------------------------------------


def unpaid_loans(session: Session, customer_id: str) -> list[str]:
    """The borrower's loans not repaid: their latest snapshot still owes something, or
    they have none yet (nothing says they are repaid)."""
    latest = (
        select(DelinquencySnapshot.loan_id, func.max(DelinquencySnapshot.as_of).label("as_of"))
        .group_by(DelinquencySnapshot.loan_id)
        .subquery()
    )
    owed = (
        DelinquencySnapshot.outstanding_principal
        + DelinquencySnapshot.overdue_interest
        + DelinquencySnapshot.overdue_fee
        + DelinquencySnapshot.overdue_penalty
    )
    query = (
        select(Loan.loan_id, owed)
        .outerjoin(latest, latest.c.loan_id == Loan.loan_id)
        .outerjoin(
            DelinquencySnapshot,
            (DelinquencySnapshot.loan_id == Loan.loan_id)
            & (DelinquencySnapshot.as_of == latest.c.as_of),
        )
        .where(Loan.customer_id == customer_id)
        .order_by(Loan.loan_id)
    )
    return [loan_id for loan_id, due in session.execute(query) if due is None or due > 0]


def cases_of(session: Session, customer_id: str) -> list[Case]:
    return list(
        session.scalars(select(Case).where(Case.customer_id == customer_id).order_by(Case.id))
    )


def legal_matters(
    session: Session, customer_id: str, hold_types: Sequence[str], now: datetime
) -> list[tuple[str, datetime | None]]:
    """(why, ends at) of the borrower's open legal matters: active holds of `hold_types`
    (a dispute) and cases whose latest verdict sends them to legal review."""
    cases = select(Case.id).where(Case.customer_id == customer_id)
    holds = session.execute(
        select(CaseHold.case_id, CaseHold.type, CaseHold.ends_at).where(
            CaseHold.case_id.in_(cases),
            CaseHold.type.in_(hold_types),
            CaseHold.lifted_at.is_(None),
            or_(CaseHold.ends_at.is_(None), CaseHold.ends_at > now),
        )
    )
    found: list[tuple[str, datetime | None]] = [
        (f"case {case_id}: {kind} hold", ends) for case_id, kind, ends in holds
    ]
    review = session.scalars(
        select(Verdict.case_id)
        .where(
            Verdict.case_id.in_(cases),
            or_(Verdict.override_step == "legal_review", Verdict.next_step == "legal_review"),
        )
        .distinct()
    )
    found += [(f"case {case_id}: legal review", None) for case_id in review]
    return found


def last_collection_activity(session: Session, customer_id: str) -> datetime | None:
    """The latest of the borrower's case updates, contact attempts and visits."""
    cases = select(Case.id).where(Case.customer_id == customer_id)
    times = [
        session.scalar(select(func.max(Case.updated_at)).where(Case.customer_id == customer_id)),
        session.scalar(
            select(func.max(ContactAttempt.attempted_at)).where(
                ContactAttempt.customer_id == customer_id
            )
        ),
        session.scalar(select(func.max(Visit.checked_in_at)).where(Visit.case_id.in_(cases))),
    ]
    known = [t for t in times if t is not None]
    return max(known) if known else None


# --- erasure --------------------------------------------------------------------------------


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def delete_portal_rows(session: Session, customer_ids: Sequence[str]) -> int:
    """The borrowers' messages, booked windows, sessions and sign-in codes; how many
    messages went."""
    gone = 0
    for chunk in _chunks(customer_ids):
        result = session.execute(
            delete(BorrowerMessage).where(BorrowerMessage.customer_id.in_(chunk))
        )
        gone += getattr(result, "rowcount", 0)
        for model in (VisitSlot, PortalSession, PortalCode):
            session.execute(delete(model).where(model.customer_id.in_(chunk)))
    return gone


def clear_notes(session: Session, customer_ids: Sequence[str]) -> None:
    """The free-text notes written about these borrowers: on contact attempts, holds,
    offers and verdict overrides (the audit trail keeps its own reasons)."""
    for chunk in _chunks(customer_ids):
        cases = select(Case.id).where(Case.customer_id.in_(chunk))
        session.execute(
            update(ContactAttempt).where(ContactAttempt.customer_id.in_(chunk)).values(note=None)
        )
        session.execute(
            update(CaseHold).where(CaseHold.case_id.in_(cases)).values(note=None, lift_reason=None)
        )
        session.execute(update(Offer).where(Offer.customer_id.in_(chunk)).values(note=None))
        session.execute(
            update(Verdict).where(Verdict.case_id.in_(cases)).values(override_reason=None)
        )


def evidence_of_customers(session: Session, customer_ids: Sequence[str]) -> list[Evidence]:
    found: list[Evidence] = []
    for chunk in _chunks(customer_ids):
        visits = select(Visit.id).join(Case, Case.id == Visit.case_id)
        visits = visits.where(Case.customer_id.in_(chunk))
        found += session.scalars(select(Evidence).where(Evidence.visit_id.in_(visits)))
    return found


def delete_evidence_rows(session: Session, evidence_ids: Sequence[int]) -> None:
    for chunk in _chunks(evidence_ids):
        session.execute(delete(Evidence).where(Evidence.id.in_(chunk)))


def named_evidence(
    session: Session, digests: Sequence[str], besides: Sequence[int] = ()
) -> set[str]:
    """Those of `digests` that an evidence row names, rows `besides` not counted."""
    named: set[str] = set()
    skip = set(besides)
    for chunk in _chunks(digests):
        rows = session.execute(
            select(Evidence.id, Evidence.sha256).where(Evidence.sha256.in_(chunk))
        )
        named.update(digest for row_id, digest in rows if row_id not in skip)
    return named


def all_evidence_names(session: Session) -> set[str]:
    return set(session.scalars(select(Evidence.sha256).distinct()))


def _starts(column: Any, prefix: str) -> ColumnElement[bool]:
    """Exact and case-sensitive on both databases (SQLite's LIKE folds ASCII case)."""
    return func.substr(column, 1, len(prefix)) == prefix


def _change_keys(session: Session, customer_ids: Sequence[str]) -> ColumnElement[bool]:
    """The change-log rows about these customers: each table keys its rows its own way
    (`ingest.write.PLANS`: customer id; customer/channel/kind/hash/source; loan id;
    loan/seq; payment id)."""
    loans = list(session.scalars(select(Loan.loan_id).where(Loan.customer_id.in_(customer_ids))))
    payments = list(session.scalars(select(Payment.payment_id).where(Payment.loan_id.in_(loans))))
    key, entity = IngestChange.entity_key, IngestChange.entity
    return or_(
        (entity == "customers") & key.in_(customer_ids),
        (entity == "contact_points") & or_(*(_starts(key, f"{c}/") for c in customer_ids)),
        (entity == "loans") & key.in_(loans),
        (entity == "installments") & or_(false(), *(_starts(key, f"{n}/") for n in loans)),
        (entity == "payments") & key.in_(payments),
    )


def delete_point_changes(session: Session, points: Sequence[ContactPoint]) -> int:
    """The change-log rows of these contact points (their before/after may hold a
    contact's name or position), by each point's natural key."""
    keys = ["/".join((p.customer_id, p.channel, p.kind, p.value_hash, p.source)) for p in points]
    gone = 0
    for chunk in _chunks(keys):
        result = session.execute(
            delete(IngestChange).where(
                IngestChange.entity == "contact_points", IngestChange.entity_key.in_(chunk)
            )
        )
        gone += getattr(result, "rowcount", 0)
    return gone


def case_ids_of(session: Session, customer_ids: Sequence[str]) -> list[int]:
    found: list[int] = []
    for chunk in _chunks(customer_ids):
        found += session.scalars(select(Case.id).where(Case.customer_id.in_(chunk)))
    return found


def delete_changes_of(session: Session, customer_ids: Sequence[str]) -> int:
    """Delete the change-log rows (fields before and after a lender's file changed them)
    about these customers; how many."""
    gone = 0
    for chunk in [customer_ids[i : i + 50] for i in range(0, len(customer_ids), 50)]:
        result = session.execute(delete(IngestChange).where(_change_keys(session, chunk)))
        gone += getattr(result, "rowcount", 0)
    return gone


def count_changes_of(session: Session, customer_ids: Sequence[str]) -> int:
    counted = 0
    for chunk in [customer_ids[i : i + 50] for i in range(0, len(customer_ids), 50)]:
        query = select(func.count()).select_from(IngestChange).where(_change_keys(session, chunk))
        counted += session.scalar(query) or 0
    return counted


def count_messages_of(session: Session, customer_ids: Sequence[str]) -> int:
    counted = 0
    for chunk in _chunks(customer_ids):
        query = select(func.count()).where(BorrowerMessage.customer_id.in_(chunk))
        counted += session.scalar(query) or 0
    return counted


def row_counts(session: Session) -> dict[str, int]:
    """Rows of the tables retention erases from."""
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (BorrowerMessage, Evidence, IngestChange)
    }
