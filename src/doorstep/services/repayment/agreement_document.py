"""What a plan agreement says, in zh_CN and in en: the debt on the start day, the plan, what
happens to the arrears, the cost (both rates for an instalment plan; a settlement's
discount as an amount, never a rate), the schedule and the terms. Laid out by
`integrations.pdf` with its embedded CJK font."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from doorstep.domain.money import format_yuan
from doorstep.domain.plans import OptionKind, rows_from_json
from doorstep.integrations import pdf

LANGUAGES = ("zh_CN", "en")

KINDS = {
    "zh_CN": {
        "reschedule": "重新分期",
        "extend": "延长期限",
        "lower_rate": "降低利率",
        "grace": "只还利息宽限期",
        "waive": "减免罚息",
        "settle": "折扣结清",
        "combined": "组合方案",
    },
    "en": {
        "reschedule": "Catch up over the remaining term",
        "extend": "Longer term, smaller payments",
        "lower_rate": "Lower interest rate",
        "grace": "Interest-only months first",
        "waive": "Penalty waived",
        "settle": "Settle for less",
        "combined": "Combined relief",
    },
}
METHODS = {
    "zh_CN": {
        "equal_installment": "等额本息",
        "equal_principal": "等额本金",
        "interest_first": "先息后本",
    },
    "en": {
        "equal_installment": "equal instalments",
        "equal_principal": "equal principal",
        "interest_first": "interest first, principal last",
    },
}
COLUMNS = {
    "zh_CN": ["期数", "到期日", "本金", "利息", "费用", "免息欠款", "应还"],
    "en": ["#", "Due", "Principal", "Interest", "Fees", "Overdue, no interest", "Total"],
}
TEXT: dict[str, dict[str, str]] = {
    "zh_CN": {
        "title": "还款方案协议",
        "intro": "贷款编号 {loan}，借款人 {name}（客户编号 {customer}）。本协议于 {prepared} "
        "生成，借款人以发送至本人手机的一次性验证码确认后生效；确认时间记入审计记录并在借款人"
        "门户显示。",
        "owed": "{start} 所欠款项（元）",
        "item": "项目",
        "amount": "金额（元）",
        "principal": "剩余本金",
        "interest": "逾期利息",
        "fee": "逾期费用",
        "penalty": "罚息",
        "total": "合计",
        "plan": "方案",
        "kind": "{kind}：{months} 期，{method}，方案年利率 {rate}%，首期 {first}。",
        "settle_kind": "{kind}：分 {months} 期支付，首期 {first}。",
        "grace": "前 {grace} 期只还利息。",
        "waived": "减免逾期利息、费用和罚息共 {amount} 元。",
        "separate": "逾期利息、费用和罚息中的 {amount} 元单独分期偿还，不计利息，也不计罚息。",
        "capitalised": "逾期利息、费用和罚息中的 {amount} 元计入计息本金（本辖区规则允许）。",
        "upfront": "一次性费用 {amount} 元，于确认当日支付。",
        "totals": "合计应还 {total} 元：本金 {base}，利息 {interest}，费用 {fees}，"
        "免息分期的逾期欠款 {arrears}。",
        "cost": "成本",
        "annualised": "年化利率（IRR 法：月内部收益率 × 12，人民银行公告〔2021〕第 3 号）：{rate}%",
        "effective": "实际年利率（复利：(1 + 月内部收益率)^12 - 1）：{rate}%",
        "financed": "按实际融资额 {amount} 元（剩余本金减去一次性费用）计算；免息分期的逾期欠款"
        "不是借款，不计入。",
        "no_interest": "本方案不收取利息。",
        "settlement": "结清：支付 {paid} 元了结所欠 {owed} 元，减免 {discount} 元。结清不是借款，"
        "没有利率。",
        "schedule": "还款计划",
        "on_confirming": "确认当日",
        "terms": "条款",
        "broken": "任一期逾期超过 {grace} 天，本方案视为未履行，催收跟进恢复。",
        "visits": "按期还款期间，暂停上门拜访。",
        "complain": "如有疑问或投诉，可在借款人门户“先告诉我们”中提出，或联系贷款机构客服。",
        "footer": "方案 {key} · 还款方案 {offer}",
    },
    "en": {
        "title": "Repayment plan agreement",
        "intro": "Loan {loan}, borrower {name} (customer {customer}). Prepared on {prepared}; it "
        "takes effect when the borrower confirms it with the one-time code sent to their "
        "mobile. The time of the confirmation is kept in the audit trail and shown on the "
        "borrower portal.",
        "owed": "What is owed on {start} (yuan)",
        "item": "Item",
        "amount": "Amount (yuan)",
        "principal": "Principal still owed",
        "interest": "Overdue interest",
        "fee": "Overdue fees",
        "penalty": "Penalty",
        "total": "Total",
        "plan": "The plan",
        "kind": "{kind}: {months} payments, {method}, plan interest rate {rate}% a year, "
        "the first on {first}.",
        "settle_kind": "{kind}: {months} payment(s), the first on {first}.",
        "grace": "The first {grace} payments are interest only.",
        "waived": "Overdue interest, fees and penalty waived: {amount} yuan.",
        "separate": "{amount} yuan of overdue interest, fees and penalty are repaid in parts "
        "alongside, with no interest and no penalty on them.",
        "capitalised": "{amount} yuan of overdue interest, fees and penalty are added to the "
        "principal that bears interest (the jurisdiction's rules allow it).",
        "upfront": "A one-off fee of {amount} yuan, paid on the day of confirming.",
        "totals": "Total to pay {total} yuan: principal {base}, interest {interest}, fees "
        "{fees}, overdue amounts repaid without interest {arrears}.",
        "cost": "Cost",
        "annualised": "Annualised rate (IRR method: monthly internal rate of return x 12, "
        "PBOC announcement [2021] No. 3): {rate}%",
        "effective": "Effective annual rate (compound: (1 + monthly IRR)^12 - 1): {rate}%",
        "financed": "Measured on the {amount} yuan really financed (the principal less the "
        "one-off fee); the overdue amounts repaid without interest are no credit and are left "
        "out.",
        "no_interest": "This plan charges no interest.",
        "settlement": "Settlement: {paid} yuan paid settles the {owed} yuan owed, a discount of "
        "{discount} yuan. A settlement is no credit and has no rate.",
        "schedule": "Schedule",
        "on_confirming": "on confirming",
        "terms": "Terms",
        "broken": "If a payment is more than {grace} days late the plan is broken and "
        "follow-up resumes.",
        "visits": "While the plan is kept, there are no visits.",
        "complain": "Questions or complaints: 'Tell us first' on the borrower portal, or the "
        "lender's customer service.",
        "footer": "plan {key} · offer {offer}",
    },
}


@dataclass(frozen=True)
class AgreementFacts:
    """Everything the agreement shows, read from the offer as it was made."""

    offer_id: int
    loan_id: str
    customer_id: str
    borrower: str
    starts_on: date
    debt: dict[str, Any]  # the offer's debt figures (fen)
    option: dict[str, Any]  # the chosen option as stored (PlanOption.to_json)
    prepared: datetime  # local business time
    grace_days: int


def render(language: str, facts: AgreementFacts) -> bytes:
    """The agreement as PDF bytes in `language` (zh_CN or en), laid out in the renderer
    process (a second of CPU with the CJK font: the web process stays free)."""
    t = TEXT[language]
    footer = t["footer"].format(key=facts.option["key"], offer=facts.offer_id)
    return pdf.render_apart(t["title"], blocks(language, facts), footer)


def blocks(language: str, facts: AgreementFacts) -> list[pdf.Block]:
    t = TEXT[language]
    intro = t["intro"].format(
        loan=facts.loan_id,
        name=facts.borrower,
        customer=facts.customer_id,
        prepared=facts.prepared.strftime("%Y-%m-%d %H:%M"),
    )
    return [
        pdf.Paragraph(intro),
        *_owed(t, facts),
        pdf.Heading(t["plan"]),
        pdf.Bullets(_plan(language, facts)),
        pdf.Heading(t["cost"]),
        pdf.Bullets(_cost(t, facts.option)),
        pdf.Heading(t["schedule"]),
        pdf.Table(COLUMNS[language], _schedule(t, facts.option), [0.5, 1.2, 1, 1, 1, 1.2, 1]),
        pdf.Heading(t["terms"]),
        pdf.Bullets(
            [t["broken"].format(grace=facts.grace_days), t["visits"], t["complain"]],
        ),
    ]


def _owed(t: dict[str, str], facts: AgreementFacts) -> list[pdf.Block]:
    debt = facts.debt
    names = ("principal", "interest", "fee", "penalty")
    rows = [[t[name], format_yuan(int(debt[name]))] for name in names]
    rows.append([t["total"], format_yuan(sum(int(debt[name]) for name in names))])
    return [
        pdf.Heading(t["owed"].format(start=facts.starts_on.isoformat())),
        pdf.Table([t["item"], t["amount"]], rows, [2, 1]),
    ]


def _plan(language: str, facts: AgreementFacts) -> list[str]:
    t, option = TEXT[language], facts.option
    terms = option["terms"]
    kind = KINDS[language].get(terms["kind"], terms["kind"])
    first = option["schedule"][0]["due_on"]
    if terms["kind"] == OptionKind.SETTLE.value:
        return [t["settle_kind"].format(kind=kind, months=terms["months"], first=first)]
    rate = f"{float(terms['annual_rate']) * 100:.2f}"
    lines = [
        t["kind"].format(
            kind=kind,
            months=terms["months"],
            method=METHODS[language].get(terms["method"], terms["method"]),
            rate=rate,
            first=first,
        )
    ]
    if terms.get("grace_months"):
        lines.append(t["grace"].format(grace=terms["grace_months"]))
    for key, amount in (
        ("waived", option.get("concession", 0)),
        ("separate", option.get("arrears_balance", 0)),
        ("capitalised", option.get("capitalised", 0)),
        ("upfront", option.get("upfront_fee", 0)),
    ):
        if amount:
            lines.append(t[key].format(amount=format_yuan(int(amount))))
    lines.append(
        t["totals"].format(
            total=format_yuan(option["total_to_pay"]),
            base=format_yuan(option["base"]),
            interest=format_yuan(option["total_interest"]),
            fees=format_yuan(option["total_fees"]),
            arrears=format_yuan(int(option.get("arrears_balance", 0))),
        )
    )
    return lines


def _cost(t: dict[str, str], option: dict[str, Any]) -> list[str]:
    if option["terms"]["kind"] == OptionKind.SETTLE.value:
        paid, owed = int(option["total_to_pay"]), int(option["debt_total"])
        return [
            t["settlement"].format(
                paid=format_yuan(paid), owed=format_yuan(owed), discount=format_yuan(owed - paid)
            )
        ]
    if option.get("annualised_rate") is None:
        return [t["no_interest"]]
    return [
        t["annualised"].format(rate=option["annualised_rate"]),
        t["effective"].format(rate=option["effective_rate"]),
        t["financed"].format(amount=format_yuan(int(option["financed"]))),
    ]


def _schedule(t: dict[str, str], option: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    fee = int(option.get("upfront_fee", 0))
    if fee:
        rows.append(
            ["—", t["on_confirming"], "0.00", "0.00", format_yuan(fee), "0.00", format_yuan(fee)]
        )
    for r in rows_from_json(option["schedule"]):
        amounts = (r.principal_due, r.interest_due, r.fee_due, r.arrears_due, r.amount_due)
        rows.append([str(r.seq), r.due_on.isoformat(), *(format_yuan(a) for a in amounts)])
    return rows
