from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from doorstep.api.schemas.cases import (
    ActionIn,
    AttemptIn,
    CaseDetail,
    CaseOut,
    CasePage,
    ContactPointOut,
    LoanOut,
    RevealIn,
    RevealOut,
)
from doorstep.domain.bounds import INT32
from doorstep.domain.errors import ContactBlocked
from doorstep.domain.money import format_yuan, parse_yuan
from doorstep.http.context import CurrentActor, DbSession, State, request_id
from doorstep.http.params import RowId
from doorstep.services import cases, visits
from doorstep.services.cases import CaseFilter, contacts
from doorstep.services.cases.contacts import RankedContact
from doorstep.services.cases.view import case_facts

router = APIRouter(prefix="/api/cases", tags=["cases"])


def yuan_to_fen(text: str | None, field: str) -> int | None:
    """An amount filter: refused past what a BIGINT of fen holds (`parse_yuan`)."""
    return parse_yuan(text, field) if text else None


def contact_out(r: RankedContact) -> ContactPointOut:
    p = r.point
    return ContactPointOut(
        id=p.id,
        channel=p.channel,
        kind=p.kind,
        masked=p.value_masked,
        source=p.source,
        sources=list(r.sources),
        point_ids=list(r.point_ids),
        status=p.status,
        confidence=p.confidence,
        trust=round(r.trust, 4),
        why=r.why,
        observed_at=p.observed_at,
        city=p.city,
        district=p.district,
    )


@router.get("", response_model=CasePage)
def list_(
    actor: CurrentActor,
    session: DbSession,
    state: Annotated[list[str] | None, Query()] = None,
    bucket: Annotated[list[str] | None, Query()] = None,
    city: str | None = None,
    district: str | None = None,
    min_dpd: Annotated[int | None, Query(ge=0, le=INT32)] = None,
    max_dpd: Annotated[int | None, Query(ge=0, le=INT32)] = None,
    min_amount: Annotated[str | None, Query(description="yuan")] = None,
    max_amount: Annotated[str | None, Query(description="yuan")] = None,
    on_hold: bool | None = None,
    skip_trace: bool | None = None,
    page: Annotated[int, Query(ge=1, le=INT32)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    f = CaseFilter(
        tuple(state or ()),
        tuple(bucket or ()),
        city,
        district,
        min_dpd,
        max_dpd,
        yuan_to_fen(min_amount, "min_amount"),
        yuan_to_fen(max_amount, "max_amount"),
        on_hold,
        skip_trace,
    )
    rows, total = cases.list_visible(session, actor, f, page=page, per_page=per_page)
    return CasePage(items=[CaseOut.of(c) for c in rows], total=total, page=page, per_page=per_page)


@router.get("/{case_id}", response_model=CaseDetail)
def detail(case_id: RowId, actor: CurrentActor, session: DbSession, state: State) -> CaseDetail:
    facts = case_facts(session, actor, case_id, state.clock.now(), state.cipher)
    loans = []
    for loan in facts.loans:
        snap = facts.latest.get(loan.loan_id)
        overdue = (
            (
                snap.overdue_principal
                + snap.overdue_interest
                + snap.overdue_fee
                + snap.overdue_penalty
            )
            if snap
            else None
        )
        loans.append(
            LoanOut(
                loan_id=loan.loan_id,
                product=loan.product,
                principal=format_yuan(loan.principal),
                annual_rate=str(loan.annual_rate),
                term_months=loan.term_months,
                method=loan.method,
                disbursed_on=loan.disbursed_on,
                dpd=snap.dpd if snap else None,
                bucket=snap.bucket if snap else None,
                overdue_total=format_yuan(overdue) if overdue is not None else None,
                outstanding_principal=format_yuan(snap.outstanding_principal) if snap else None,
            )
        )
    points = [contact_out(r) for r in facts.contacts]
    return CaseDetail(
        case=CaseOut.of(facts.case),
        customer_name=facts.customer.name,
        id_number_masked=facts.customer.id_number_masked,
        loans=loans,
        contact_points=points,
        best_phone_id=facts.best_phone.point.id if facts.best_phone else None,
        best_address_id=facts.best_address.point.id if facts.best_address else None,
        actions=facts.actions,
    )


@router.post("/{case_id}/actions", response_model=CaseOut)
def act(
    case_id: RowId, body: ActionIn, actor: CurrentActor, session: DbSession, state: State
) -> CaseOut:
    now = state.clock.now()
    case = visits.case_action(
        session,
        actor,
        case_id,
        body.action,
        reason=body.reason,
        hold_reason=body.hold_reason,
        cancel_reason=body.cancel_reason,
        expected_version=body.version,
        today=now.astimezone(state.settings.zone).date(),
        now=now,
    )
    session.commit()
    return CaseOut.of(case)


@router.post("/{case_id}/contact-points/{point_id}/attempts", response_model=ContactPointOut)
def attempt(
    case_id: RowId,
    point_id: RowId,
    body: AttemptIn,
    actor: CurrentActor,
    session: DbSession,
    state: State,
) -> ContactPointOut:
    now = state.clock.now()
    outcome = contacts.attempt(
        session,
        actor,
        case_id,
        point_id,
        body.channel,
        body.result,
        body.note,
        at=now,
        pack=state.settings.rules_pack,
        cipher=state.cipher,
        override_reason=body.note,
    )
    session.commit()  # a blocked attempt stays on record, and is answered as refused
    if outcome.decision.blocked:
        raise ContactBlocked(outcome.decision)
    customer_id = cases.get_case(session, actor, case_id).customer_id
    r = next(r for r in contacts.ranked(session, customer_id, now) if r.has(point_id))
    return contact_out(r)


@router.post("/{case_id}/reveal", response_model=RevealOut)
def reveal(
    case_id: RowId,
    body: RevealIn,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
) -> RevealOut:
    value = contacts.reveal(
        session,
        actor,
        state.cipher,
        case_id,
        field=body.field,
        point_id=body.point_id,
        purpose=body.purpose,
        reason=body.reason,
        pack=state.settings.rules_pack,
        now=state.clock.now(),
        request_id=request_id(request),
    )
    session.commit()
    return RevealOut(value=value)
