"""The borrower portal's use cases: sign-in with a one-time code, what a borrower sees of
their own loans, and what they can tell us (hardship, call-back, address, visit slot, no
visits at work, complaint). Everything a borrower does is audited under
`borrower:<customer id>`; nothing here reaches another customer's data."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.allocation import DEFAULT_WATERFALL, Waterfall
from doorstep.domain.case import OPEN_STATES, HoldReason
from doorstep.domain.delinquency import Snapshot, snapshot
from doorstep.domain.errors import (
    InvalidValue,
    NotFound,
    SignInRefused,
    SignInThrottled,
)
from doorstep.domain.money import rate_to_units
from doorstep.domain.ports import Cipher, KeyedHasher
from doorstep.domain.reasons import REASONS
from doorstep.domain.schedule import Installment
from doorstep.integrations.sms import SmsSender
from doorstep.services import cases
from doorstep.services.conduct import audit
from doorstep.services.conduct.personal_data import mask_address
from doorstep.services.repayment.offers import borrower_actor, visible_to_borrower
from doorstep.store.models import (
    BorrowerMessage,
    Case,
    ContactPoint,
    Loan,
    Offer,
    PortalCode,
    PortalSession,
    ScheduleVersion,
    VisitSlot,
)
from doorstep.store.repositories import offers as repo

CODE_LIFETIME = timedelta(minutes=5)
MAX_TRIES = 5
CODES_PER_LOAN = 3  # within THROTTLE_WINDOW
CODES_PER_ADDRESS = 10
FAILURES_PER_ADDRESS = 10
THROTTLE_WINDOW = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=2)
STATEMENT_MAX = 1000

MESSAGE_KINDS = (
    "hardship",
    "callback",
    "address",
    "slot",
    "no_work_visit",
    "complaint",
    "plan_broken",
)


def _digits(text: str) -> str:
    cleaned = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    return cleaned[2:] if cleaned.startswith("86") and len(cleaned) == 13 else cleaned


def _code_hash(hasher: KeyedHasher, loan_id: str, code: str) -> str:
    return hasher.digest(f"portal-code|{loan_id}|{code}")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_code(
    session: Session,
    sender: SmsSender,
    hasher: KeyedHasher,
    loan_id: str,
    mobile: str,
    address: str,
    now: datetime | None = None,
) -> None:
    """Send a one-time code to the mobile when it is the loan's borrower's; the same
    refusal whether the loan or the number is wrong, so neither can be probed."""
    now = now or datetime.now(UTC)
    since = now - THROTTLE_WINDOW
    loan_id, number = loan_id.strip(), _digits(mobile)
    if (
        repo.portal_failures_since(session, address, since) >= FAILURES_PER_ADDRESS
        or repo.codes_since(session, since, address=address) >= CODES_PER_ADDRESS
        or (loan_id and repo.codes_since(session, since, loan_id=loan_id) >= CODES_PER_LOAN)
    ):
        raise SignInThrottled(
            "too many codes asked for: try again in 15 minutes",
            message_zh="获取验证码过于频繁，请 15 分钟后再试",
        )
    loan = repo.loan(session, loan_id) if loan_id else None
    if (
        loan is None
        or len(number) != 11
        or not repo.mobile_matches(session, loan.customer_id, hasher.digest(number))
    ):
        repo.add_portal_failure(session, address, now)
        session.flush()
        raise SignInRefused(
            "the loan number and mobile number do not match our records",
            message_zh="贷款编号与手机号码不匹配",
        )
    code = f"{secrets.randbelow(10**6):06d}"
    repo.expire_codes(session, loan.loan_id, now)
    session.add(
        PortalCode(
            loan_id=loan.loan_id,
            customer_id=loan.customer_id,
            code_hash=_code_hash(hasher, loan.loan_id, code),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
            address=address,
        )
    )
    session.flush()
    sender.send(number, f"【doorstep】您的验证码 {code}，5 分钟内有效。Your code: {code}")


def verify_code(
    session: Session, hasher: KeyedHasher, loan_id: str, code: str, now: datetime | None = None
) -> str:
    """A borrower session token for the right code; a wrong one counts a try (the 5th
    wrong try ends the code), an expired or used one is refused."""
    now = now or datetime.now(UTC)
    loan_id = loan_id.strip()
    latest = repo.latest_code(session, loan_id) if loan_id else None
    if latest is None or latest.used_at is not None or latest.expires_at <= now:
        raise SignInRefused(
            "the code has expired or was not sent: ask for a new one",
            message_zh="验证码已过期或未发送，请重新获取",
        )
    if latest.tries >= MAX_TRIES:
        raise SignInRefused(
            "too many wrong codes: ask for a new one", message_zh="验证码错误次数过多，请重新获取"
        )
    if not secrets.compare_digest(latest.code_hash, _code_hash(hasher, loan_id, code.strip())):
        latest.tries += 1
        session.flush()
        left = MAX_TRIES - latest.tries
        raise SignInRefused(
            f"wrong code: {left} tries left", message_zh=f"验证码错误，还可尝试 {left} 次"
        )
    latest.used_at = now
    token = secrets.token_urlsafe(32)
    session.add(
        PortalSession(
            token_hash=_token_hash(token),
            customer_id=latest.customer_id,
            loan_id=loan_id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.flush()
    audit.record(
        session,
        borrower_actor(latest.customer_id),
        "portal.sign_in",
        "customer",
        latest.customer_id,
        {"loan": loan_id},
    )
    return token


def borrower_for(session: Session, token: str | None, now: datetime | None = None) -> str | None:
    """The customer id of a live borrower session, else None."""
    if not token:
        return None
    now = now or datetime.now(UTC)
    row = repo.portal_session(session, _token_hash(token))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    return row.customer_id


def sign_out(session: Session, token: str | None) -> None:
    row = repo.portal_session(session, _token_hash(token)) if token else None
    if row is not None and row.ended_at is None:
        row.ended_at = datetime.now(UTC)
        session.flush()


# --- what the borrower sees -----------------------------------------------------------------


@dataclass
class LoanView:
    loan: Loan
    snapshot: Snapshot
    schedule: list[Installment]
    versions: list[ScheduleVersion]

    @property
    def overdue(self) -> int:
        s = self.snapshot
        return s.overdue_principal + s.overdue_interest + s.overdue_fee + s.overdue_penalty


def overview(
    session: Session, customer_id: str, today: date, waterfall: Waterfall = DEFAULT_WATERFALL
) -> list[LoanView]:
    views = []
    for loan in repo.loans_of(session, customer_id):
        rows = repo.current_schedule(session, loan.loan_id)
        s = snapshot(
            rows,
            repo.counted_payments(session, loan.loan_id),
            rate_to_units(loan.penalty_rate_daily),
            today,
            waterfall=waterfall,
        )
        views.append(LoanView(loan, s, rows, repo.versions(session, loan.loan_id)))
    return views


def open_offers(session: Session, customer_id: str, now: datetime | None = None) -> list[Offer]:
    now = now or datetime.now(UTC)
    return [o for o in repo.offers_of_customer(session, customer_id) if visible_to_borrower(o, now)]


def visitors(
    session: Session, customer_id: str, now: datetime | None = None
) -> list[tuple[str, str]]:
    """(name, badge number) of everyone who may visit the borrower now."""
    case = repo.case_of_customer(session, customer_id)
    if case is None:
        return []
    return [
        (u.display_name, u.badge_number or "—")
        for u in repo.visitors(session, case.id, now or datetime.now(UTC))
    ]


# --- what the borrower tells us ---------------------------------------------------------


def _open_case(session: Session, customer_id: str) -> Case | None:
    case = repo.case_of_customer(session, customer_id)
    return case if case is not None and case.state in {s.value for s in OPEN_STATES} else None


def _statement(text: str | None, *, required: bool) -> str | None:
    cleaned = (text or "").strip()
    if required and len(cleaned) < 4:
        raise InvalidValue(
            "statement: tell us in a few words (at least 4 characters)",
            message_zh="statement：请简要说明（至少 4 个字）",
        )
    if len(cleaned) > STATEMENT_MAX:
        raise InvalidValue(
            f"statement: at most {STATEMENT_MAX} characters",
            message_zh=f"statement：最多 {STATEMENT_MAX} 个字",
        )
    return cleaned or None


def _message(
    session: Session, customer_id: str, kind: str, case: Case | None, **fields: object
) -> BorrowerMessage:
    message = BorrowerMessage(
        customer_id=customer_id,
        case_id=case.id if case else None,
        owner_id=case.owner_id if case else None,
        kind=kind,
        **fields,
    )
    session.add(message)
    session.flush()
    audit.record(
        session,
        borrower_actor(customer_id),
        f"portal.{kind}",
        "case" if case else "customer",
        case.id if case else customer_id,
        {"message": message.id, **{k: str(v) for k, v in fields.items() if k != "statement"}},
    )
    return message


def _hold(
    session: Session, customer_id: str, case: Case | None, why: HoldReason, note: str
) -> None:
    """Hold the case's visits; a case held already keeps its hold (a complaint replaces
    any other hold, since it must outlast them)."""
    if case is None:
        return
    actor, now = borrower_actor(customer_id), datetime.now(UTC)
    if case.hold_reason and why is HoldReason.COMPLAINT and case.hold_reason != why.value:
        cases.act(session, actor, case.id, "release", reason=f"replaced by {why.value}", now=now)
    if not case.hold_reason:
        cases.act(session, actor, case.id, "hold", hold_reason=why.value, reason=note, now=now)


def report_hardship(
    session: Session,
    customer_id: str,
    reason: str,
    statement: str | None,
    today: date,
    hold_days: int,
) -> BorrowerMessage:
    """ "Tell us first": the reason and a statement; visits are held for `hold_days` and
    the case owner is alerted."""
    if reason not in REASONS:
        raise InvalidValue(
            f"reason: unknown reason {reason!r}", message_zh=f"reason：未知的原因 {reason!r}"
        )
    text = _statement(statement, required=True)
    case = _open_case(session, customer_id)
    message = _message(
        session,
        customer_id,
        "hardship",
        case,
        reason=reason,
        statement=text,
        hold_until=today + timedelta(days=hold_days),
    )
    _hold(session, customer_id, case, HoldReason.HARDSHIP_REPORTED, f"borrower reported {reason}")
    return message


def request_callback(
    session: Session, customer_id: str, call_at: datetime, now: datetime | None = None
) -> BorrowerMessage:
    now = now or datetime.now(UTC)
    if call_at.tzinfo is None:
        raise InvalidValue("call_at: needs a time zone", message_zh="call_at：缺少时区")
    if not now < call_at <= now + timedelta(days=30):
        raise InvalidValue(
            "call_at: choose a time within the next 30 days",
            message_zh="call_at：请选择未来 30 天内的时间",
        )
    return _message(
        session, customer_id, "callback", _open_case(session, customer_id), call_at=call_at
    )


def confirm_address(
    session: Session,
    cipher: Cipher,
    hasher: KeyedHasher,
    customer_id: str,
    corrected: str | None,
    now: datetime | None = None,
) -> BorrowerMessage:
    """Confirm the address we hold, or give the right one (stored encrypted as a new,
    unverified residence address from the borrower)."""
    now = now or datetime.now(UTC)
    text = (corrected or "").strip()
    if text:
        if not 6 <= len(text) <= 200:
            raise InvalidValue(
                "address: 6 to 200 characters", message_zh="address：地址须为 6 到 200 个字"
            )
        digest = hasher.digest(text)
        session.add(
            ContactPoint(
                customer_id=customer_id,
                channel="address",
                kind="residence",
                value=cipher.encrypt(text),
                value_hash=digest,
                value_masked=mask_address(text, None, None, None),
                source="application",
                observed_at=now,
                status="unverified",
                confidence=0.6,
                extra={"via": "portal"},
            )
        )
    return _message(
        session,
        customer_id,
        "address",
        _open_case(session, customer_id),
        statement="corrected" if text else "confirmed",
    )


def book_slot(
    session: Session, customer_id: str, day: date, start: time, end: time, today: date
) -> VisitSlot:
    if not today < day <= today + timedelta(days=30):
        raise InvalidValue(
            "day: choose a day in the next 30 days", message_zh="day：请选择未来 30 天内的日期"
        )
    if not (time(8) <= start < end <= time(20)) or (
        datetime.combine(day, end) - datetime.combine(day, start) < timedelta(hours=1)
    ):
        raise InvalidValue(
            "start/end: a window of at least an hour between 08:00 and 20:00",
            message_zh="start/end：请选择 08:00 到 20:00 之间至少一小时的时段",
        )
    now = datetime.now(UTC)
    repo.cancel_slots(session, customer_id, day, now)
    slot = VisitSlot(customer_id=customer_id, day=day, start=start, end=end, created_at=now)
    session.add(slot)
    session.flush()
    _message(
        session,
        customer_id,
        "slot",
        _open_case(session, customer_id),
        statement=f"{day} {start:%H:%M}-{end:%H:%M}",
    )
    return slot


def no_visits_at_work(session: Session, customer_id: str) -> BorrowerMessage:
    return _message(session, customer_id, "no_work_visit", _open_case(session, customer_id))


def complain(session: Session, customer_id: str, statement: str | None) -> BorrowerMessage:
    """A complaint holds visits and goes to the auditors' queue."""
    text = _statement(statement, required=True)
    case = _open_case(session, customer_id)
    message = _message(session, customer_id, "complaint", case, statement=text)
    _hold(session, customer_id, case, HoldReason.COMPLAINT, "borrower complaint")
    return message


def release_expired_hardship_holds(session: Session, actor: Actor, today: date) -> int:
    """Lift the hardship holds whose period has passed (complaints keep theirs)."""
    released = 0
    for message in repo.messages_of_kind(session, "hardship"):
        if message.hold_until is None or message.hold_until > today or message.case_id is None:
            continue
        case = session.get(Case, message.case_id)
        if case is not None and case.hold_reason == HoldReason.HARDSHIP_REPORTED.value:
            cases.act(
                session,
                actor,
                case.id,
                "release",
                reason=f"hardship hold ended {message.hold_until}",
                now=datetime.now(UTC),
            )
            released += 1
    return released


def mark_handled(session: Session, actor: Actor, message: BorrowerMessage) -> None:
    """The case owner (or an auditor, for complaints) has dealt with the message."""
    if message.handled_at is None:
        message.handled_at, message.handled_by = datetime.now(UTC), actor.user_id
        session.flush()
        audit.record(
            session,
            actor,
            "portal.handled",
            "case" if message.case_id else "customer",
            message.case_id or message.customer_id,
            {"message": message.id, "kind": message.kind},
        )


def get_message(session: Session, message_id: int) -> BorrowerMessage:
    message = session.get(BorrowerMessage, message_id)
    if message is None:
        raise NotFound(f"no message {message_id}", message_zh=f"没有消息 {message_id}")
    return message


def slots_of(session: Session, customer_id: str) -> list[VisitSlot]:
    return repo.live_slots(session, customer_id)


def messages_of(session: Session, customer_id: str) -> list[BorrowerMessage]:
    return repo.messages_of_customer(session, customer_id)


def count_read(session: Session, page: str, language: str) -> None:
    """One more read of an education page: a counter per page and language, nothing
    about who read it."""
    repo.count_read(session, page, language)


def read_counts(session: Session) -> dict[tuple[str, str], int]:
    return repo.read_counts(session)
