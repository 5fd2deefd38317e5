"""Manager pages for repayment offers: a case's alerts and offers (a panel the case page
loads), building and making an offer, approving another manager's offer, and the
auditors' complaint queue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from doorstep.domain import bounds, plans
from doorstep.domain.access import Permission
from doorstep.domain.errors import DoorstepError, InvalidValue
from doorstep.domain.money import parse_yuan
from doorstep.domain.schedule import RepaymentMethod
from doorstep.http.context import CurrentActor, DbSession, State, app_state
from doorstep.http.params import RowId
from doorstep.services.repayment import offers
from doorstep.store.models import Offer
from doorstep.web.forms import act, error_page
from doorstep.web.templating import render

router = APIRouter(include_in_schema=False)


def policy(state: State) -> offers.OfferPolicy:
    return offers.policy_from(state.settings)


def business_day(state: State) -> date:
    """Today in the business time zone, by the app's clock."""
    return state.clock.now().astimezone(state.settings.zone).date()


@router.get("/cases/{case_id}/plans-panel", response_class=HTMLResponse)
def panel(
    case_id: RowId, request: Request, actor: CurrentActor, session: DbSession
) -> HTMLResponse:
    request.state.actor = actor
    found = offers.case_panel(session, actor, case_id, app_state(request).cipher)
    return render(
        request,
        "offers/panel.html",
        c=found.case,
        alerts=found.alerts,
        statements=found.statements,
        offers=found.offers,
        loans=found.loans,
        can_offer=actor.can(Permission.MAKE_OFFERS),
        me=actor.user_id,
    )


def _yuan(text: str | None, field: str) -> int | None:
    if not text:
        return None
    try:
        return parse_yuan(text)
    except DoorstepError:
        raise InvalidValue(f"{field}: not an amount", message_zh=f"{field}：金额无效") from None


def _decimal(text: str | None, field: str, default: Decimal) -> Decimal:
    if not text:
        return default
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidValue(f"{field}: not a number", message_zh=f"{field}：不是数字") from None
    if not value.is_finite():
        raise InvalidValue(f"{field}: not a number", message_zh=f"{field}：不是数字")
    return value


def _inputs(
    state: State,
    income: str | None,
    expenses: str | None,
    months: str | None,
    rate: str | None,
    method: str | None,
    grace: str | None,
    waiver: str | None,
    discount: str | None,
    fee: str | None = None,
) -> tuple[plans.Budget | None, plans.Terms | None]:
    """The budget (when both amounts are given) and a custom option (when months are)."""
    income_fen, expense_fen = _yuan(income, "income"), _yuan(expenses, "expenses")
    budget = None
    if income_fen is not None and expense_fen is not None:
        budget = plans.Budget(income_fen, expense_fen, state.settings.repayment_affordable_share)
    custom = None
    if months:
        months_n = bounds.whole(months, "months", low=1, high=plans.MAX_MONTHS)
        share_discount = _decimal(discount, "discount", Decimal(0)) / 100
        try:
            chosen_method = RepaymentMethod(method or RepaymentMethod.EQUAL_INSTALLMENT)
        except ValueError:
            raise InvalidValue("method: unknown", message_zh="method：未知的还款方式") from None
        custom = plans.Terms(
            kind=plans.OptionKind.SETTLE if share_discount else plans.OptionKind.COMBINED,
            months=months_n,
            annual_rate=_decimal(rate, "rate", Decimal(0)) / 100,
            method=chosen_method,
            grace_months=bounds.whole(grace, "grace", high=plans.MAX_MONTHS) if grace else 0,
            penalty_waiver=_decimal(waiver, "waiver", Decimal(0)) / 100,
            discount=share_discount,
            upfront_fee=_yuan(fee, "fee") or 0,
        )
        plans.check_terms(custom)
    return budget, custom


def _with_standard(
    session: Session, state: State, loan_id: str, today: date, custom: plans.Terms | None
) -> list[plans.Terms] | None:
    """The options to offer: the standard ones for the loan's debt and the custom one;
    none (the service's default) without a custom one."""
    if custom is None:
        return None
    debt = offers.debt_of(session, loan_id, today)
    return [*offers.standard_terms(debt, policy(state)), custom]


@router.get("/cases/{case_id}/offers/new", response_class=HTMLResponse)
def build(
    case_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    loan_id: str,
    income: str | None = None,
    expenses: str | None = None,
    months: str | None = None,
    rate: str | None = None,
    method: str | None = None,
    grace: str | None = None,
    waiver: str | None = None,
    discount: str | None = None,
    fee: str | None = None,
) -> HTMLResponse:
    request.state.actor = actor
    today = business_day(state)
    try:
        budget, custom = _inputs(
            state, income, expenses, months, rate, method, grace, waiver, discount, fee
        )
        terms = _with_standard(session, state, loan_id, today, custom)
        debt, options = offers.preview(
            session, actor, case_id, loan_id, today, policy(state), budget=budget, terms=terms
        )
    except DoorstepError as exc:
        return error_page(request, exc, back=f"/cases/{case_id}")
    return render(
        request,
        "offers/new.html",
        case_id=case_id,
        loan_id=loan_id,
        debt=debt,
        options=options,
        budget=budget,
        q=request.query_params,
        methods=[m.value for m in RepaymentMethod],
        cap=state.settings.repayment_rate_cap * 100,
        threshold=state.settings.offer_approval_fen,
        arrears=state.settings.repayment_arrears.value,
    )


@router.post("/cases/{case_id}/offers")
def make(
    case_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    loan_id: Annotated[str, Form(max_length=64)],
    keys: Annotated[list[str] | None, Form()] = None,
    income: Annotated[str | None, Form(max_length=20)] = None,
    expenses: Annotated[str | None, Form(max_length=20)] = None,
    months: Annotated[str | None, Form(max_length=4)] = None,
    rate: Annotated[str | None, Form(max_length=12)] = None,
    method: Annotated[str | None, Form(max_length=24)] = None,
    grace: Annotated[str | None, Form(max_length=4)] = None,
    waiver: Annotated[str | None, Form(max_length=12)] = None,
    discount: Annotated[str | None, Form(max_length=12)] = None,
    fee: Annotated[str | None, Form(max_length=20)] = None,
    note: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    request.state.actor = actor
    now = state.clock.now()
    today = now.astimezone(state.settings.zone).date()

    def make_offer() -> None:
        if not keys:
            raise InvalidValue(
                "options: choose at least one", message_zh="options：请至少选择一个方案"
            )
        budget, custom = _inputs(
            state, income, expenses, months, rate, method, grace, waiver, discount, fee
        )
        terms = _with_standard(session, state, loan_id, today, custom)
        offers.make_offer(
            session,
            actor,
            case_id,
            loan_id,
            today,
            policy(state),
            keys=keys,
            budget=budget,
            terms=terms,
            note=note,
            now=now,
        )

    return act(
        request, session, make_offer, f"/cases/{case_id}#plans-panel", back=f"/cases/{case_id}"
    )


def _offer_panel(offer: Offer) -> str:
    return f"/cases/{offer.case_id}#plans-panel"


@router.post("/offers/{offer_id}/approve")
def approve(
    offer_id: RowId, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> Response:
    request.state.actor = actor
    now = state.clock.now()
    return act(
        request, session, lambda: offers.approve(session, actor, offer_id, now=now), _offer_panel
    )


@router.post("/offers/{offer_id}/withdraw")
def withdraw(
    offer_id: RowId,
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    state: State,
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    request.state.actor = actor
    now = state.clock.now()
    return act(
        request,
        session,
        lambda: offers.withdraw(session, actor, offer_id, reason, now=now),
        _offer_panel,
    )


@router.post("/borrower-messages/{message_id}/handled")
def handled(
    message_id: RowId, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> Response:
    request.state.actor = actor
    now = state.clock.now()
    return act(
        request,
        session,
        lambda: offers.handle_message(session, actor, message_id, now=now),
        lambda message: (
            "/complaints" if message.kind == "complaint" else f"/cases/{message.case_id}"
        ),
    )


@router.get("/complaints", response_class=HTMLResponse)
def complaints(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    show: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    request.state.actor = actor
    try:
        rows = offers.complaint_queue(session, actor, everything=show == "all")
    except DoorstepError as exc:
        return error_page(request, exc)
    statements = offers.statements_of(rows, app_state(request).cipher)
    return render(request, "offers/complaints.html", rows=rows, statements=statements, show=show)
