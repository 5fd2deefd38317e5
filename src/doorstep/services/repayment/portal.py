"""The borrower portal's use cases: sign-in with a one-time code (`portal_sign_in`), what
a borrower sees of their own loans, and what they can tell us (hardship, call-back,
address, visit slot, no visits at work, complaint). Everything a borrower does is audited
under `borrower:<customer id>`; nothing here reaches another customer's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.allocation import DEFAULT_WATERFALL, Waterfall
from doorstep.domain.case import OPEN_STATES, HoldReason
from doorstep.domain.delinquency import Snapshot, snapshot
from doorstep.domain.errors import InvalidValue
from doorstep.domain.money import rate_to_units
from doorstep.domain.ports import Cipher, KeyedHasher
from doorstep.domain.reasons import REASONS
from doorstep.domain.schedule import Installment
from doorstep.services.conduct import audit, personal_data
from doorstep.services.conduct import holds as customer_holds
from doorstep.services.conduct.personal_data import mask_address
from doorstep.services.repayment import holds
from doorstep.services.repayment.offers import borrower_actor, visible_to_borrower
from doorstep.services.repayment.portal_sign_in import (
    SESSION_LIFETIME,
    borrower_for,
    request_code,
    sign_out,
    verify_code,
)
from doorstep.store.models import (
    BorrowerMessage,
    Case,
    ContactPoint,
    Loan,
    Offer,
    ScheduleVersion,
    VisitSlot,
)
from doorstep.store.repositories import offers as repo

__all__ = [
    "MESSAGE_KINDS",
    "SESSION_LIFETIME",
    "LoanView",
    "book_slot",
    "borrower_for",
    "complain",
    "confirm_address",
    "count_read",
    "messages_of",
    "no_visits_at_work",
    "open_offers",
    "overview",
    "read_counts",
    "release_expired_hardship_holds",
    "report_hardship",
    "request_callback",
    "request_code",
    "sign_out",
    "slots_of",
    "verify_code",
    "visitors",
]
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


def open_offers(session: Session, customer_id: str, now: datetime) -> list[Offer]:
    return [o for o in repo.offers_of_customer(session, customer_id) if visible_to_borrower(o, now)]


def visitors(session: Session, customer_id: str, now: datetime) -> list[tuple[str, str]]:
    """(name, badge number) of everyone who may visit the borrower now."""
    case = repo.case_of_customer(session, customer_id)
    if case is None:
        return []
    return [(u.display_name, u.badge_number or "—") for u in repo.visitors(session, case.id, now)]


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
    session: Session,
    customer_id: str,
    kind: str,
    case: Case | None,
    cipher: Cipher | None = None,
    statement: str | None = None,
    **fields: object,
) -> BorrowerMessage:
    """The borrower's message; its statement sealed (the borrower's own words)."""
    message = BorrowerMessage(
        customer_id=customer_id,
        case_id=case.id if case else None,
        owner_id=case.owner_id if case else None,
        kind=kind,
        statement=personal_data.seal(cipher, statement),
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
        {"message": message.id, **{k: str(v) for k, v in fields.items()}},
    )
    return message


def _hold(
    session: Session,
    customer_id: str,
    case: Case | None,
    why: HoldReason,
    note: str,
    now: datetime,
    *,
    ends_at: datetime | None = None,
    respond_by: datetime | None = None,
) -> None:
    """Hold the customer (kept even with no open case: selection, planning and check-in
    read it until it ends or is resolved) and the open case's visits when there is one."""
    actor = borrower_actor(customer_id)
    customer_holds.keep_for_customer(
        session, actor, customer_id, why.value, note, now, ends_at=ends_at, respond_by=respond_by
    )
    if case is not None:
        holds.hold_for_borrower(session, actor, case, why, note, now)


def report_hardship(
    session: Session,
    customer_id: str,
    reason: str,
    statement: str | None,
    today: date,
    hold_days: int,
    *,
    now: datetime,
    cipher: Cipher,
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
        cipher,
        reason=reason,
        statement=text,
        hold_until=today + timedelta(days=hold_days),
    )
    reported = f"borrower reported {reason}"
    ends = now + timedelta(days=hold_days)
    _hold(session, customer_id, case, HoldReason.HARDSHIP_REPORTED, reported, now, ends_at=ends)
    return message


def request_callback(
    session: Session, customer_id: str, call_at: datetime, now: datetime
) -> BorrowerMessage:
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
    now: datetime,
) -> BorrowerMessage:
    """Confirm the address we hold, or give the right one (stored encrypted as a new,
    unverified residence address from the borrower)."""
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
        cipher,
        statement="corrected" if text else "confirmed",
    )


def book_slot(
    session: Session,
    customer_id: str,
    day: date,
    start: time,
    end: time,
    today: date,
    *,
    now: datetime,
    cipher: Cipher,
) -> VisitSlot:
    """Book a window of at least an hour on one of the next 30 days (it replaces any
    window booked for that day)."""
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
    repo.cancel_slots(session, customer_id, day, now)
    slot = VisitSlot(customer_id=customer_id, day=day, start=start, end=end, created_at=now)
    session.add(slot)
    session.flush()
    _message(
        session,
        customer_id,
        "slot",
        _open_case(session, customer_id),
        cipher,
        statement=f"{day} {start:%H:%M}-{end:%H:%M}",
    )
    return slot


def no_visits_at_work(session: Session, customer_id: str, *, now: datetime) -> BorrowerMessage:
    """No visits at the workplace from now on, case or not (planning reads it)."""
    message = _message(session, customer_id, "no_work_visit", _open_case(session, customer_id))
    customer_holds.keep_for_customer(
        session, borrower_actor(customer_id), customer_id, customer_holds.NO_WORK_VISIT,
        "borrower asked for no visits at work", now,
    )  # fmt: skip
    return message


def complain(
    session: Session, customer_id: str, statement: str | None, *, now: datetime, cipher: Cipher
) -> BorrowerMessage:
    """A complaint holds visits and goes to the auditors' queue."""
    text = _statement(statement, required=True)
    case = _open_case(session, customer_id)
    message = _message(session, customer_id, "complaint", case, cipher, statement=text)
    answer_by = now + timedelta(days=customer_holds.COMPLAINT_DAYS)
    complaint = HoldReason.COMPLAINT
    _hold(session, customer_id, case, complaint, "borrower complaint", now, respond_by=answer_by)
    return message


def release_expired_hardship_holds(
    session: Session, actor: Actor, today: date, *, now: datetime
) -> int:
    """Lift the hardship holds whose period has passed (complaints keep theirs)."""
    released = 0
    for message in repo.messages_of_kind(session, "hardship"):
        if message.hold_until is None or message.hold_until > today or message.case_id is None:
            continue
        case = session.get(Case, message.case_id)
        if case is not None and case.hold_reason == HoldReason.HARDSHIP_REPORTED.value:
            holds.end_hardship_hold(session, actor, case, message.hold_until, now)
            released += 1
    return released


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
