"""What a repayment plan is made of: the debt it restructures, the terms of an option, how
arrears are treated, the borrower's budget, and one option's rows and figures (with their
JSON form, which an offer stores so the borrower accepts exactly what was shown). Pure:
stdlib only; `domain.plans` builds the options."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from doorstep.domain.errors import InvalidValue
from doorstep.domain.money import Fen
from doorstep.domain.schedule import Installment, RepaymentMethod

MAX_MONTHS = 360
DEFAULT_CAP = Decimal("0.24")  # the CN ceiling courts protect; a jurisdiction setting
DEFAULT_SHARE = Decimal("0.5")  # of disposable income a plan may take each month


class OptionKind(StrEnum):
    RESCHEDULE = "reschedule"  # the principal over the remaining term, same rate
    EXTEND = "extend"  # a longer term
    LOWER_RATE = "lower_rate"
    GRACE = "grace"  # interest-only months, then amortise
    WAIVE = "waive"  # penalty (and optionally overdue interest) waived
    SETTLE = "settle"  # a discounted settlement in one or a few payments
    COMBINED = "combined"


class ArrearsPolicy(StrEnum):
    """What a plan does with the overdue interest, fees and penalty (the arrears): never
    lend them again at interest, unless the jurisdiction's pack allows capitalisation and
    the option asks for it."""

    WAIVE = "waive"  # all waived: the plan is the principal alone
    SEPARATE = "separate"  # a balance without interest, repaid in equal parts alongside


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
    def arrears(self) -> Fen:
        """Overdue interest, fees and penalty: what is owed beyond the principal."""
        return self.interest + self.fee + self.penalty

    @property
    def total(self) -> Fen:
        return self.principal + self.arrears


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


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
    upfront_fee: Fen = 0  # paid on the day the plan is agreed
    capitalise: bool = False  # arrears lent again at interest (only where the pack allows)

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
        if self.upfront_fee:
            parts.append(f"fee{self.upfront_fee}")
        if self.capitalise:
            parts.append("capitalised")
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
            "upfront_fee": self.upfront_fee,
            "capitalise": self.capitalise,
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
                upfront_fee=int(data.get("upfront_fee", 0)),
                capitalise=bool(data.get("capitalise", False)),
            )
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise InvalidValue(
                f"not a plan's terms: {exc}", message_zh=f"还款方案条款无效：{exc}"
            ) from None


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
    if terms.upfront_fee < 0:
        raise bad("upfront_fee", "must not be negative", "不能为负")
    if terms.kind is OptionKind.SETTLE:
        if terms.discount >= 1:
            raise bad("discount", "a settlement must collect something", "结清金额须大于零")
        if terms.months > 12:
            raise bad("months", "a settlement is paid in at most 12 payments", "结清最多分 12 期")
        if terms.upfront_fee or terms.capitalise:
            raise bad("upfront_fee", "a settlement charges nothing", "折扣结清不收取任何费用")
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
class PlanRow:
    """One monthly payment of a plan: the interest-bearing part (principal, interest and
    any fee) and the part of the separate, interest-free arrears balance."""

    seq: int
    due_on: date
    principal_due: Fen
    interest_due: Fen
    fee_due: Fen = 0
    arrears_due: Fen = 0

    @property
    def credit_due(self) -> Fen:
        """What this payment pays for the credit: the flow the rates count."""
        return self.principal_due + self.interest_due + self.fee_due

    @property
    def amount_due(self) -> Fen:
        return self.credit_due + self.arrears_due

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "due_on": self.due_on.isoformat(),
            "principal_due": self.principal_due,
            "interest_due": self.interest_due,
            "fee_due": self.fee_due,
            "arrears_due": self.arrears_due,
        }


def rows_from_json(rows: Iterable[dict[str, Any]]) -> list[PlanRow]:
    """A stored option's rows (offers made before the arrears column read as none)."""
    return [
        PlanRow(
            int(r["seq"]),
            date.fromisoformat(r["due_on"]),
            int(r["principal_due"]),
            int(r["interest_due"]),
            int(r.get("fee_due", 0)),
            int(r.get("arrears_due", 0)),
        )
        for r in rows
    ]


def installed_rows(
    rows: Iterable[dict[str, Any]], upfront_fee: Fen, agreed_on: date
) -> list[Installment]:
    """A stored option as the loan's schedule: the upfront fee (if any) due the day the
    plan is agreed, then each payment; the arrears part rides in the fee column, which
    bears neither interest nor penalty."""
    plan = rows_from_json(rows)
    first = [Installment(1, agreed_on, 0, 0, upfront_fee)] if upfront_fee else []
    shift = len(first)
    return first + [
        Installment(
            r.seq + shift, r.due_on, r.principal_due, r.interest_due, r.fee_due + r.arrears_due
        )
        for r in plan
    ]


@dataclass(frozen=True, slots=True)
class PlanOption:
    """One option with everything shown about it. For an instalment plan the figures add
    up exactly: total_to_pay = base + total_interest + total_fees + arrears_balance, and
    base + arrears_balance + concession = debt_total. A settlement has no rates: it shows
    its discount, an amount."""

    terms: Terms
    loan_id: str
    base: Fen  # interest-bearing principal (a settlement: what it collects)
    concession: Fen  # arrears waived plus a settlement's discount
    schedule: tuple[PlanRow, ...]
    total_to_pay: Fen  # the upfront fee and every payment
    total_interest: Fen
    total_fees: Fen  # the upfront fee and any fee in the payments
    monthly_payment: Fen  # the largest payment
    annualised_rate: Decimal | None  # percent (10.90 means 10.90%); None: a settlement
    effective_rate: Decimal | None  # percent; None: a settlement
    expected_recovery: Fen  # what the lender gets, discounted at the contract rate
    refused: str | None = None  # why the option may not be offered (English)
    refused_zh: str | None = None
    affordable: bool | None = None  # None: no budget known
    debt_total: Fen = 0
    financed: Fen = 0  # the amount financed: principal less the upfront fee (settlement: 0)
    arrears_balance: Fen = 0  # the separate, interest-free balance
    capitalised: Fen = 0  # arrears in the interest-bearing principal (where allowed)
    discount: Fen = 0  # a settlement's discount

    @property
    def key(self) -> str:
        return self.terms.key

    @property
    def is_settlement(self) -> bool:
        return self.terms.kind is OptionKind.SETTLE

    def cash_flows(self) -> list[Fen]:
        """The flows the rates are computed from (none for a settlement)."""
        if self.annualised_rate is None:
            return []
        return cash_flows(self.financed, self.schedule)

    def to_json(self) -> dict[str, Any]:
        def rate(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "key": self.key,
            "loan_id": self.loan_id,
            "terms": self.terms.to_json(),
            "base": self.base,
            "debt_total": self.debt_total,
            "concession": self.concession,
            "discount": self.discount,
            "financed": self.financed,
            "arrears_balance": self.arrears_balance,
            "capitalised": self.capitalised,
            "upfront_fee": self.terms.upfront_fee,
            "total_to_pay": self.total_to_pay,
            "total_interest": self.total_interest,
            "total_fees": self.total_fees,
            "monthly_payment": self.monthly_payment,
            "annualised_rate": rate(self.annualised_rate),
            "effective_rate": rate(self.effective_rate),
            "expected_recovery": self.expected_recovery,
            "refused": self.refused,
            "refused_zh": self.refused_zh,
            "affordable": self.affordable,
            "schedule": [r.to_json() for r in self.schedule],
        }


def cash_flows(financed: Fen, schedule: Iterable[PlanRow | Installment]) -> list[Fen]:
    """−amount financed now, then what each payment pays for the credit, one a month (the
    separate arrears balance is no credit: it is left out)."""
    return [
        -financed,
        *(r.credit_due if isinstance(r, PlanRow) else r.amount_due for r in schedule),
    ]
