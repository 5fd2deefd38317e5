"""The dossier (案件资料): one PDF per case for the visit day. It is built from the same
facts as the case page, under the same access rules (a verifier only while the case is
live-assigned to their team), and shows personal data masked: a verifier who needs a full
number reveals it on the page, with a reason, into the audit trail."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import fpdf
from sqlalchemy.orm import Session

from doorstep.domain import plans
from doorstep.domain.access import Actor
from doorstep.domain.calendar import add_months
from doorstep.domain.errors import DoorstepError, NotFound
from doorstep.domain.money import format_yuan
from doorstep.integrations import pdf
from doorstep.services.cases.view import CaseFacts, case_facts
from doorstep.services.conduct import audit
from doorstep.services.people import users
from doorstep.services.repayment import offers
from doorstep.store.models import User
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


def repayment_options(
    session: Session, facts: CaseFacts, on: date, cap: Decimal = plans.DEFAULT_CAP
) -> list[list[str]]:
    """The standard restructuring menu of each overdue loan on `on`, best first, with
    the annualised rate (IRR method) the borrower must be shown; refused options left out."""
    rows: list[list[str]] = []
    for loan in facts.loans:
        latest = facts.latest.get(loan.loan_id)
        if latest is None or latest.dpd == 0:
            continue
        debt = offers.debt_of(session, loan.loan_id, on)
        menu = plans.options_for([debt], add_months(on, 1), cap=cap)
        usable = [o for o in menu.options[loan.loan_id] if o.refused is None]
        for option in usable[:OPTIONS_PER_LOAN]:
            rows.append(
                [
                    loan.loan_id,
                    OPTION_ZH.get(option.terms.kind, option.terms.kind.value),
                    str(option.terms.months),
                    format_yuan(option.monthly_payment),
                    format_yuan(option.total_to_pay),
                    f"{option.annualised_rate}%",
                ]
            )
    return rows


def _day(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "—"


def dossier_blocks(
    facts: CaseFacts, zone: ZoneInfo, session: Session, today: date | None = None
) -> list[pdf.Block]:
    case, customer = facts.case, facts.customer
    today = today or datetime.now(zone).date()
    blocks: list[pdf.Block] = [
        pdf.Heading("借款人"),
        pdf.Table(
            ["客户号", "姓名", "性别", "出生年份", "身份证号（脱敏）", "工作单位"],
            [
                [
                    customer.customer_id,
                    customer.name,
                    GENDER_ZH.get(customer.gender, customer.gender),
                    str(customer.birth_date.year),
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
        pdf.Heading("借款与逾期"),
    ]
    loan_rows = []
    for loan in facts.loans:
        snap = facts.latest.get(loan.loan_id)
        loan_rows.append(
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
    blocks.append(
        pdf.Table(
            [
                "借据号",
                "产品",
                "本金",
                "逾期天数",
                "账龄",
                "逾期本金",
                "逾期利息",
                "罚息",
                "剩余本金",
            ],
            loan_rows,
            [2, 1.6, 1.3, 0.9, 0.8, 1.3, 1.3, 1.1, 1.3],
        )
    )
    blocks.append(pdf.Heading("还款记录（最近 20 笔）"))
    payments = sorted(facts.payments, key=lambda p: p.paid_on, reverse=True)[:20]
    blocks.append(
        pdf.Table(
            ["日期", "借据号", "金额（元）", "渠道"],
            [[str(p.paid_on), p.loan_id, format_yuan(p.amount), p.channel] for p in payments],
            [1.2, 2, 1.2, 1.2],
            empty="无还款记录",
        )
    )
    blocks.append(pdf.Heading("联系方式（按可信度排序，已脱敏）"))
    blocks.append(
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
        )
    )
    blocks.append(pdf.Heading("以往联系与备注（最近 20 次）"))
    attempts = sorted(facts.attempts, key=lambda a: a.attempted_at, reverse=True)[:20]
    blocks.append(
        pdf.Table(
            ["时间", "方式", "结果", "备注"],
            [[_day(a.attempted_at, zone), a.channel, a.result, a.note or ""] for a in attempts],
            [1.5, 0.9, 1.1, 4],
            empty="尚无联系记录",
        )
    )
    blocks.append(pdf.Heading("以往上门"))
    visits = repo.visits_of_case(session, case.id)
    blocks.append(
        pdf.Table(
            ["签到时间", "见到", "是否见到本人", "地址", "结论", "下一步"],
            [
                [
                    _day(visit.checked_in_at, zone),
                    visit.met or "—",
                    ("是" if verdict.reached else "否") if verdict else "—",
                    verdict.address_status if verdict else "—",
                    verdict.hardship_or_evasion if verdict else "—",
                    (verdict.override_step or verdict.next_step) if verdict else "—",
                ]
                for visit, verdict in visits
            ],
            [1.5, 1, 1.1, 1, 1, 1.5],
            empty="尚无上门记录",
        )
    )
    promises = repo.promises_of_customer(session, customer.customer_id)
    if promises:
        blocks.append(pdf.Heading("承诺还款"))
        blocks.append(
            pdf.Table(
                ["承诺日期", "金额（元）", "已还（元）", "状态"],
                [
                    [
                        str(p.due_on),
                        format_yuan(p.amount),
                        format_yuan(p.paid),
                        PROMISE_ZH.get(p.status, p.status),
                    ]
                    for p in promises
                ],
            )
        )
    blocks += [
        pdf.Heading("上门须知：身份、来意与规范"),
        pdf.Bullets(CONDUCT),
        pdf.Heading("须告知借款人的权利"),
        pdf.Bullets(RIGHTS),
        pdf.Heading("可提供的还款方案"),
        pdf.Table(
            ["贷款", "方案", "期数", "月供（元）", "合计（元）", "年化利率（IRR）"],
            repayment_options(session, facts, today),
            [1.3, 1.4, 0.6, 1.1, 1.3, 1.2],
            empty="暂无可提供的方案",
        ),
        pdf.Paragraph("具体方案以系统审批结果为准，核实员不得当场承诺减免。", small=True),
    ]
    return blocks


def cache_folder(var_dir: Path) -> Path:
    """Where the day's rendered dossiers are kept (the page and the batch share it)."""
    return var_dir / "cache" / "dossiers"


def dossier_pdf(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    zone: ZoneInfo,
    now: datetime | None = None,
    cache_dir: Path | None = None,
) -> bytes:
    """The case's dossier as PDF bytes; records who printed it in the audit trail.

    With `cache_dir`, a rendered document is kept there for the rest of the local day and
    served again while nothing in it would change: the file is named by a digest of
    everything the document shows (the blocks built from the case's current facts, the
    reader's name in the footer, the day, the renderer's code), so a payment, an attempt,
    a visit, a new snapshot or another reader's masking gives another file, never a stale
    one. The facts are still read, and access checked, on every request (a few indexed
    queries); only the rendering (about a second of CPU) is saved."""
    document = _document(session, actor, case_id, zone, now or datetime.now(UTC), cache_dir)
    audit.record(session, actor, "case.dossier", "case", case_id, {"bytes": len(document)})
    return document


def _document(
    session: Session,
    actor: Actor,
    case_id: int,
    zone: ZoneInfo,
    moment: datetime,
    cache_dir: Path | None,
    inline: bool = False,
) -> bytes:
    facts = case_facts(session, actor, case_id, moment)  # access rules of the case page
    today = moment.astimezone(zone).date()
    title = f"案件资料 · 案件 {facts.case.id}"
    blocks = dossier_blocks(facts, zone, session, today)

    def render() -> bytes:
        footer = f"内部资料，仅限本次上门使用 · {actor.username} · 生成于 {_day(moment, zone)}"
        if inline:  # a worker's own process: nothing else waits on its interpreter lock
            return pdf.render(title, blocks, footer=footer)
        return render_apart(title, blocks, footer)

    if cache_dir is None:
        return render()
    content = repr((title, blocks, actor.username, today.isoformat(), _renderer()))
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:40]
    reader = f"u{actor.user_id}"
    return DossierCache(cache_dir).get_or_make(facts.case.id, reader, today, digest, render)


def prepare_dossiers(
    session: Session,
    readers: Sequence[tuple[int, int]],
    *,
    zone: ZoneInfo,
    cache_dir: Path,
    inline: bool = False,
) -> tuple[int, int]:
    """Render ahead, into the cache, the dossier each (verifier's user id, case id) pair
    will open during the day, so the morning's downloads are file reads instead of a
    second of CPU each. Nothing is audited: printing is, when a verifier downloads. A pair
    the reader may not see (yet), or whose verifier left, is skipped. `inline` renders in
    this process (a worker) instead of the renderer process. Returns (prepared, skipped)."""
    prepared = skipped = 0
    moment = datetime.now(UTC)
    actors: dict[int, Actor | None] = {}  # one team lookup per verifier, not per case
    for user_id, case_id in readers:
        if user_id not in actors:
            user = session.get(User, user_id)
            actors[user_id] = users.actor_for(session, user) if user and user.active else None
        actor = actors[user_id]
        try:
            if actor is None:
                raise NotFound(f"user {user_id}")
            _document(session, actor, case_id, zone, moment, cache_dir, inline)
            prepared += 1
        except DoorstepError:
            skipped += 1
    return prepared, skipped


_renderers: list[ProcessPoolExecutor] = []
_renderers_lock = threading.Lock()


def render_apart(title: str, blocks: list[pdf.Block], footer: str) -> bytes:
    """`pdf.render` in a process of its own. Laying out a dossier is about a second of pure
    Python that holds the interpreter lock: in the web process it would stall every other
    request of that process (each database round trip waits to get the lock back)."""
    for attempt in (1, 2):
        with _renderers_lock:
            if not _renderers:
                spawn = multiprocessing.get_context("spawn")  # never fork a threaded server
                _renderers.append(
                    ProcessPoolExecutor(
                        max_workers=1,
                        mp_context=spawn,
                        initializer=_die_with,
                        initargs=(os.getpid(),),
                    )
                )
            pool = _renderers[0]
        try:
            return pool.submit(pdf.render, title, blocks, footer=footer).result(timeout=120)
        except BrokenProcessPool:  # the renderer died (killed, out of memory): a new one
            with _renderers_lock:
                if _renderers and _renderers[0] is pool:
                    _renderers.clear()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _die_with(parent: int) -> None:
    """In the renderer process: exit when the web process that started it is gone (killed
    without the chance to stop its pool), instead of lingering as an orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


@cache
def _renderer() -> str:
    """The code that lays a dossier out: a deployment that changes it renders anew."""
    sources = b"".join(Path(m.__file__ or "").read_bytes() for m in (pdf, sys.modules[__name__]))
    return hashlib.sha256(sources + fpdf.__version__.encode()).hexdigest()


class DossierCache:
    """Rendered dossiers of the day, one file per case, reader and digest:
    `<day>/<case>-<reader>-<digest>.pdf`. Files are private to the service's user (names and
    amounts, masked identifiers), written whole (a temporary file renamed into place), and
    dropped when their day is over or the reader's document of the case changes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get_or_make(
        self, case_id: int, reader: str, day: date, digest: str, make: Callable[[], bytes]
    ) -> bytes:
        today = self.folder / day.isoformat()
        path = today / f"{case_id}-{reader}-{digest}.pdf"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        document = make()
        today.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._write(path, document)
        for stale in today.glob(f"{case_id}-{reader}-*.pdf"):  # earlier versions of today
            if stale != path:
                stale.unlink(missing_ok=True)
        for folder in self.folder.iterdir():  # earlier days
            if folder.is_dir() and folder.name < today.name:
                shutil.rmtree(folder, ignore_errors=True)
        return document

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        temporary = path.with_name(f".incoming-{os.getpid()}-{threading.get_ident()}-{path.name}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
            os.replace(temporary, path)  # readers see the whole file or none
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
