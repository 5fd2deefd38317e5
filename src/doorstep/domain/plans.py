"""Repayment plans (还款方案): restructuring options for an overdue loan, their cost, the
annualised and effective rates by the IRR method, affordability and ranking. Pure: stdlib
only. The types are in `domain.plan_terms`, the rates in `domain.rates`.

What a plan restructures (docs/repayment.md):

- The outstanding **principal** is lent again over the option's schedule, built by
  `domain.schedule.build_schedule` (the loan book's rounding: month interest rounded half
  up to the fen every month, the residue on the last installment; 1,000,000 over 30 years
  at 4.9% costs 910,615.12 interest, not the 910,616.19 of calculators rounding the total).
- The **arrears** (overdue interest, fees, penalty) never bear interest: by the deployment's
  `ArrearsPolicy` they are waived, or kept as a separate balance repaid in equal parts with
  each payment (less what the option waives). Only where the jurisdiction's pack allows
  capitalisation may an option (`Terms.capitalise`) add them to the interest-bearing
  principal.
- An **upfront fee** is paid the day the plan is agreed.
- The rates are those of the credit: −(principal − upfront fee) at the start, the amount
  financed, then what each payment pays for the credit (principal, interest, fees; the
  separate balance is no credit). Capitalised arrears are repaid through the credit but
  were never financed, so they and their interest count as its cost. The cap is tested on
  the annualised rate of those flows; an option above it is kept, refused, with the reason.
- A **settlement** collects less than is owed: it has a discount (an amount), no rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from doorstep.domain.calendar import add_months
from doorstep.domain.errors import InvalidValue
from doorstep.domain.money import Fen, format_yuan
from doorstep.domain.plan_terms import (
    DEFAULT_CAP,
    DEFAULT_SHARE,
    MAX_MONTHS,
    ArrearsPolicy,
    Budget,
    Debt,
    OptionKind,
    PlanOption,
    PlanRow,
    Terms,
    cash_flows,
    check_terms,
    installed_rows,
    rows_from_json,
)
from doorstep.domain.rates import Rates, annualised_rate, monthly_irr, rates_of
from doorstep.domain.schedule import (
    MONTHS_PER_YEAR,
    RepaymentMethod,
    build_schedule,
    month_interest,
)

__all__ = [
    "DEFAULT_CAP",
    "DEFAULT_SHARE",
    "MAX_MONTHS",
    "ArrearsPolicy",
    "Budget",
    "Debt",
    "Menu",
    "OptionKind",
    "PlanOption",
    "PlanRow",
    "PlanRules",
    "Terms",
    "annualised_rate",
    "build_option",
    "cash_flows",
    "check_terms",
    "describe",
    "installed_rows",
    "monthly_irr",
    "options_for",
    "rank",
    "rows_from_json",
    "standard_terms",
]


@dataclass(frozen=True, slots=True)
class PlanRules:
    """What a deployment and its jurisdiction say about every plan."""

    cap: Decimal = DEFAULT_CAP  # highest annualised rate, a fraction (0.24 = 24%)
    arrears: ArrearsPolicy = ArrearsPolicy.SEPARATE
    capitalisation_allowed: bool = False  # the pack's flag: arrears may bear interest


def _share_of(amount: Fen, share: Decimal) -> Fen:
    """amount × share rounded half up to the fen, exactly."""
    numerator, denominator = share.as_integer_ratio()
    return (2 * amount * numerator + denominator) // (2 * denominator)


def _equal_parts(amount: Fen, count: int) -> list[Fen]:
    """`amount` in `count` equal parts (rounded down), the last takes the rest."""
    part = amount // count
    return [part] * (count - 1) + [amount - part * (count - 1)]


def _amortising(base: Fen, terms: Terms, first_due_on: date) -> list[PlanRow]:
    """The interest-bearing rows: grace months of interest only, then the schedule."""
    if base == 0:  # nothing bears interest: the rows carry only the arrears parts
        return [
            PlanRow(s, add_months(first_due_on, s - 1), 0, 0) for s in range(1, terms.months + 1)
        ]
    grace = [
        PlanRow(seq, add_months(first_due_on, seq - 1), 0, month_interest(base, terms.annual_rate))
        for seq in range(1, terms.grace_months + 1)
    ]
    rest = build_schedule(
        base,
        terms.annual_rate,
        terms.months - terms.grace_months,
        terms.method,
        add_months(first_due_on, terms.grace_months),
    )
    shifted = [
        PlanRow(r.seq + terms.grace_months, r.due_on, r.principal_due, r.interest_due, r.fee_due)
        for r in rest
    ]
    return grace + shifted


def _present_value(schedule: Sequence[PlanRow], annual_rate: Decimal, now: Fen) -> Fen:
    """What the lender can expect: `now` plus every payment discounted at the contract
    rate."""
    with localcontext() as ctx:
        ctx.prec = 40
        x = 1 + annual_rate / MONTHS_PER_YEAR
        total = Decimal(0)
        for row in reversed(schedule):
            total = (total + row.amount_due) / x
    return now + int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _waived(debt: Debt, terms: Terms, arrears: ArrearsPolicy) -> Fen:
    if arrears is ArrearsPolicy.WAIVE:
        return debt.arrears
    return _share_of(debt.penalty, terms.penalty_waiver) + _share_of(
        debt.interest, terms.interest_waiver
    )


def _refusal(rates: Rates | None, financed: Fen, cap: Decimal) -> tuple[str | None, str | None]:
    if rates is None or rates.annualised <= cap * 100:
        return None, None
    limit, amount = _plain(cap * 100), format_yuan(financed)
    return (
        f"annualised rate {rates.annualised}% on the {amount} financed exceeds the cap of {limit}%",
        f"以实际融资额 {amount} 计，年化利率 {rates.annualised}% 超过上限 {limit}%",
    )


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def build_option(
    debt: Debt,
    terms: Terms,
    first_due_on: date,
    *,
    rules: PlanRules | None = None,
    cap: Decimal | None = None,
    budget: Budget | None = None,
) -> PlanOption:
    """One option: its schedule, totals, rates, refusal and affordability (`cap`, when
    given, replaces the rules' cap)."""
    check_terms(terms)
    rules = rules or PlanRules()
    if cap is not None:
        rules = replace(rules, cap=cap)
    if terms.capitalise and not rules.capitalisation_allowed:
        raise InvalidValue(
            "capitalise: the jurisdiction's rules keep arrears out of the interest-bearing "
            "principal",
            message_zh="capitalise：本辖区规则不允许将欠息、费用和罚息计入计息本金",
        )
    waived = _waived(debt, terms, rules.arrears)
    if terms.kind is OptionKind.SETTLE:
        return _settlement(debt, terms, waived, first_due_on, budget)
    kept = debt.arrears - waived
    capitalised = kept if terms.capitalise and debt.principal else 0
    if terms.upfront_fee and terms.upfront_fee >= debt.principal:
        raise InvalidValue(
            "upfront_fee: must be below the principal", message_zh="upfront_fee：须小于本金"
        )
    base = debt.principal + capitalised
    if base + kept == 0:
        raise InvalidValue("nothing left to pay", message_zh="减免后无需还款")
    credit = _amortising(base, terms, first_due_on)
    parts = _equal_parts(kept - capitalised, terms.months)
    schedule = tuple(replace(r, arrears_due=part) for r, part in zip(credit, parts, strict=True))
    financed = debt.principal - terms.upfront_fee
    rates = rates_of(cash_flows(financed, schedule)) if debt.principal else None
    refused, refused_zh = _refusal(rates, financed, rules.cap)
    monthly = max(r.amount_due for r in schedule)
    fees = terms.upfront_fee + sum(r.fee_due for r in schedule)
    return PlanOption(
        terms=terms,
        loan_id=debt.loan_id,
        base=base,
        concession=waived,
        schedule=schedule,
        total_to_pay=terms.upfront_fee + sum(r.amount_due for r in schedule),
        total_interest=sum(r.interest_due for r in schedule),
        total_fees=fees,
        monthly_payment=monthly,
        annualised_rate=rates.annualised if rates else None,
        effective_rate=rates.effective if rates else None,
        expected_recovery=_present_value(schedule, debt.annual_rate, terms.upfront_fee),
        refused=refused,
        refused_zh=refused_zh,
        affordable=None if budget is None else monthly <= budget.allowance,
        debt_total=debt.total,
        financed=financed,
        arrears_balance=kept - capitalised,
        capitalised=capitalised,
    )


def _settlement(
    debt: Debt, terms: Terms, waived: Fen, first_due_on: date, budget: Budget | None
) -> PlanOption:
    """Less than is owed in one or a few payments: a discount, no interest, no rate."""
    owed = debt.total - waived
    discount = _share_of(owed, terms.discount)
    collected = owed - discount
    if collected <= 0:
        raise InvalidValue("discount: nothing left to pay", message_zh="discount：折扣后无需还款")
    schedule = tuple(
        PlanRow(seq, add_months(first_due_on, seq - 1), part, 0)
        for seq, part in enumerate(_equal_parts(collected, terms.months), start=1)
    )
    monthly = max(r.amount_due for r in schedule)
    return PlanOption(
        terms=terms,
        loan_id=debt.loan_id,
        base=collected,
        concession=waived + discount,
        schedule=schedule,
        total_to_pay=collected,
        total_interest=0,
        total_fees=0,
        monthly_payment=monthly,
        annualised_rate=None,
        effective_rate=None,
        expected_recovery=_present_value(schedule, debt.annual_rate, 0),
        affordable=None if budget is None else monthly <= budget.allowance,
        debt_total=debt.total,
        discount=discount,
    )


def standard_terms(debt: Debt, rules: PlanRules | None = None) -> list[Terms]:
    """The usual menu for a loan: reschedule, extend, lower rate, grace, waive, settle and
    a combination, each in the loan's own method (extend also in the other two); where the
    pack allows capitalisation, a reschedule that capitalises the arrears too."""
    left = max(1, min(debt.months_left, MAX_MONTHS))
    rate, method = debt.annual_rate, debt.method
    longer = min(MAX_MONTHS, left + max(6, left))
    lower = max(Decimal(0), (rate / 2).quantize(Decimal("0.0001")))
    k = OptionKind
    menu = [
        Terms(k.RESCHEDULE, left, rate, method),
        *(Terms(k.EXTEND, longer, rate, m) for m in RepaymentMethod),
        Terms(k.LOWER_RATE, left, lower, method),
        Terms(k.GRACE, min(MAX_MONTHS, left + 3), rate, method, grace_months=3),
        Terms(k.WAIVE, left, rate, method, penalty_waiver=Decimal(1)),
        Terms(k.WAIVE, left, rate, method, penalty_waiver=Decimal("0.5")),
        Terms(k.SETTLE, 1, discount=Decimal("0.2"), penalty_waiver=Decimal(1)),
        Terms(k.SETTLE, 3, discount=Decimal("0.1"), penalty_waiver=Decimal(1)),
        Terms(
            k.COMBINED,
            min(MAX_MONTHS, longer + 3),
            lower,
            method,
            grace_months=3,
            penalty_waiver=Decimal(1),
        ),
    ]
    if rules is not None and rules.capitalisation_allowed and debt.principal:
        menu.append(Terms(k.RESCHEDULE, left, rate, method, capitalise=True))
    unique: dict[str, Terms] = {}
    for terms in menu:
        unique.setdefault(terms.key, terms)
    return list(unique.values())


def rank(options: Iterable[PlanOption]) -> list[PlanOption]:
    """Allowed before refused; affordable (or unknown) before unaffordable; then the
    cheapest for the borrower; then the most the lender can expect to recover."""
    return sorted(
        options,
        key=lambda o: (
            o.refused is not None,
            o.affordable is False,
            o.total_to_pay,
            -o.expected_recovery,
            o.key,
        ),
    )


@dataclass
class Menu:
    """Options for each overdue loan of a customer, ranked."""

    options: dict[str, list[PlanOption]] = field(default_factory=dict)


def options_for(
    debts: Iterable[Debt],
    first_due_on: date,
    *,
    rules: PlanRules | None = None,
    cap: Decimal | None = None,
    budget: Budget | None = None,
    terms: Sequence[Terms] | None = None,
) -> Menu:
    """The ranked options of every loan (the standard menu unless `terms` is given). An
    option that would leave nothing to pay (everything waived) is no option: left out."""
    menu = Menu()
    for debt in debts:
        chosen = terms if terms is not None else standard_terms(debt, rules)
        built = []
        for t in chosen:
            try:
                option = build_option(debt, t, first_due_on, rules=rules, cap=cap, budget=budget)
            except InvalidValue:
                if _leaves_something(debt, t, rules or PlanRules()):
                    raise
                continue
            built.append(option)
        menu.options[debt.loan_id] = rank(built)
    return menu


def _leaves_something(debt: Debt, terms: Terms, rules: PlanRules) -> bool:
    return debt.principal > 0 or debt.arrears > _waived(debt, terms, rules.arrears)


def describe(option: PlanOption) -> str:
    """A one-line English summary for audit summaries and logs."""
    cost = (
        f"discount {format_yuan(option.discount)}"
        if option.annualised_rate is None
        else f"{option.annualised_rate}% annualised, {option.effective_rate}% effective"
    )
    return (
        f"{option.terms.kind.value} {option.terms.months}m {option.terms.method.value}: "
        f"{format_yuan(option.monthly_payment)}/month, total {format_yuan(option.total_to_pay)}, "
        f"{cost}"
    )
