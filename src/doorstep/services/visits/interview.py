"""The structured interview (访谈): the form's answers read field by field into an
`Interview`, every refused answer named with its field in en and zh_CN.

`AnswerReader` holds the answers and the problems found so far, with the generic readers
(one value, a list, free text, money, a choice); the `read_*` functions read one
interview field each with its own rules; `parse_interview` calls them in the form's
order and refuses the whole form with every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from doorstep.domain.errors import DoorstepError, InvalidAnswers
from doorstep.domain.money import parse_yuan
from doorstep.domain.reasons import REASONS
from doorstep.domain.verdict import VULNERABILITIES, AddressStatus, Leaning, Met, leaning_of

LABELS: dict[str, tuple[str, str]] = {
    "met": ("who was met", "会见对象"),
    "disclosure_ack": ("no-disclosure reminder", "不得向第三方披露债务提醒"),
    "address_status": ("address", "地址核实"),
    "reasons": ("reasons for default", "逾期原因"),
    "primary_reason": ("primary reason", "主要原因"),
    "employment": ("employment", "就业情况"),
    "monthly_income": ("monthly income", "月收入"),
    "essential_expenses": ("essential expenses", "每月必要支出"),
    "other_debts": ("other debts", "其他债务"),
    "dependants": ("dependants", "供养人数"),
    "willingness": ("willingness to pay", "还款意愿"),
    "ability_per_month": ("ability to pay per month", "每月还款能力"),
    "leaning": ("hardship or evasion", "困难或逃避"),
    "statement": ("borrower's statement", "借款人陈述"),
    "observations": ("observations", "外访员观察"),
    "vulnerabilities": ("vulnerability", "脆弱情形"),
    "outcome": ("promise or plan", "还款承诺或方案"),
    "promise_amount": ("promised amount", "承诺金额"),
    "promise_date": ("promised date", "承诺日期"),
    "promise_reason": ("why more than the stated ability", "承诺超出还款能力的理由"),
    "new_address": ("new address heard of", "新地址线索"),
    "new_phone": ("new phone heard of", "新电话线索"),
    "evidence": ("evidence", "证据"),
    "idempotency_key": ("submission key", "提交标识"),
}
TEXT_LIMIT = 2000
MAX_AMOUNT_FEN = 100_000_000_00  # 100 million yuan
MAX_DEPENDANTS = 30
PROMISE_WITHIN = timedelta(days=90)
OUTCOMES = ("none", "promise", "plan")
YES = ("on", "true", "1", "yes")  # how a checked box arrives
BORROWER_ONLY = (
    "reasons",
    "primary_reason",
    "employment",
    "monthly_income",
    "essential_expenses",
    "other_debts",
    "dependants",
    "willingness",
    "ability_per_month",
    "statement",
)
"""Asked of the borrower alone: a third party is only asked to pass on a message."""
MIN_PROMISE_REASON = 4  # characters
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")

Answers = Mapping[str, str | list[str]]


@dataclass(frozen=True)
class Problem:
    """One refused answer of a visit's forms, naming its field."""

    field: str
    message: str
    message_zh: str


@dataclass
class Interview:
    met: Met
    address_status: AddressStatus
    reasons: list[str]
    primary_reason: str | None
    employment: str | None
    monthly_income: int | None
    essential_expenses: int | None
    other_debts: int | None
    dependants: int | None
    willingness: int | None
    ability_per_month: int | None
    leaning: Leaning
    statement: str | None
    observations: str | None
    vulnerabilities: list[str]
    outcome: str  # none | promise | plan
    promise_amount: int | None
    promise_date: date | None
    promise_reason: str | None = None  # why a promise above the stated ability
    new_address: str | None = None  # a contact point heard of at the door: it enters
    new_phone: str | None = None  # confirmation, and never the interview's document

    @property
    def above_ability(self) -> bool:
        """A promise of more a month than the borrower said they can pay."""
        return (
            self.promise_amount is not None
            and self.ability_per_month is not None
            and self.promise_amount > self.ability_per_month
        )

    @property
    def reached(self) -> bool:
        return self.met is Met.BORROWER

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if name in ("new_address", "new_phone"):
                continue  # personal data: kept encrypted as a contact point
            if isinstance(value, date):
                out[name] = value.isoformat()
            elif isinstance(value, Met | AddressStatus | Leaning):
                out[name] = value.value
            else:
                out[name] = value
        out["disclosure_ack"] = True
        return out


class AnswerReader:
    """The form's answers, read one field at a time; each bad answer adds a `Problem`
    (labelled with its field) and reads as absent."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.problems: list[Problem] = []

    def bad(self, name: str, en: str, zh: str) -> None:
        label_en, label_zh = LABELS[name]
        self.problems.append(Problem(name, f"{label_en}: {en}", f"{label_zh}：{zh}"))

    def one(self, name: str) -> str:
        """The field's value, stripped (the last one when sent several times)."""
        value = self.answers.get(name, "")
        text = value[-1] if isinstance(value, list) and value else value
        return str(text or "").strip()

    def many(self, name: str) -> list[str]:
        """The field's non-blank values, stripped."""
        value = self.answers.get(name, [])
        items = value if isinstance(value, list) else [value]
        return [str(v).strip() for v in items if str(v).strip()]

    def free_text(self, name: str) -> str | None:
        """Free text of at most `TEXT_LIMIT` characters; None when blank."""
        value = self.one(name)
        if len(value) > TEXT_LIMIT:
            self.bad(name, f"at most {TEXT_LIMIT} characters", f"最多 {TEXT_LIMIT} 个字")
        return value or None

    def money(self, name: str, *, required: bool = False) -> int | None:
        """An amount in yuan, as fen, from 0 to 100 million yuan."""
        value = self.one(name)
        if not value:
            if required:
                self.bad(name, "required (yuan, 0 if none)", "必填（元，没有则填 0）")
            return None
        try:
            fen = parse_yuan(value)
        except DoorstepError:
            self.bad(name, f"{value!r} is not an amount in yuan", f"{value!r} 不是以元为单位的金额")
            return None
        if fen < 0 or fen > MAX_AMOUNT_FEN:
            self.bad(name, "must be between 0 and 100,000,000 yuan", "须在 0 至 1 亿元之间")
            return None
        return fen

    def choice(self, name: str, options: Sequence[str], default: str | None = None) -> str | None:
        """One of `options` (`default` when blank; required without a default)."""
        value = self.one(name) or default
        if not value:
            self.bad(name, "required", "必填")
            return None
        if value not in options:
            self.bad(
                name, f"{value!r} is not one of {', '.join(options)}", f"{value!r} 不是有效选项"
            )
            return None
        return value


def read_met(form: AnswerReader) -> Met:
    """Who was met (required; nobody when refused)."""
    met = form.choice("met", [m.value for m in Met])
    return Met(met) if met else Met.NOBODY


def read_disclosure_ack(form: AnswerReader) -> None:
    """The verifier confirms the debt was disclosed to nobody but the borrower."""
    if form.one("disclosure_ack") not in YES:
        form.bad(
            "disclosure_ack",
            "confirm that nothing about the debt was disclosed to anyone but the borrower",
            "请确认未向借款人以外的任何人透露债务情况",
        )


def read_address_status(form: AnswerReader) -> AddressStatus:
    """Whether the address holds (required; valid when refused)."""
    address = form.choice("address_status", [a.value for a in AddressStatus])
    return AddressStatus(address) if address else AddressStatus.VALID


def read_reasons(form: AnswerReader, reached: bool) -> tuple[list[str], str | None]:
    """The reasons for default and the primary one (implied when only one is chosen):
    at least one when the borrower was met, the primary among those chosen."""
    reasons = form.many("reasons")
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        listed = ", ".join(unknown)
        form.bad("reasons", f"unknown reason(s) {listed}", f"未知原因 {listed}")
    primary = form.one("primary_reason") or (reasons[0] if len(reasons) == 1 else "")
    if primary and primary not in reasons:
        form.bad("primary_reason", "must be one of the chosen reasons", "须为已选原因之一")
    if reached and not reasons:
        form.bad("reasons", "choose at least one reason", "请至少选择一个原因")
    elif reasons and not primary:
        form.bad("primary_reason", "choose the primary reason", "请选择主要原因")
    return reasons, primary or None


def read_willingness(form: AnswerReader, reached: bool) -> int | None:
    """Willingness to pay, 1 to 5; required when the borrower was met."""
    raw = form.one("willingness")
    if raw:
        if raw in ("1", "2", "3", "4", "5"):
            return int(raw)
        form.bad("willingness", "choose 1 to 5", "请选择 1 至 5")
    elif reached:
        form.bad(
            "willingness",
            "required when the borrower was met: choose 1 to 5",
            "会见借款人时必填：1 至 5",
        )
    return None


def read_dependants(form: AnswerReader) -> int | None:
    """How many people the borrower supports, 0 to 30 (optional)."""
    raw = form.one("dependants")
    if not raw:
        return None
    if re.fullmatch(r"[0-9]{1,2}", raw) and int(raw) <= MAX_DEPENDANTS:  # not "²" (isdigit)
        return int(raw)
    form.bad("dependants", "a whole number from 0 to 30", "0 至 30 的整数")
    return None


def read_vulnerabilities(form: AnswerReader) -> list[str]:
    """The vulnerability flags noted (each a known one)."""
    vulnerabilities = form.many("vulnerabilities")
    odd = [v for v in vulnerabilities if v not in VULNERABILITIES]
    if odd:
        listed = ", ".join(odd)
        form.bad("vulnerabilities", f"unknown flag(s) {listed}", f"未知情形 {listed}")
    return vulnerabilities


def read_promise(form: AnswerReader, today: date) -> tuple[int | None, date | None]:
    """A promise to pay: more than 0 yuan, on a day within the next 90 days."""
    amount = form.money("promise_amount", required=True)
    if amount == 0:
        form.bad("promise_amount", "must be more than 0", "须大于 0")
    due: date | None = None
    try:
        due = date.fromisoformat(form.one("promise_date"))
    except ValueError:
        form.bad("promise_date", "required, as YYYY-MM-DD", "必填，格式 YYYY-MM-DD")
    if due is not None and not (today <= due <= today + PROMISE_WITHIN):
        form.bad("promise_date", "must be within the next 90 days", "须在今后 90 天内")
        due = None
    return amount, due


def read_outcome(
    form: AnswerReader, reached: bool, today: date
) -> tuple[str, int | None, date | None]:
    """none, promise (with its amount and date) or plan; only the borrower may promise
    or ask for a plan."""
    outcome = form.choice("outcome", OUTCOMES, default="none") or "none"
    amount = due = None
    if outcome == "promise":
        amount, due = read_promise(form, today)
        if not reached:
            form.bad(
                "outcome", "only the borrower can promise to pay", "只有借款人本人可以承诺还款"
            )
    elif outcome == "plan" and not reached:
        form.bad(
            "outcome", "only the borrower can ask for a plan", "只有借款人本人可以申请还款方案"
        )
    return outcome, amount, due


def read_leaning(form: AnswerReader, reached: bool) -> Leaning:
    """The verifier's sense of hardship or evasion of the borrower met (unclear when not
    given); not met otherwise, and a call on hardship or evasion is refused."""
    called = [Leaning.HARDSHIP, Leaning.EVASION, Leaning.UNCLEAR]
    value = form.choice("leaning", [x.value for x in called], "unclear") or "unclear"
    if not reached and value != Leaning.UNCLEAR:
        form.bad(
            "leaning",
            "hardship or evasion is judged only from the borrower met, never from a third party",
            "困难或逃避只能根据借款人本人判断，不得依据第三方",
        )
    return leaning_of(reached, Leaning(value))


def refuse_third_party_answers(form: AnswerReader, reached: bool) -> None:
    """Without the borrower, none of the borrower's answers may be recorded: a relative or
    colleague is asked only to pass on a message, never about the debt."""
    if reached:
        return
    for name in BORROWER_ONLY:
        if form.many(name):
            form.bad(
                name,
                "recorded only when the borrower is met: a third party is only asked to "
                "pass on a message",
                "仅在会见借款人本人时记录：对第三方只请其转告留言",
            )


def read_promise_reason(form: AnswerReader, above_ability: bool) -> str | None:
    """Why the borrower promises more than their stated ability (required then)."""
    reason = form.free_text("promise_reason")
    if above_ability and len(reason or "") < MIN_PROMISE_REASON:
        form.bad(
            "promise_reason",
            "the promise is above the stated ability per month: say why it can be kept",
            "承诺金额超出每月还款能力：请说明能够履行的理由",
        )
    return reason


def read_new_contacts(form: AnswerReader) -> tuple[str | None, str | None]:
    """A new address or phone heard of at the door (optional; it enters confirmation)."""
    address, phone = form.free_text("new_address"), form.one("new_phone") or None
    if address is not None and len(address) > 200:
        form.bad("new_address", "at most 200 characters", "最多 200 个字")
        address = None
    if phone is not None and not PHONE.match(phone):
        form.bad("new_phone", "a phone number of 6 to 20 digits", "6 至 20 位的电话号码")
        phone = None
    return address, phone


def parse_interview(answers: Answers, today: date) -> Interview:
    """The interview from the form's answers; every problem names its field."""
    form = AnswerReader(answers)
    met = read_met(form)
    read_disclosure_ack(form)
    address = read_address_status(form)
    reached = met is Met.BORROWER
    refuse_third_party_answers(form, reached)
    reasons, primary = read_reasons(form, reached)
    willingness = read_willingness(form, reached)
    ability = form.money("ability_per_month", required=reached)
    dependants = read_dependants(form)
    vulnerabilities = read_vulnerabilities(form)
    outcome, promise_amount, promise_date = read_outcome(form, reached, today)
    interview = Interview(
        met=met,
        address_status=address,
        reasons=reasons,
        primary_reason=primary,
        employment=form.free_text("employment"),
        monthly_income=form.money("monthly_income"),
        essential_expenses=form.money("essential_expenses"),
        other_debts=form.money("other_debts"),
        dependants=dependants,
        willingness=willingness,
        ability_per_month=ability,
        leaning=read_leaning(form, reached),
        statement=form.free_text("statement"),
        observations=form.free_text("observations"),
        vulnerabilities=vulnerabilities,
        outcome=outcome,
        promise_amount=promise_amount,
        promise_date=promise_date,
    )
    interview.promise_reason = read_promise_reason(form, interview.above_ability)
    interview.new_address, interview.new_phone = read_new_contacts(form)
    if form.problems:
        raise InvalidAnswers(form.problems)
    return interview
