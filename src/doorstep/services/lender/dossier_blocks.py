"""What a dossier shows, block by block: each builder turns one part of the case's facts
(the borrower, loans, payments, contacts, attempts, visits, promises, the conduct rules,
the repayment options) into `integrations.pdf` blocks; `dossier_blocks` lays them out in
order. Personal data arrives masked in the facts and stays masked here."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from doorstep.domain import plans
from doorstep.domain.money import format_yuan
from doorstep.integrations import pdf
from doorstep.services.cases.view import CaseFacts
from doorstep.services.repayment import offers
from doorstep.store.repositories import feedback as repo

STATE_ZH = {
    "new": "新建",
    "confirming": "确认中",
    "ready": "待上门",
    "scheduled": "已排程",
    "visiting": "上门中",
    "visited": "已上门",
    "closed": "已结案",
    "cancelled": "已取消",
}
CHANNEL_ZH = {"phone": "电话", "address": "地址"}
GENDER_ZH = {"M": "男", "F": "女"}
PROMISE_ZH = {"open": "未到期", "kept": "已履行", "partly_kept": "部分履行", "broken": "未履行"}

CONDUCT = [
    "两名核实员同行，上门时间为 08:00–21:00；进门前先出示工作证（姓名、工号、机构），"
    "说明来自哪家机构、受哪家贷款机构委托。",
    "说明来意：核实居住与联系情况、了解逾期原因、商讨可行的还款安排；不催讨、不施压。",
    "只与借款人本人谈及债务；遇到家人、同事或邻居，不透露任何欠款信息，只留下回访方式。",
    "不得威胁、辱骂、恐吓、骚扰，不得拍摄借款人以外的人员，不得进入未获同意的住所。",
    "如借款人表示患病、残疾、高龄、近期丧亲或其他困难，记录后停止催收话题并上报主管。",
    "全程记录：签到签退、访谈记录、照片或录音均须如实上传，事后不可修改。",
]
RIGHTS = [
    "有权要求核实员出示证件并核实其身份与委托机构；",
    "有权拒绝核实员进入住所，可另约时间或地点；",
    "有权获知欠款明细（本金、利息、罚息、费用）及计算方式；",
    "有权就欠款提出异议，异议期间暂停上门；",
    "个人信息受法律保护，不会向第三人披露；",
    "可通过贷款机构客服或监管部门投诉。",
]
OPTION_ZH = {
    plans.OptionKind.RESCHEDULE: "重新分期",
    plans.OptionKind.EXTEND: "延长期限",
    plans.OptionKind.LOWER_RATE: "降低利率",
    plans.OptionKind.GRACE: "只还利息宽限期",
    plans.OptionKind.WAIVE: "减免罚息",
    plans.OptionKind.SETTLE: "折扣结清",
    plans.OptionKind.COMBINED: "组合方案",
}
OPTIONS_PER_LOAN = 4
RECENT = 20  # payments and contact attempts shown, newest first
LOAN_COLUMNS = [
    "借据号",
    "产品",
    "本金",
    "逾期天数",
    "账龄",
    "逾期本金",
    "逾期利息",
    "罚息",
    "剩余本金",
]


def dossier_blocks(
    facts: CaseFacts,
    zone: ZoneInfo,
    session: Session,
    today: date,
    policy: offers.OfferPolicy | None = None,
) -> list[pdf.Block]:
    """The whole dossier of the case for the visit day `today` (its repayment options
    under `policy`, the deployment's; default the standard settings)."""
    return [
        *borrower_blocks(facts),
        *loan_blocks(facts),
        *payment_blocks(facts),
        *contact_blocks(facts),
        *attempt_blocks(facts, zone),
        *visit_blocks(session, facts, zone),
        *promise_blocks(session, facts),
        *conduct_blocks(),
        *option_blocks(session, facts, today, policy or offers.OfferPolicy()),
    ]


def local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "—"


def borrower_blocks(facts: CaseFacts) -> list[pdf.Block]:
    case, customer = facts.case, facts.customer
    return [
        pdf.Heading("借款人"),
        pdf.Table(
            ["客户号", "姓名", "性别", "出生年份", "身份证号（脱敏）", "工作单位"],
            [
                [
                    customer.customer_id,
                    customer.name,
                    GENDER_ZH.get(customer.gender, customer.gender),
                    str(customer.birth_year),
                    customer.id_number_masked or "—",
                    customer.employer or "—",
                ]
            ],
            [2, 1.4, 0.8, 1, 2.4, 2.6],
        ),
        pdf.Paragraph(
            f"案件状态：{STATE_ZH.get(case.state, case.state)}　逾期天数：{case.max_dpd}　"
            f"账龄：{case.bucket}　逾期金额：{format_yuan(case.overdue_amount)} 元　"
            f"数据日期：{case.as_of}　区域：{case.city or ''}{case.district or ''}"
        ),
    ]


def loan_blocks(facts: CaseFacts) -> list[pdf.Block]:
    rows = []
    for loan in facts.loans:
        snap = facts.latest.get(loan.loan_id)
        rows.append(
            [
                loan.loan_id,
                loan.product,
                format_yuan(loan.principal),
                str(snap.dpd) if snap else "—",
                snap.bucket if snap else "—",
                format_yuan(snap.overdue_principal) if snap else "—",
                format_yuan(snap.overdue_interest) if snap else "—",
                format_yuan(snap.overdue_penalty) if snap else "—",
                format_yuan(snap.outstanding_principal) if snap else "—",
            ]
        )
    return [
        pdf.Heading("借款与逾期"),
        pdf.Table(LOAN_COLUMNS, rows, [2, 1.6, 1.3, 0.9, 0.8, 1.3, 1.3, 1.1, 1.3]),
    ]


def payment_blocks(facts: CaseFacts) -> list[pdf.Block]:
    payments = sorted(facts.payments, key=lambda p: p.paid_on, reverse=True)[:RECENT]
    return [
        pdf.Heading(f"还款记录（最近 {RECENT} 笔）"),
        pdf.Table(
            ["日期", "借据号", "金额（元）", "渠道"],
            [[str(p.paid_on), p.loan_id, format_yuan(p.amount), p.channel] for p in payments],
            [1.2, 2, 1.2, 1.2],
            empty="无还款记录",
        ),
    ]


def contact_blocks(facts: CaseFacts) -> list[pdf.Block]:
    return [
        pdf.Heading("联系方式（按可信度排序，已脱敏）"),
        pdf.Table(
            ["类型", "号码 / 地址", "来源", "状态", "可信度", "依据"],
            [
                [
                    f"{CHANNEL_ZH.get(r.point.channel, r.point.channel)} · {r.point.kind}",
                    r.point.value_masked,
                    r.point.source,
                    r.point.status,
                    f"{r.trust:.0%}",
                    r.why,
                ]
                for r in facts.contacts
            ],
            [1.3, 2.3, 1.1, 1, 0.8, 2.8],
            empty="无联系方式",
        ),
    ]


def attempt_blocks(facts: CaseFacts, zone: ZoneInfo) -> list[pdf.Block]:
    attempts = sorted(facts.attempts, key=lambda a: a.attempted_at, reverse=True)[:RECENT]
    return [
        pdf.Heading(f"以往联系与备注（最近 {RECENT} 次）"),
        pdf.Table(
            ["时间", "方式", "结果", "备注"],
            [
                [local_time(a.attempted_at, zone), a.channel, a.result, facts.notes.get(a.id, "")]
                for a in attempts
            ],
            [1.5, 0.9, 1.1, 4],
            empty="尚无联系记录",
        ),
    ]


def visit_blocks(session: Session, facts: CaseFacts, zone: ZoneInfo) -> list[pdf.Block]:
    rows = [
        [
            local_time(visit.checked_in_at, zone),
            visit.met or "—",
            ("是" if verdict.reached else "否") if verdict else "—",
            verdict.address_status if verdict else "—",
            verdict.hardship_or_evasion if verdict else "—",
            (verdict.override_step or verdict.next_step) if verdict else "—",
        ]
        for visit, verdict in repo.visits_of_case(session, facts.case.id)
    ]
    return [
        pdf.Heading("以往上门"),
        pdf.Table(
            ["签到时间", "见到", "是否见到本人", "地址", "结论", "下一步"],
            rows,
            [1.5, 1, 1.1, 1, 1, 1.5],
            empty="尚无上门记录",
        ),
    ]


def promise_blocks(session: Session, facts: CaseFacts) -> list[pdf.Block]:
    """The borrower's promises to pay; nothing at all when there are none."""
    promises = repo.promises_of_customer(session, facts.customer.customer_id)
    if not promises:
        return []
    rows = [
        [
            str(p.due_on),
            format_yuan(p.amount),
            format_yuan(p.paid),
            PROMISE_ZH.get(p.status, p.status),
        ]
        for p in promises
    ]
    return [
        pdf.Heading("承诺还款"),
        pdf.Table(["承诺日期", "金额（元）", "已还（元）", "状态"], rows),
    ]


def conduct_blocks() -> list[pdf.Block]:
    return [
        pdf.Heading("上门须知：身份、来意与规范"),
        pdf.Bullets(CONDUCT),
        pdf.Heading("须告知借款人的权利"),
        pdf.Bullets(RIGHTS),
    ]


def option_blocks(
    session: Session, facts: CaseFacts, today: date, policy: offers.OfferPolicy
) -> list[pdf.Block]:
    return [
        pdf.Heading("可提供的还款方案"),
        pdf.Table(
            ["贷款", "方案", "期数", "月供（元）", "合计（元）", "年化利率（IRR）/ 结清减免"],
            repayment_options(session, facts, today, policy),
            [1.2, 1.3, 0.5, 1.0, 1.1, 1.9],
            empty="暂无可提供的方案",
        ),
        pdf.Paragraph(
            "年化利率按 IRR 法（月内部收益率 × 12，人民银行公告〔2021〕第 3 号），括号内为"
            "复利口径的实际年利率；逾期利息、费用和罚息不计息。结清方案只列减免金额，不是利率。"
            "具体方案以系统审批结果为准，核实员不得当场承诺减免。",
            small=True,
        ),
    ]


def cost_text(option: plans.PlanOption) -> str:
    """Both rates of an instalment plan; a settlement's discount (an amount, no rate)."""
    if option.annualised_rate is None:
        return f"减免 {format_yuan(option.discount)} 元" if option.is_settlement else "不计息"
    return f"{option.annualised_rate}%（实际 {option.effective_rate}%）"


def repayment_options(
    session: Session, facts: CaseFacts, on: date, policy: offers.OfferPolicy | None = None
) -> list[list[str]]:
    """The standard restructuring menu of each overdue loan on `on`, best first, with
    the rates (IRR method) the borrower must be shown or a settlement's discount;
    refused options left out."""
    rows: list[list[str]] = []
    for loan in facts.loans:
        latest = facts.latest.get(loan.loan_id)
        if latest is None or latest.dpd == 0:
            continue
        debt = offers.debt_of(session, loan.loan_id, on)
        menu = offers.menu_of(debt, on, policy or offers.OfferPolicy())
        usable = [o for o in menu if o.refused is None]
        for option in usable[:OPTIONS_PER_LOAN]:
            rows.append(
                [
                    loan.loan_id,
                    OPTION_ZH.get(option.terms.kind, option.terms.kind.value),
                    str(option.terms.months),
                    format_yuan(option.monthly_payment),
                    format_yuan(option.total_to_pay),
                    cost_text(option),
                ]
            )
    return rows
