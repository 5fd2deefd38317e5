"""Repayment plans (还款方案): restructuring options for an overdue loan, their cost, the
annualised rate by the IRR method, affordability and ranking. Pure: stdlib only.

What a plan restructures: the loan's outstanding principal plus its overdue interest, fees
and penalty, less whatever the option waives. That sum (the *base*) is lent again over the
option's schedule, built by `domain.schedule.build_schedule` (so the rounding convention is
the loan book's: month interest rounded half up to the fen every month, the residue on the
last installment; 1,000,000 over 30 years at 4.9% costs 910,615.12 interest, not the
910,616.19 that calculators rounding only the total show).

The annualised rate (年化利率) is the one Chinese rules ask lenders to disclose: the monthly
internal rate of return of the cash flows (−base at the start, each installment a month
apart, the first one month after the start) times 12, stated in percent with two decimals,
rounded half up. The IRR is found by bisection in 40-digit Decimal arithmetic, far finer
than the two decimals shown. An option above the configured cap is kept, refused, with
the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from typing import Any

from doorstep.domain.calendar import add_months
from doorstep.domain.errors import InvalidValue
from doorstep.domain.money import Fen, format_yuan
from doorstep.domain.schedule import (
    MONTHS_PER_YEAR,
    Installment,
    RepaymentMethod,
    build_schedule,
    month_interest,
)

MAX_MONTHS = 360
DEFAULT_CAP = Decimal("0.24")  # the CN ceiling courts protect; a jurisdiction setting
DEFAULT_SHARE = Decimal("0.5")  # of disposable income a plan may take each month
_TWO_PLACES = Decimal("0.01")


class OptionKind(StrEnum):
    RESCHEDULE = "reschedule"  # arrears capitalised, same rate and remaining term
    EXTEND = "extend"  # a longer term
    LOWER_RATE = "lower_rate"
    GRACE = "grace"  # interest-only months, then amortise
    WAIVE = "waive"  # penalty (and optionally overdue interest) waived
    SETTLE = "settle"  # a discounted settlement in one or a few payments
    COMBINED = "combined"


@dataclass(frozen=True, slots=True)
class Debt:
    """What one loan owes on the day a plan starts (fen) and its contract terms."""

    loan_id: str
    principal: Fen  # outstanding principal, due and not yet due
    interest: Fen  # overdue interest
    fee: Fen  # overdue fees
    penalty: Fen  # accrued, unpaid penalty
    annual_rate: Decimal  # the contract rate
    months_left: int  # installments not yet due under the contract
    method: RepaymentMethod = RepaymentMethod.EQUAL_INSTALLMENT

    def __post_init__(self) -> None:
        for name in ("principal", "interest", "fee", "penalty"):
            if getattr(self, name) < 0:
                raise InvalidValue(f"{name} must not be negative", message_zh=f"{name} 不能为负")
        if self.total <= 0:
            raise InvalidValue("nothing is owed", message_zh="没有欠款，无需还款方案")

    @property
    def total(self) -> Fen:
        return self.principal + self.interest + self.fee + self.penalty


@dataclass(frozen=True, slots=True)
class Terms:
    """The parameters of one option; every field is checked by `check_terms`."""

    kind: OptionKind
    months: int  # installments in all, grace months included (settlement: its payments)
    annual_rate: Decimal = Decimal(0)
    method: RepaymentMethod = RepaymentMethod.EQUAL_INSTALLMENT
    grace_months: int = 0
    penalty_waiver: Decimal = Decimal(0)  # share of the penalty waived, 0..1
    interest_waiver: Decimal = Decimal(0)  # share of the overdue interest waived, 0..1
    discount: Decimal = Decimal(0)  # settlement only: share of the whole debt forgiven

    @property
    def key(self) -> str:
        """A stable id of the option within an offer (what the portal posts back)."""
        parts = [
            self.kind.value,
            str(self.months),
            self.method.value,
            _plain(self.annual_rate),
            str(self.grace_months),
            _plain(self.penalty_waiver),
            _plain(self.interest_waiver),
            _plain(self.discount),
        ]
        return "-".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "months": self.months,
            "annual_rate": _plain(self.annual_rate),
            "method": self.method.value,
            "grace_months": self.grace_months,
            "penalty_waiver": _plain(self.penalty_waiver),
            "interest_waiver": _plain(self.interest_waiver),
            "discount": _plain(self.discount),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Terms:
        try:
            return cls(
                kind=OptionKind(data["kind"]),
                months=int(data["months"]),
                annual_rate=Decimal(str(data.get("annual_rate", "0"))),
                method=RepaymentMethod(data.get("method", RepaymentMethod.EQUAL_INSTALLMENT)),
                grace_months=int(data.get("grace_months", 0)),
                penalty_waiver=Decimal(str(data.get("penalty_waiver", "0"))),
                interest_waiver=Decimal(str(data.get("interest_waiver", "0"))),
                discount=Decimal(str(data.get("discount", "0"))),
            )
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise InvalidValue(
                f"not a plan's terms: {exc}", message_zh=f"还款方案条款无效：{exc}"
            ) from None


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def check_terms(terms: Terms) -> None:
    """Refuse terms no schedule can be built from, naming the field."""

    def bad(field_name: str, en: str, zh: str) -> InvalidValue:
        return InvalidValue(f"{field_name}: {en}", message_zh=f"{field_name}：{zh}")

    if not 1 <= terms.months <= MAX_MONTHS:
        raise bad("months", f"must be 1..{MAX_MONTHS}", f"期数须在 1 到 {MAX_MONTHS} 之间")
    if not Decimal(0) <= terms.annual_rate < Decimal(1):
        raise bad("annual_rate", "must be in [0, 1)", "年利率须在 [0, 1) 之间")
    if not 0 <= terms.grace_months < terms.months:
        raise bad("grace_months", "must be 0 or more and below months", "宽限期须小于总期数")
    for name in ("penalty_waiver", "interest_waiver", "discount"):
        share: Decimal = getattr(terms, name)
        if not Decimal(0) <= share <= Decimal(1):
            raise bad(name, "must be a share in [0, 1]", "须为 0 到 1 之间的比例")
    if terms.kind is OptionKind.SETTLE:
        if terms.discount >= 1:
            raise bad("discount", "a settlement must collect something", "结清金额须大于零")
        if terms.months > 12:
            raise bad("months", "a settlement is paid in at most 12 payments", "结清最多分 12 期")
    elif terms.discount:
        raise bad("discount", "only a settlement is discounted", "只有折扣结清可以打折")


@dataclass(frozen=True, slots=True)
class Budget:
    """The borrower's month (fen), from the interview or their own statement."""

    income: Fen
    essential_expenses: Fen
    share: Decimal = DEFAULT_SHARE

    @property
    def disposable(self) -> Fen:
        return max(self.income - self.essential_expenses, 0)

    @property
    def allowance(self) -> Fen:
        """The most a plan may take in a month: share × disposable income, rounded down."""
        numerator, denominator = self.share.as_integer_ratio()
        return self.disposable * numerator // denominator


@dataclass(frozen=True, slots=True)
class PlanOption:
    terms: Terms
    loan_id: str
    base: Fen  # what is lent again: debt less waivers (a settlement: what is collected)
    concession: Fen  # penalty and interest waived plus settlement discount
    schedule: tuple[Installment, ...]
    total_to_pay: Fen
    total_interest: Fen
    total_fees: Fen
    monthly_payment: Fen  # the largest installment
    annualised_rate: Decimal  # percent, two decimals (10.90 means 10.90%)
    expected_recovery: Fen  # what the lender gets, discounted at the contract rate
    refused: str | None = None  # why the option may not be offered (English)
    refused_zh: str | None = None
    affordable: bool | None = None  # None: no budget known
    debt_total: Fen = 0
    financed: Fen = 0  # the outflow the IRR starts from: base, or a settlement's debt

    def cash_flows(self) -> list[Fen]:
        return cash_flows(self.financed, self.schedule)

    @property
    def key(self) -> str:
        return self.terms.key

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "loan_id": self.loan_id,
            "terms": self.terms.to_json(),
            "base": self.base,
            "debt_total": self.debt_total,
            "concession": self.concession,
            "total_to_pay": self.total_to_pay,
            "total_interest": self.total_interest,
            "total_fees": self.total_fees,
            "monthly_payment": self.monthly_payment,
            "annualised_rate": str(self.annualised_rate),
            "expected_recovery": self.expected_recovery,
            "refused": self.refused,
            "refused_zh": self.refused_zh,
            "affordable": self.affordable,
            "schedule": [
                {
                    "seq": r.seq,
                    "due_on": r.due_on.isoformat(),
                    "principal_due": r.principal_due,
                    "interest_due": r.interest_due,
                    "fee_due": r.fee_due,
                }
                for r in self.schedule
            ],
        }


def schedule_from_json(rows: Iterable[dict[str, Any]]) -> list[Installment]:
    return [
        Installment(
            int(r["seq"]),
            date.fromisoformat(r["due_on"]),
            int(r["principal_due"]),
            int(r["interest_due"]),
            int(r.get("fee_due", 0)),
        )
        for r in rows
    ]


# --- the IRR ---------------------------------------------------------------------------


def _npv(flows: Sequence[int], rate: Decimal) -> Decimal:
    """Σ flow_t / (1+rate)^t by Horner's rule in x = 1/(1+rate)."""
    x = 1 / (1 + rate)
    total = Decimal(0)
    for flow in reversed(flows):
        total = total * x + flow
    return total


def monthly_irr(flows: Sequence[int]) -> Decimal:
    """The rate r with Σ flow_t/(1+r)^t = 0, for flows that start with the one outflow
    (negative) and continue with inflows (≥ 0): the NPV then falls as r rises, so
    bisection on (−1, ∞) finds the one root."""
    if len(flows) < 2 or flows[0] >= 0 or any(f < 0 for f in flows[1:]) or not any(flows[1:]):
        raise InvalidValue(
            "an IRR needs one outflow followed by inflows",
            message_zh="计算内部收益率需要先有一笔支出，随后是收入",
        )
    with localcontext() as ctx:
        ctx.prec = 40
        low, high = Decimal("-0.999999"), Decimal(1)
        while _npv(flows, high) > 0:  # widen until the NPV turns negative
            high *= 2
            if high > 10**6:
                raise InvalidValue("no IRR below 10^6 per month", message_zh="内部收益率过高")
        for _ in range(90):  # 2^-90 of the bracket: far below 0.0001 percentage point
            middle = (low + high) / 2
            if _npv(flows, middle) > 0:
                low = middle
            else:
                high = middle
        return +((low + high) / 2)


def annualised_rate(flows: Sequence[int]) -> Decimal:
    """Monthly IRR × 12 in percent, two decimals, half up (Decimal('10.90'))."""
    rate = monthly_irr(flows) * MONTHS_PER_YEAR * 100
    return rate.quantize(_TWO_PLACES, rounding=ROUND_HALF_UP)


def cash_flows(base: Fen, schedule: Sequence[Installment]) -> list[Fen]:
    """−base now, then each installment's amount, one a month."""
    return [-base, *(row.amount_due for row in schedule)]


# --- building options ------------------------------------------------------------------


def _share_of(amount: Fen, share: Decimal) -> Fen:
    """amount × share rounded half up to the fen, exactly."""
    numerator, denominator = share.as_integer_ratio()
    return (2 * amount * numerator + denominator) // (2 * denominator)


def _amortising(base: Fen, terms: Terms, first_due_on: date) -> list[Installment]:
    grace = [
        Installment(
            seq, add_months(first_due_on, seq - 1), 0, month_interest(base, terms.annual_rate)
        )
        for seq in range(1, terms.grace_months + 1)
    ]
    rest = build_schedule(
        base,
        terms.annual_rate,
        terms.months - terms.grace_months,
        terms.method,
        add_months(first_due_on, terms.grace_months),
    )
    shifted = [replace(r, seq=r.seq + terms.grace_months) for r in rest]
    return grace + shifted


def _settlement(amount: Fen, payments: int, first_due_on: date) -> list[Installment]:
    """`amount` in `payments` equal monthly parts (rounded down), the last takes the rest."""
    part = amount // payments
    rows = [
        Installment(seq, add_months(first_due_on, seq - 1), part, 0) for seq in range(1, payments)
    ]
    rows.append(
        Installment(
            payments, add_months(first_due_on, payments - 1), amount - part * (payments - 1), 0
        )
    )
    return rows


def _present_value(schedule: Sequence[Installment], annual_rate: Decimal) -> Fen:
    with localcontext() as ctx:
        ctx.prec = 40
        value = _npv([0, *(r.amount_due for r in schedule)], annual_rate / MONTHS_PER_YEAR)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def build_option(
    debt: Debt,
    terms: Terms,
    first_due_on: date,
    *,
    cap: Decimal = DEFAULT_CAP,
    budget: Budget | None = None,
) -> PlanOption:
    """One option: its schedule, totals, annualised rate, refusal and affordability."""
    check_terms(terms)
    penalty_waived = _share_of(debt.penalty, terms.penalty_waiver)
    interest_waived = _share_of(debt.interest, terms.interest_waiver)
    owed = debt.total - penalty_waived - interest_waived
    if terms.kind is OptionKind.SETTLE:
        discount = _share_of(owed, terms.discount)
        base = owed - discount
        if base <= 0:
            raise InvalidValue(
                "discount: nothing left to pay", message_zh="discount：折扣后无需还款"
            )
        schedule = _settlement(base, terms.months, first_due_on)
        flows_base = owed  # the borrower is released from `owed` against these payments
    else:
        discount = 0
        base = owed
        schedule = _amortising(base, terms, first_due_on)
        flows_base = base
    total = sum(r.amount_due for r in schedule)
    rate = annualised_rate(cash_flows(flows_base, schedule))
    refused = refused_zh = None
    if rate > cap * 100:
        refused = f"annualised rate {rate}% exceeds the cap of {_plain(cap * 100)}%"
        refused_zh = f"年化利率 {rate}% 超过上限 {_plain(cap * 100)}%"
    monthly = max(r.amount_due for r in schedule)
    return PlanOption(
        terms=terms,
        loan_id=debt.loan_id,
        base=base,
        concession=penalty_waived + interest_waived + discount,
        schedule=tuple(schedule),
        total_to_pay=total,
        total_interest=sum(r.interest_due for r in schedule),
        total_fees=sum(r.fee_due for r in schedule),
        monthly_payment=monthly,
        annualised_rate=rate,
        expected_recovery=_present_value(schedule, debt.annual_rate),
        refused=refused,
        refused_zh=refused_zh,
        affordable=None if budget is None else monthly <= budget.allowance,
        debt_total=debt.total,
        financed=flows_base,
    )


def standard_terms(debt: Debt) -> list[Terms]:
    """The usual menu for a loan: reschedule, extend, lower rate, grace, waive, settle and
    a combination, each in the loan's own method (extend also in the other two)."""
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
    cap: Decimal = DEFAULT_CAP,
    budget: Budget | None = None,
    terms: Sequence[Terms] | None = None,
) -> Menu:
    """The ranked options of every loan (the standard menu unless `terms` is given)."""
    menu = Menu()
    for debt in debts:
        chosen = terms if terms is not None else standard_terms(debt)
        menu.options[debt.loan_id] = rank(
            build_option(debt, t, first_due_on, cap=cap, budget=budget) for t in chosen
        )
    return menu


def describe(option: PlanOption) -> str:
    """A one-line English summary for audit summaries and logs."""
    return (
        f"{option.terms.kind.value} {option.terms.months}m {option.terms.method.value}: "
        f"{format_yuan(option.monthly_payment)}/month, total {format_yuan(option.total_to_pay)}, "
        f"{option.annualised_rate}%"
    )
