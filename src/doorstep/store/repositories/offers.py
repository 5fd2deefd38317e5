"""Queries of repayment offers, schedule versions and the borrower portal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from doorstep.domain import schedule as domain_schedule
from doorstep.domain.delinquency import Payment as LedgerPayment
from doorstep.store.models import (
    ArchivedInstallment,
    BorrowerMessage,
    Case,
    ContactPoint,
    Installment,
    LearnRead,
    Loan,
    Offer,
    Payment,
    PortalCode,
    PortalSession,
    ScheduleVersion,
    Team,
    TeamMember,
    User,
    VisitSlot,
)
from doorstep.store.models import Assignment as TeamAssignment

OPEN_OFFER_STATES = ("offered", "approved")


# --- loans and schedules -----------------------------------------------------------------


def loan(session: Session, loan_id: str) -> Loan | None:
    return session.get(Loan, loan_id)


def loans_of(session: Session, customer_id: str) -> list[Loan]:
    return list(
        session.scalars(select(Loan).where(Loan.customer_id == customer_id).order_by(Loan.loan_id))
    )


def current_schedule(session: Session, loan_id: str) -> list[domain_schedule.Installment]:
    rows = session.scalars(
        select(Installment).where(Installment.loan_id == loan_id).order_by(Installment.seq)
    )
    return [
        domain_schedule.Installment(r.seq, r.due_on, r.principal_due, r.interest_due, r.fee_due)
        for r in rows
    ]


def latest_version(session: Session, loan_id: str) -> ScheduleVersion | None:
    return session.scalars(
        select(ScheduleVersion)
        .where(ScheduleVersion.loan_id == loan_id)
        .order_by(ScheduleVersion.version.desc())
        .limit(1)
    ).first()


def versions(session: Session, loan_id: str) -> list[ScheduleVersion]:
    return list(
        session.scalars(
            select(ScheduleVersion)
            .where(ScheduleVersion.loan_id == loan_id)
            .order_by(ScheduleVersion.version)
        )
    )


def archived(session: Session, loan_id: str, version: int) -> list[ArchivedInstallment]:
    return list(
        session.scalars(
            select(ArchivedInstallment)
            .where(ArchivedInstallment.loan_id == loan_id, ArchivedInstallment.version == version)
            .order_by(ArchivedInstallment.seq)
        )
    )


def counted_payments(
    session: Session, loan_id: str, before: date | None = None
) -> list[LedgerPayment]:
    """The loan's payments that count against its current schedule (made on or after the
    day the current version took effect), optionally only those made before `before`."""
    version = latest_version(session, loan_id)
    statement = select(Payment).where(Payment.loan_id == loan_id)
    if version is not None:
        statement = statement.where(Payment.paid_on >= version.effective_on)
    if before is not None:
        statement = statement.where(Payment.paid_on < before)
    rows = session.scalars(statement.order_by(Payment.paid_on, Payment.payment_id))
    return [LedgerPayment(p.payment_id, p.paid_on, p.amount) for p in rows]


def replace_schedule(
    session: Session,
    loan_row: Loan,
    rows: Sequence[domain_schedule.Installment],
    effective_on: date,
    offer_id: int,
) -> int:
    """Archive the current schedule under its version, install `rows` as the next one;
    returns the new version number."""
    current = latest_version(session, loan_row.loan_id)
    if current is None:
        current = ScheduleVersion(
            loan_id=loan_row.loan_id,
            version=1,
            effective_on=loan_row.disbursed_on,
            source="original",
        )
        session.add(current)
    old = session.scalars(select(Installment).where(Installment.loan_id == loan_row.loan_id))
    session.add_all(
        ArchivedInstallment(
            loan_id=r.loan_id,
            version=current.version,
            seq=r.seq,
            due_on=r.due_on,
            principal_due=r.principal_due,
            interest_due=r.interest_due,
            fee_due=r.fee_due,
        )
        for r in old
    )
    session.flush()
    session.execute(delete(Installment).where(Installment.loan_id == loan_row.loan_id))
    session.add_all(
        Installment(
            loan_id=loan_row.loan_id,
            partition_slot=loan_row.partition_slot,  # known here: no lookup per row
            seq=r.seq,
            due_on=r.due_on,
            principal_due=r.principal_due,
            interest_due=r.interest_due,
            fee_due=r.fee_due,
        )
        for r in rows
    )
    version = current.version + 1
    session.add(
        ScheduleVersion(
            loan_id=loan_row.loan_id,
            version=version,
            effective_on=effective_on,
            source="restructured",
            offer_id=offer_id,
        )
    )
    loan_row.schedule_source = "restructured"
    session.flush()
    return version


# --- offers ------------------------------------------------------------------------------


def offer(session: Session, offer_id: int) -> Offer | None:
    return session.get(Offer, offer_id)


def offers_of_case(session: Session, case_id: int) -> list[Offer]:
    return list(
        session.scalars(select(Offer).where(Offer.case_id == case_id).order_by(Offer.id.desc()))
    )


def offers_of_customer(session: Session, customer_id: str) -> list[Offer]:
    return list(
        session.scalars(
            select(Offer).where(Offer.customer_id == customer_id).order_by(Offer.id.desc())
        )
    )


def open_offers_of_loan(session: Session, loan_id: str) -> list[Offer]:
    return list(
        session.scalars(
            select(Offer).where(Offer.loan_id == loan_id, Offer.state.in_(OPEN_OFFER_STATES))
        )
    )


def offers_in(session: Session, states: Sequence[str]) -> list[Offer]:
    return list(session.scalars(select(Offer).where(Offer.state.in_(states)).order_by(Offer.id)))


def case_of_customer(session: Session, customer_id: str) -> Case | None:
    """The customer's most recent case."""
    return session.scalars(
        select(Case).where(Case.customer_id == customer_id).order_by(Case.id.desc()).limit(1)
    ).first()


# --- the portal ----------------------------------------------------------------------------


def mobile_matches(session: Session, customer_id: str, phone_hash: str) -> bool:
    found = session.scalar(
        select(func.count())
        .select_from(ContactPoint)
        .where(
            ContactPoint.customer_id == customer_id,
            ContactPoint.channel == "phone",
            ContactPoint.kind == "mobile",
            ContactPoint.value_hash == phone_hash,
            ContactPoint.status != "invalid",
        )
    )
    return bool(found)


def latest_code(session: Session, loan_id: str) -> PortalCode | None:
    return session.scalars(
        select(PortalCode)
        .where(PortalCode.loan_id == loan_id)
        .order_by(PortalCode.created_at.desc(), PortalCode.id.desc())
        .limit(1)
    ).first()


def expire_codes(session: Session, loan_id: str, at: datetime) -> None:
    """Earlier unused codes of the loan stop working when a new one is sent."""
    session.execute(
        update(PortalCode)
        .where(PortalCode.loan_id == loan_id, PortalCode.used_at.is_(None))
        .values(expires_at=at)
    )


def portal_session(session: Session, token_hash: str) -> PortalSession | None:
    return session.get(PortalSession, token_hash)


def messages_of_case(session: Session, case_id: int) -> list[BorrowerMessage]:
    return list(
        session.scalars(
            select(BorrowerMessage)
            .where(BorrowerMessage.case_id == case_id)
            .order_by(BorrowerMessage.id.desc())
        )
    )


def messages_of_customer(session: Session, customer_id: str) -> list[BorrowerMessage]:
    return list(
        session.scalars(
            select(BorrowerMessage)
            .where(BorrowerMessage.customer_id == customer_id)
            .order_by(BorrowerMessage.id.desc())
        )
    )


def messages_of_kind(session: Session, kind: str) -> list[BorrowerMessage]:
    return list(
        session.scalars(
            select(BorrowerMessage)
            .where(BorrowerMessage.kind == kind)
            .order_by(BorrowerMessage.handled_at.is_not(None), BorrowerMessage.id.desc())
        )
    )


def live_slots(session: Session, customer_id: str) -> list[VisitSlot]:
    return list(
        session.scalars(
            select(VisitSlot)
            .where(VisitSlot.customer_id == customer_id, VisitSlot.cancelled_at.is_(None))
            .order_by(VisitSlot.day, VisitSlot.start)
        )
    )


def cancel_slots(session: Session, customer_id: str, day: date, at: datetime) -> None:
    session.execute(
        update(VisitSlot)
        .where(
            VisitSlot.customer_id == customer_id,
            VisitSlot.day == day,
            VisitSlot.cancelled_at.is_(None),
        )
        .values(cancelled_at=at)
    )


def visitors(session: Session, case_id: int, at: datetime) -> list[User]:
    """Members of the teams live-assigned to the case at `at`."""
    return list(
        session.scalars(
            select(User)
            .join(TeamMember, TeamMember.user_id == User.id)
            .join(Team, Team.id == TeamMember.team_id)
            .join(TeamAssignment, TeamAssignment.team_id == Team.id)
            .where(
                TeamAssignment.case_id == case_id,
                TeamAssignment.revoked_at.is_(None),
                TeamAssignment.starts_at <= at,
                (TeamAssignment.ends_at.is_(None)) | (TeamAssignment.ends_at > at),
                User.active.is_(True),
            )
            .order_by(User.display_name)
            .distinct()
        )
    )


def count_read(session: Session, page: str, language: str) -> None:
    result = session.execute(
        update(LearnRead)
        .where(LearnRead.page == page, LearnRead.language == language)
        .values(reads=LearnRead.reads + 1)
    )
    updated = getattr(result, "rowcount", 0)
    if not updated:
        session.add(LearnRead(page=page, language=language, reads=1))
    session.flush()


def read_counts(session: Session) -> dict[tuple[str, str], int]:
    return {(r.page, r.language): r.reads for r in session.scalars(select(LearnRead))}
