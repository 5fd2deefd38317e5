"""Hardship or evasion (困难还是逃避): a transparent rule set, advice to the manager only.

Until enough visits carry a reviewed verdict to train a model (then `doorstep score train
--purpose hardship_vs_evasion --data FILE --target COL` runs the same pipeline as every
other model), the probability that a default is willful comes from the rules below. The
result is **advice shown with its reasons, never an automatic action**: the verdict and
the next step are the verifier's and the manager's.

How it works. The probability starts at one half (nothing known). Each rule that holds
adds or removes a fixed share (exact fractions); the sum is kept within [1/20, 19/20]
because no interview makes anyone certain. The leaning is ``evasion`` at 13/20 or
above, ``hardship`` at 7/20 or below, else ``unclear``; it is also ``unclear`` when
fewer than two rules with weight held (too little evidence to lean either way).

Disposable income = monthly income − essential expenses − other debts (when all three
are known). ``days_past_due`` and ``broken_promises`` come from the book; the rest from
the structured interview.

| code              | when                                                         | shift  |
|-------------------|--------------------------------------------------------------|--------|
| incapacity        | reason deceased_or_incapacitated                             | −3/10  |
| shock             | a reason among medical, job_loss, business_failure,          | −3/20  |
|                   | income_drop, family_event (primary: −3/20, else −1/10)       |        |
| no_margin         | disposable income ≤ 0                                        | −3/20  |
| dependants        | 3+ dependants and disposable income below 1,000 yuan         | −1/20  |
| willing           | willingness 4 or 5                                           | −1/10  |
| offers_to_pay     | some ability to pay per month (> 0)                          | −1/20  |
| paid_since        | paid something since falling overdue                         | −1/10  |
| vulnerable        | any vulnerability noted                                      | −1/20  |
| dispute           | reason dispute or product_misunderstood: settle it first     | −1/20  |
| declared_evasion  | reason willful_evasion                                       | +3/10  |
| margin_unpaid     | disposable income > 0 and nothing paid since falling overdue | +3/20  |
| unwilling         | willingness 1 or 2                                           | +3/20  |
| promises_broken   | 2+ broken promises (+3/20); one (+1/20)                      | +3/20  |
| not_reached       | the borrower was not reached                                 | +1/10  |
| long_silence      | 90+ days past due and nothing paid since                     | +1/20  |
| money_management  | reason poor_money_management                                 | +1/20  |
| identity_claim    | reason fraud_or_identity_theft: verify the identity first    | 0      |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from doorstep.domain.errors import InvalidValue
from doorstep.domain.reasons import REASONS

__all__ = [
    "EVASION_FROM",
    "HARDSHIP_UP_TO",
    "REASONS",
    "RULES",
    "RULES_VERSION",
    "Assessment",
    "InterviewFacts",
    "Reason",
    "Rule",
    "assess",
    "interview_row",
    "leaning_of",
]

RULES_VERSION = "hardship-rules/1"
SHOCKS = frozenset({"medical", "job_loss", "business_failure", "income_drop", "family_event"})
START = Fraction(1, 2)
FLOOR, CEILING = Fraction(1, 20), Fraction(19, 20)
EVASION_FROM = Fraction(13, 20)
HARDSHIP_UP_TO = Fraction(7, 20)
MIN_EVIDENCE = 2
SMALL_MARGIN_FEN = 100_000  # 1,000 yuan a month
LONG_SILENCE_DPD = 90


@dataclass(frozen=True)
class InterviewFacts:
    """What the visit and the book tell about one borrower (money in fen)."""

    reasons: tuple[str, ...] = ()
    primary_reason: str | None = None
    monthly_income_fen: int | None = None
    essential_expenses_fen: int | None = None
    other_debts_fen: int | None = None
    dependants: int | None = None
    willingness: int | None = None  # 1 (refuses) .. 5 (eager)
    ability_per_month_fen: int | None = None
    vulnerability: tuple[str, ...] = ()
    borrower_reached: bool = False
    broken_promises: int = 0
    paid_since_overdue_fen: int = 0
    days_past_due: int = 0

    def __post_init__(self) -> None:
        problems = []
        unknown = [r for r in (*self.reasons, self.primary_reason) if r and r not in REASONS]
        if unknown:
            problems.append(f"unknown reasons {sorted(set(unknown))}")
        if self.willingness is not None and not 1 <= self.willingness <= 5:
            problems.append("willingness must be 1 to 5")
        for name in (
            "monthly_income_fen",
            "essential_expenses_fen",
            "other_debts_fen",
            "dependants",
            "ability_per_month_fen",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                problems.append(f"{name} must not be negative")
        for name in ("broken_promises", "paid_since_overdue_fen", "days_past_due"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if problems:
            text = "; ".join(problems)
            raise InvalidValue(f"interview facts: {text}", message_zh=f"访谈信息有误：{text}")

    @property
    def all_reasons(self) -> frozenset[str]:
        return frozenset(self.reasons) | ({self.primary_reason} if self.primary_reason else set())

    @property
    def disposable_fen(self) -> int | None:
        """Income less essentials and other debts, when all three are known."""
        parts = (self.monthly_income_fen, self.essential_expenses_fen, self.other_debts_fen)
        if any(p is None for p in parts):
            return None
        income, essentials, debts = parts
        assert income is not None
        assert essentials is not None
        assert debts is not None
        return income - essentials - debts


@dataclass(frozen=True)
class Reason:
    """One rule that held: its code, its shift of the probability, and why, in en and zh."""

    code: str
    weight: Fraction  # > 0 towards evasion, < 0 towards hardship
    en: str
    zh_CN: str

    def text(self, locale: str = "en") -> str:
        return self.zh_CN if locale.lower().startswith("zh") else self.en

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "weight": str(self.weight), "en": self.en, "zh_CN": self.zh_CN}


@dataclass(frozen=True)
class Assessment:
    """Advice: the probability that the default is willful, the leaning, and why."""

    probability_willful: Fraction  # in [1/20, 19/20]
    leaning: str  # hardship | evasion | unclear
    reasons: tuple[Reason, ...]
    rules_version: str = RULES_VERSION

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the probability as a fraction string and a rounded number)."""
        return {
            "source": self.rules_version,
            "probability_willful": str(self.probability_willful),
            "probability": round(float(self.probability_willful), 4),
            "leaning": self.leaning,
            "reasons": [r.as_dict() for r in self.reasons],
            "advice_only": True,
        }


Text = str | Callable[[InterviewFacts], str]
Weight = Fraction | Callable[[InterviewFacts], Fraction]


@dataclass(frozen=True)
class Rule:
    """One row of the rule table: when it holds, how far it shifts the probability,
    and why, in en and zh_CN (a fixed value, or one computed from the facts)."""

    code: str
    holds: Callable[[InterviewFacts], bool]
    weight: Weight
    en: Text
    zh_CN: Text

    def reason(self, f: InterviewFacts) -> Reason:
        weight = self.weight(f) if callable(self.weight) else self.weight
        en = self.en(f) if callable(self.en) else self.en
        zh = self.zh_CN(f) if callable(self.zh_CN) else self.zh_CN
        return Reason(self.code, weight, en, zh)


def _no_margin(f: InterviewFacts) -> bool:
    disposable = f.disposable_fen
    return disposable is not None and disposable <= 0


def _many_dependants_thin_margin(f: InterviewFacts) -> bool:
    disposable = f.disposable_fen
    return (
        f.dependants is not None
        and f.dependants >= 3
        and disposable is not None
        and disposable < SMALL_MARGIN_FEN
    )


def _margin_unpaid(f: InterviewFacts) -> bool:
    disposable = f.disposable_fen
    return disposable is not None and disposable > 0 and f.paid_since_overdue_fen == 0


def _shocks(f: InterviewFacts) -> list[str]:
    return sorted(f.all_reasons & SHOCKS)


RULES: tuple[Rule, ...] = (
    Rule(
        "incapacity",
        lambda f: "deceased_or_incapacitated" in f.all_reasons,
        Fraction(-3, 10),
        "the borrower died or cannot act",
        "借款人已故或丧失行为能力",
    ),
    Rule(
        "shock",
        lambda f: bool(_shocks(f)),
        lambda f: Fraction(-3, 20) if f.primary_reason in SHOCKS else Fraction(-1, 10),
        lambda f: "an income or health shock: " + ", ".join(_shocks(f)),
        lambda f: "收入或健康冲击：" + "、".join(_shocks(f)),
    ),
    Rule(
        "no_margin",
        _no_margin,
        Fraction(-3, 20),
        "income does not cover essentials and other debts",
        "收入不足以覆盖基本开支和其他债务",
    ),
    Rule(
        "dependants",
        _many_dependants_thin_margin,
        Fraction(-1, 20),
        "three or more dependants on a thin margin",
        "供养三人及以上且结余很少",
    ),
    Rule(
        "willing",
        lambda f: f.willingness is not None and f.willingness >= 4,
        Fraction(-1, 10),
        "says they want to pay (willingness 4-5)",
        "表示愿意还款（意愿 4-5）",
    ),
    Rule(
        "offers_to_pay",
        lambda f: f.ability_per_month_fen is not None and f.ability_per_month_fen > 0,
        Fraction(-1, 20),
        "offers an amount each month",
        "愿意每月偿还一定金额",
    ),
    Rule(
        "paid_since",
        lambda f: f.paid_since_overdue_fen > 0,
        Fraction(-1, 10),
        "paid something since falling overdue",
        "逾期后仍有还款",
    ),
    Rule(
        "vulnerable",
        lambda f: bool(f.vulnerability),
        Fraction(-1, 20),
        lambda f: "vulnerable: " + ", ".join(f.vulnerability) + " (handle with care)",
        lambda f: "弱势情形：" + "、".join(f.vulnerability) + "（需审慎处理）",
    ),
    Rule(
        "dispute",
        lambda f: bool(f.all_reasons & {"dispute", "product_misunderstood"}),
        Fraction(-1, 20),
        "disputes the debt or misunderstood the product: settle that first",
        "对债务有异议或误解产品：应先解决",
    ),
    Rule(
        "declared_evasion",
        lambda f: "willful_evasion" in f.all_reasons,
        Fraction(3, 10),
        "the verifier recorded willful evasion",
        "外访员记录为恶意逃避",
    ),
    Rule(
        "margin_unpaid",
        _margin_unpaid,
        Fraction(3, 20),
        "income covers essentials and debts, yet nothing was paid",
        "收入足以覆盖开支和债务，但未还款",
    ),
    Rule(
        "unwilling",
        lambda f: f.willingness is not None and f.willingness <= 2,
        Fraction(3, 20),
        "says they will not pay (willingness 1-2)",
        "表示不愿还款（意愿 1-2）",
    ),
    Rule(
        "promises_broken",
        lambda f: f.broken_promises >= 2,
        Fraction(3, 20),
        lambda f: f"{f.broken_promises} promises to pay broken",
        lambda f: f"{f.broken_promises} 次还款承诺未履行",
    ),
    Rule(
        "promises_broken",
        lambda f: f.broken_promises == 1,
        Fraction(1, 20),
        "one promise to pay broken",
        "1 次还款承诺未履行",
    ),
    Rule(
        "not_reached",
        lambda f: not f.borrower_reached,
        Fraction(1, 10),
        "the borrower was not reached",
        "未见到借款人本人",
    ),
    Rule(
        "long_silence",
        lambda f: f.days_past_due >= LONG_SILENCE_DPD and f.paid_since_overdue_fen == 0,
        Fraction(1, 20),
        lambda f: f"{f.days_past_due} days past due, nothing paid",
        lambda f: f"逾期 {f.days_past_due} 天且未还款",
    ),
    Rule(
        "money_management",
        lambda f: "poor_money_management" in f.all_reasons,
        Fraction(1, 20),
        "poor money management",
        "理财不当",
    ),
    Rule(
        "identity_claim",
        lambda f: "fraud_or_identity_theft" in f.all_reasons,
        Fraction(0),
        "claims fraud or identity theft: verify the identity before judging",
        "声称被骗或身份被冒用：应先核实身份",
    ),
)
"""The module's table as data, in its order: every row that holds gives one reason."""


def _rules(f: InterviewFacts) -> list[Reason]:
    return [rule.reason(f) for rule in RULES if rule.holds(f)]


def leaning_of(probability: Fraction, evidence: int = MIN_EVIDENCE) -> str:
    """evasion at 13/20 or above, hardship at 7/20 or below, else (or on too little
    evidence) unclear."""
    if evidence < MIN_EVIDENCE:
        return "unclear"
    if probability >= EVASION_FROM:
        return "evasion"
    if probability <= HARDSHIP_UP_TO:
        return "hardship"
    return "unclear"


def interview_row(facts: InterviewFacts) -> dict[str, int | str | None]:
    """The facts as one row of a training file (and of a trained model's input): the
    column names a labelled-verdicts export for ``hardship_vs_evasion`` should use.
    Reasons become 0/1 columns ``reason_<code>``; unknown amounts stay None."""
    row: dict[str, int | str | None] = {
        "primary_reason": facts.primary_reason,
        "monthly_income_fen": facts.monthly_income_fen,
        "essential_expenses_fen": facts.essential_expenses_fen,
        "other_debts_fen": facts.other_debts_fen,
        "disposable_fen": facts.disposable_fen,
        "dependants": facts.dependants,
        "willingness": facts.willingness,
        "ability_per_month_fen": facts.ability_per_month_fen,
        "vulnerabilities": len(facts.vulnerability),
        "borrower_reached": int(facts.borrower_reached),
        "broken_promises": facts.broken_promises,
        "paid_since_overdue_fen": facts.paid_since_overdue_fen,
        "days_past_due": facts.days_past_due,
    }
    reasons = facts.all_reasons
    for code in REASONS:
        row[f"reason_{code}"] = int(code in reasons)
    return row


def assess(facts: InterviewFacts) -> Assessment:
    """The rule set's advice on ``facts`` (see the module's table)."""
    held = _rules(facts)
    total = START + sum((r.weight for r in held), Fraction(0))
    probability = min(max(total, FLOOR), CEILING)
    leaning = leaning_of(probability, sum(1 for r in held if r.weight != 0))
    ordered = tuple(sorted(held, key=lambda r: (-abs(r.weight), r.code)))
    return Assessment(probability, leaning, ordered)
