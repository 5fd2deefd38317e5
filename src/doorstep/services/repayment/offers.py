"""Repayment offers: building a loan's options under the deployment's and the pack's rules,
making an offer (maker-checker above the approval threshold), and the borrower accepting
one plan (which becomes the loan's new schedule version). The daily tracking of plans is in
`tracking`, the agreement the borrower confirms in `agreements`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.domain import plans
from doorstep.domain.access import Actor, Permission, Role
from doorstep.domain.allocation import DEFAULT_WATERFALL, Waterfall
from doorstep.domain.calendar import add_months
from doorstep.domain.case import OPEN_STATES
from doorstep.domain.delinquency import snapshot
from doorstep.domain.errors import (
    Forbidden,
    IllegalTransition,
    InvalidValue,
    NotFound,
    OfferExpired,
)
from doorstep.domain.money import rate_to_units
from doorstep.domain.ports import Cipher
from doorstep.domain.rules import capitalisation_allowed
from doorstep.domain.schedule import RepaymentMethod
from doorstep.services import cases
from doorstep.services.conduct import audit
from doorstep.services.repayment import holds
from doorstep.store.models import BorrowerMessage, Case, Offer
from doorstep.store.repositories import offers as repo


@dataclass(frozen=True)
class OfferPolicy:
    """The settings an offer is made and tracked under."""

    cap: Decimal = plans.DEFAULT_CAP
    approval_fen: int = 100_000
    days: int = 14
    grace_days: int = 10
    share: Decimal = plans.DEFAULT_SHARE
    arrears: plans.ArrearsPolicy = plans.ArrearsPolicy.SEPARATE
    capitalisation_allowed: bool = False  # the jurisdiction pack's flag

    @property
    def rules(self) -> plans.PlanRules:
        return plans.PlanRules(self.cap, self.arrears, self.capitalisation_allowed)


def policy_from(settings: Settings) -> OfferPolicy:
    return OfferPolicy(
        cap=settings.repayment_rate_cap,
        approval_fen=settings.offer_approval_fen,
        days=settings.offer_days,
        grace_days=settings.repayment_grace_days,
        share=settings.repayment_affordable_share,
        arrears=settings.repayment_arrears,
        capitalisation_allowed=capitalisation_allowed(settings.rules_pack),
    )


def borrower_actor(customer_id: str) -> Actor:
    """The portal acts for a signed-in borrower: audited under `borrower:<customer id>`,
    with the system's reach (it only ever touches that borrower's own case and loans)."""
    return Actor(f"borrower:{customer_id}", Role.ADMIN)


# --- what a loan owes -----------------------------------------------------------------------


def debt_of(
    session: Session, loan_id: str, on: date, waterfall: Waterfall = DEFAULT_WATERFALL
) -> plans.Debt:
    """The loan's debt at the start of `on`: its current schedule replayed with the
    payments made before that day that count against it."""
    loan = repo.loan(session, loan_id)
    if loan is None:
        raise NotFound(f"no loan {loan_id}", message_zh=f"没有贷款 {loan_id}")
    rows = repo.current_schedule(session, loan_id)
    payments = repo.counted_payments(session, loan_id, before=on)
    s = snapshot(rows, payments, rate_to_units(loan.penalty_rate_daily), on, waterfall=waterfall)
    principal = max(s.outstanding_principal - s.unapplied, 0)
    return plans.Debt(
        loan_id=loan_id,
        principal=principal,
        interest=s.overdue_interest,
        fee=s.overdue_fee,
        penalty=s.overdue_penalty,
        annual_rate=loan.annual_rate,
        months_left=sum(1 for r in rows if r.due_on >= on),
        method=RepaymentMethod(loan.method),
    )


def _debt_json(debt: plans.Debt) -> dict[str, Any]:
    return {
        "principal": debt.principal,
        "interest": debt.interest,
        "fee": debt.fee,
        "penalty": debt.penalty,
        "annual_rate": str(debt.annual_rate),
        "months_left": debt.months_left,
        "method": debt.method.value,
    }


def preview(
    session: Session,
    actor: Actor,
    case_id: int,
    loan_id: str,
    on: date,
    policy: OfferPolicy,
    *,
    budget: plans.Budget | None = None,
    terms: Sequence[plans.Terms] | None = None,
) -> tuple[plans.Debt, list[plans.PlanOption]]:
    """The ranked options for one loan of a case the actor may see."""
    if not actor.can(Permission.MAKE_OFFERS):
        raise Forbidden("your role cannot make offers", message_zh="您的角色无权制定还款方案")
    case = cases.get_case(session, actor, case_id)
    loan = repo.loan(session, loan_id)
    if loan is None or loan.customer_id != case.customer_id:
        raise NotFound(
            f"no loan {loan_id} in case {case_id}",
            message_zh=f"案件 {case_id} 中没有贷款 {loan_id}",
        )
    debt = debt_of(session, loan_id, on)
    return debt, menu_of(debt, on, policy, budget=budget, terms=terms)


def menu_of(
    debt: plans.Debt,
    on: date,
    policy: OfferPolicy,
    *,
    budget: plans.Budget | None = None,
    terms: Sequence[plans.Terms] | None = None,
) -> list[plans.PlanOption]:
    """The ranked options of a debt measured on `on` (the standard menu unless `terms`),
    the first payment a month later, under the deployment's and the pack's rules."""
    rules = policy.rules
    menu = plans.options_for([debt], add_months(on, 1), rules=rules, budget=budget, terms=terms)
    return menu.options[debt.loan_id]


def standard_terms(debt: plans.Debt, policy: OfferPolicy) -> list[plans.Terms]:
    return plans.standard_terms(debt, policy.rules)


def make_offer(
    session: Session,
    actor: Actor,
    case_id: int,
    loan_id: str,
    on: date,
    policy: OfferPolicy,
    *,
    keys: Sequence[str] | None = None,
    budget: plans.Budget | None = None,
    terms: Sequence[plans.Terms] | None = None,
    note: str | None = None,
    now: datetime,
) -> Offer:
    """Offer the chosen options (by key; default every allowed one) of a loan. Refused
    options are never offered. Concessions above the threshold wait for a second manager."""
    debt, options = preview(
        session, actor, case_id, loan_id, on, policy, budget=budget, terms=terms
    )
    chosen = _chosen(options, keys)
    concession = max(o.concession for o in chosen)
    needs_approval = concession > policy.approval_fen
    case = cases.get_case(session, actor, case_id)
    offer = Offer(
        customer_id=case.customer_id,
        loan_id=loan_id,
        case_id=case_id,
        state="offered",
        options=[o.to_json() for o in chosen],
        debt=_debt_json(debt),
        starts_on=on,
        concession=concession,
        needs_approval=needs_approval,
        maker_id=actor.user_id,
        expires_at=now + timedelta(days=policy.days),
        note=(note or "").strip() or None,
    )
    session.add(offer)
    session.flush()
    audit.record(
        session,
        actor,
        "offer.make",
        "case",
        case_id,
        {
            "offer": offer.id,
            "loan": loan_id,
            "options": [o.key for o in chosen],
            "concession": concession,
            "needs_approval": needs_approval,
        },
        reason=offer.note,
    )
    return offer


def _chosen(
    options: Sequence[plans.PlanOption], keys: Sequence[str] | None
) -> list[plans.PlanOption]:
    """The options named by `keys` (each once, in their order), or every allowed one
    without keys; an unknown or refused key, or nothing left to offer, is refused."""
    by_key = {o.key: o for o in options}
    if keys:
        unknown = [k for k in keys if k not in by_key]
        if unknown:
            raise InvalidValue(
                f"options: unknown option {unknown[0]!r}",
                message_zh=f"options：未知的方案 {unknown[0]!r}",
            )
        refused = [by_key[k] for k in keys if by_key[k].refused]
        if refused:
            raise InvalidValue(
                f"options: {refused[0].key} refused: {refused[0].refused}",
                message_zh=f"options：方案不可提供：{refused[0].refused_zh}",
            )
        chosen = [by_key[k] for k in dict.fromkeys(keys)]
    else:
        chosen = [o for o in options if not o.refused]
    if not chosen:
        raise InvalidValue(
            "options: no option may be offered", message_zh="options：没有可提供的方案"
        )
    return chosen


def visible_to_borrower(offer: Offer, now: datetime) -> bool:
    open_state = offer.state == "approved" or (
        offer.state == "offered" and not offer.needs_approval
    )
    return open_state and offer.expires_at > now


def _offer_for_staff(session: Session, actor: Actor, offer_id: int) -> Offer:
    if not actor.can(Permission.MAKE_OFFERS):
        raise Forbidden("your role cannot handle offers", message_zh="您的角色无权处理还款方案")
    offer = repo.offer(session, offer_id)
    if offer is None or offer.case_id is None:
        raise NotFound(f"no offer {offer_id}", message_zh=f"没有还款方案 {offer_id}")
    cases.get_case(session, actor, offer.case_id)  # 404 when the actor may not see the case
    return offer


def approve(session: Session, actor: Actor, offer_id: int, *, now: datetime) -> Offer:
    """The checker's approval: another manager than the maker."""
    offer = _offer_for_staff(session, actor, offer_id)
    if offer.state != "offered" or not offer.needs_approval:
        raise IllegalTransition(
            f"offer {offer_id} is not waiting for approval",
            message_zh=f"还款方案 {offer_id} 不在待审批状态",
        )
    if actor.user_id is None or actor.user_id == offer.maker_id:
        raise Forbidden(
            "a second manager must approve: not the one who made the offer",
            message_zh="须由另一位经理审批，制定人不能审批自己的方案",
        )
    if offer.expires_at <= now:
        raise OfferExpired("the offer has expired", message_zh="还款方案已过期")
    offer.state, offer.checker_id, offer.approved_at = "approved", actor.user_id, now
    session.flush()
    audit.record(session, actor, "offer.approve", "case", offer.case_id or 0, {"offer": offer.id})
    return offer


def withdraw(session: Session, actor: Actor, offer_id: int, reason: str, *, now: datetime) -> Offer:
    offer = _offer_for_staff(session, actor, offer_id)
    if offer.state not in repo.OPEN_OFFER_STATES:
        raise IllegalTransition(
            f"offer {offer_id} is {offer.state}: it cannot be withdrawn",
            message_zh=f"还款方案 {offer_id} 状态为 {offer.state}，不能撤回",
        )
    if not reason.strip():
        raise InvalidValue("reason: a withdrawal needs a reason", message_zh="reason：撤回需要原因")
    offer.state, offer.closed_at = "withdrawn", now
    session.flush()
    audit.record(
        session,
        actor,
        "offer.withdraw",
        "case",
        offer.case_id or 0,
        {"offer": offer.id},
        reason=reason.strip(),
    )
    return offer


def open_plan(
    session: Session, customer_id: str, offer_id: int, key: str, now: datetime
) -> tuple[Offer, dict[str, Any]]:
    """The borrower's open offer and the chosen plan in it, or the refusal."""
    offer = repo.offer(session, offer_id)
    if offer is None or offer.customer_id != customer_id:
        raise NotFound(f"no offer {offer_id}", message_zh=f"没有还款方案 {offer_id}")
    if not visible_to_borrower(offer, now):
        if offer.expires_at <= now and offer.state in repo.OPEN_OFFER_STATES:
            raise OfferExpired("the offer has expired", message_zh="该还款方案已过期")
        raise IllegalTransition(
            "this offer is not open for acceptance", message_zh="该还款方案当前不可接受"
        )
    chosen = next((o for o in offer.options if o.get("key") == key), None)
    if chosen is None or chosen.get("refused"):
        raise InvalidValue(
            "plan: not one of the plans of this offer", message_zh="plan：不是本次提供的方案"
        )
    return offer, chosen


def cost_of(option: dict[str, Any]) -> dict[str, Any]:
    """A stored plan's cost as recorded: its total and both rates, or a settlement's
    discount, what it forgives of the debt (never a rate)."""
    total = {"total_to_pay": option["total_to_pay"]}
    if option.get("terms", {}).get("kind") == plans.OptionKind.SETTLE.value:
        return {**total, "discount": option["debt_total"] - option["total_to_pay"]}
    return {
        **total,
        "annualised_rate": option.get("annualised_rate"),
        "effective_rate": option.get("effective_rate"),
    }


def accept(
    session: Session,
    customer_id: str,
    offer_id: int,
    key: str,
    *,
    now: datetime,
    agreed_on: date | None = None,
) -> Offer:
    """The borrower accepts one plan of one of their open offers: the plan becomes the
    loan's new schedule version (payments from the offer's start day count against it;
    an upfront fee is due on `agreed_on`, default the offer's start day), the loan's
    other open offers are withdrawn, and visits are held while it runs."""
    offer, chosen = open_plan(session, customer_id, offer_id, key, now)
    loan = repo.loan(session, offer.loan_id)
    assert loan is not None  # a foreign key
    schedule = plans.installed_rows(
        chosen["schedule"], int(chosen.get("upfront_fee", 0)), agreed_on or offer.starts_on
    )
    version = repo.replace_schedule(session, loan, schedule, offer.starts_on, offer.id)
    offer.state, offer.accepted_key, offer.accepted_at = "active", key, now
    offer.schedule_version = version
    for other in repo.open_offers_of_loan(session, offer.loan_id):
        if other.id != offer.id:
            other.state, other.closed_at = "withdrawn", now
    session.flush()
    actor = borrower_actor(customer_id)
    audit.record(
        session,
        actor,
        "offer.accept",
        "case",
        offer.case_id or 0,
        {
            "offer": offer.id,
            "loan": offer.loan_id,
            "plan": key,
            "schedule_version": version,
            **cost_of(chosen),
        },
    )
    case = session.get(Case, offer.case_id) if offer.case_id else None
    if case is not None and case.state in {s.value for s in OPEN_STATES} and not case.hold_reason:
        holds.hold_for_plan(session, actor, case, now)
    return offer


def options_of(offer: Offer) -> list[dict[str, Any]]:
    """The offer's options as shown: allowed ones in their ranked order."""
    return [o for o in offer.options if not o.get("refused")]


@dataclass
class CasePanel:
    case: Case
    alerts: list[BorrowerMessage]
    offers: list[Offer]
    loans: list[Any]
    statements: dict[int, str]  # message id -> its statement, opened for this reader


def statements_of(messages: list[BorrowerMessage], cipher: Cipher) -> dict[int, str]:
    """The messages' statements opened (after the reader's access was checked)."""
    return {m.id: cipher.decrypt(m.statement) for m in messages if m.statement}


def case_panel(session: Session, actor: Actor, case_id: int, cipher: Cipher) -> CasePanel:
    """What the case page shows of offers: the borrower's messages (alerts for the
    owner) and the offers made, newest first."""
    case = cases.get_case(session, actor, case_id)
    alerts = repo.messages_of_case(session, case_id)
    return CasePanel(
        case,
        alerts,
        repo.offers_of_case(session, case_id),
        repo.loans_of(session, case.customer_id),
        statements_of(alerts, cipher),
    )


def complaint_queue(
    session: Session, actor: Actor, *, everything: bool = False
) -> list[BorrowerMessage]:
    """The complaints for the auditors (their statements sealed: see `statements_of`)."""
    if not actor.can(Permission.READ_AUDIT):
        raise Forbidden(
            "the complaint queue is for auditors", message_zh="投诉队列仅供审计人员查看"
        )
    rows = repo.messages_of_kind(session, "complaint")
    return rows if everything else [r for r in rows if r.handled_at is None]


def handle_message(
    session: Session, actor: Actor, message_id: int, *, now: datetime
) -> BorrowerMessage:
    """Mark a borrower's message dealt with: complaints by an auditor, the rest by
    someone who may change the case."""
    message = session.get(BorrowerMessage, message_id)
    if message is None:
        raise NotFound(f"no message {message_id}", message_zh=f"没有消息 {message_id}")
    if message.kind == "complaint":
        if not actor.can(Permission.READ_AUDIT):
            raise Forbidden(
                "complaints are closed by an auditor", message_zh="投诉须由审计人员处理"
            )
    else:
        if message.case_id is None:
            raise NotFound(f"no message {message_id}", message_zh=f"没有消息 {message_id}")
        cases.get_case(session, actor, message.case_id)
        if not actor.can(Permission.CHANGE_CASES):
            raise Forbidden("your role cannot handle alerts", message_zh="您的角色无权处理提醒")
    if message.handled_at is None:
        message.handled_at, message.handled_by = now, actor.user_id
        session.flush()
        audit.record(
            session,
            actor,
            "portal.handled",
            "case" if message.case_id else "customer",
            message.case_id or message.customer_id,
            {"message": message.id, "kind": message.kind},
        )
    return message
