"""Reading the lender's feedback rows: one per verdict, keyset-paged by (updated_at, id),
each page built with one query for the verdicts and one per detail (loans, evidence,
promises) for the whole page, never one per case."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from doorstep.store.models import Case, Evidence, Loan, PromiseToPay, Verdict, Visit


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    verdict_id: int
    updated_at: datetime
    case_id: int
    customer_id: str
    loan_ids: list[str]
    visit_id: int
    checked_in_at: datetime
    checked_out_at: datetime | None
    reached: bool
    address_status: str
    primary_reason: str | None
    reasons: list[str]
    hardship_or_evasion: str
    ability_per_month: int | None  # fen
    willingness: int | None
    ptp_amount: int | None  # fen
    ptp_date: date | None
    next_step: str  # the manager's override wins
    reviewed_at: datetime | None
    verifier_ids: list[int]
    evidence_sha256: list[str]


def feedback_page(
    session: Session,
    since: datetime,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[FeedbackRow]:
    """Verdicts updated at or after `since`, strictly after the `after` key, oldest first."""
    rows = _verdicts(session, since, after, limit)
    if not rows:
        return []
    visit_ids = {visit.id for _v, visit, _c in rows}
    loans = _loan_ids_by_customer(session, {customer for _v, _visit, customer in rows})
    evidence = _evidence_by_visit(session, visit_ids)
    promises = _promise_by_visit(session, visit_ids)
    return [
        _feedback_row(
            verdict,
            visit,
            customer_id,
            loans.get(customer_id, []),
            evidence.get(visit.id, []),
            promises.get(visit.id),
        )
        for verdict, visit, customer_id in rows
    ]


def _verdicts(
    session: Session, since: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[tuple[Verdict, Visit, str]]:
    """One page of (verdict, its visit, the case's customer id), keyset by (updated_at, id)."""
    query = (
        select(Verdict, Visit, Case.customer_id)
        .join(Visit, Visit.id == Verdict.visit_id)
        .join(Case, Case.id == Verdict.case_id)
        .where(Verdict.updated_at >= since)
        .order_by(Verdict.updated_at, Verdict.id)
        .limit(limit)
    )
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(Verdict.updated_at > at, and_(Verdict.updated_at == at, Verdict.id > last_id))
        )
    return [(verdict, visit, customer) for verdict, visit, customer in session.execute(query)]


def _loan_ids_by_customer(session: Session, customers: set[str]) -> dict[str, list[str]]:
    loans: dict[str, list[str]] = defaultdict(list)
    for customer_id, loan_id in session.execute(
        select(Loan.customer_id, Loan.loan_id)
        .where(Loan.customer_id.in_(customers))
        .order_by(Loan.loan_id)
    ):
        loans[customer_id].append(loan_id)
    return loans


def _evidence_by_visit(session: Session, visit_ids: set[int]) -> dict[int, list[str]]:
    evidence: dict[int, list[str]] = defaultdict(list)
    for visit_id, sha in session.execute(
        select(Evidence.visit_id, Evidence.sha256)
        .where(Evidence.visit_id.in_(visit_ids))
        .order_by(Evidence.id)
    ):
        evidence[visit_id].append(sha)
    return evidence


def _promise_by_visit(session: Session, visit_ids: set[int]) -> dict[int, tuple[int, date]]:
    """(amount, due day) of the visit's promise; the latest one when there are several."""
    promises: dict[int, tuple[int, date]] = {}
    for promise_visit, amount, due_on in session.execute(
        select(PromiseToPay.visit_id, PromiseToPay.amount, PromiseToPay.due_on)
        .where(PromiseToPay.visit_id.in_(visit_ids))
        .order_by(PromiseToPay.id)
    ):
        if promise_visit is not None:
            promises[promise_visit] = (amount, due_on)
    return promises


def _feedback_row(
    verdict: Verdict,
    visit: Visit,
    customer_id: str,
    loan_ids: list[str],
    evidence: list[str],
    promise: tuple[int, date] | None,
) -> FeedbackRow:
    return FeedbackRow(
        verdict_id=verdict.id,
        updated_at=verdict.updated_at,
        case_id=verdict.case_id,
        customer_id=customer_id,
        loan_ids=loan_ids,
        visit_id=visit.id,
        checked_in_at=visit.checked_in_at,
        checked_out_at=visit.checked_out_at,
        reached=verdict.reached,
        address_status=verdict.address_status,
        primary_reason=verdict.primary_reason,
        reasons=list(verdict.reasons or []),
        hardship_or_evasion=verdict.hardship_or_evasion,
        ability_per_month=verdict.ability_per_month,
        willingness=verdict.willingness,
        ptp_amount=promise[0] if promise else None,
        ptp_date=promise[1] if promise else None,
        next_step=verdict.override_step or verdict.next_step,
        reviewed_at=verdict.reviewed_at,
        verifier_ids=[int(v) for v in visit.verifier_ids or []],
        evidence_sha256=evidence,
    )


def visits_of_case(session: Session, case_id: int) -> list[tuple[Visit, Verdict | None]]:
    """The case's visits, newest first, each with its verdict when there is one."""
    return [
        (visit, verdict)
        for visit, verdict in session.execute(
            select(Visit, Verdict)
            .outerjoin(Verdict, Verdict.visit_id == Visit.id)
            .where(Visit.case_id == case_id)
            .order_by(Visit.checked_in_at.desc(), Visit.id.desc())
        )
    ]


def promises_of_customer(session: Session, customer_id: str) -> list[PromiseToPay]:
    return list(
        session.scalars(
            select(PromiseToPay)
            .where(PromiseToPay.customer_id == customer_id)
            .order_by(PromiseToPay.due_on.desc(), PromiseToPay.id.desc())
        )
    )
