"""The daily look at repayment offers and plans: lapsed offers expire, paid plans are
kept, and a plan more than the grace late is broken, which reopens follow-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.allocation import DEFAULT_WATERFALL, Waterfall
from doorstep.domain.case import OPEN_STATES, CaseState, HoldReason
from doorstep.domain.delinquency import snapshot
from doorstep.domain.money import rate_to_units
from doorstep.domain.ports import Cipher
from doorstep.services.conduct import audit, personal_data
from doorstep.services.repayment import holds
from doorstep.services.repayment.offers import OfferPolicy
from doorstep.store.models import BorrowerMessage, Case, Offer
from doorstep.store.repositories import offers as repo

RELEASED_BY_BROKEN_PLAN = frozenset({HoldReason.OTHER.value, HoldReason.HARDSHIP_REPORTED.value})


@dataclass
class TrackReport:
    checked: int = 0
    kept: int = 0
    broken: int = 0
    expired: int = 0


def track(
    session: Session,
    actor: Actor,
    today: date,
    policy: OfferPolicy,
    waterfall: Waterfall = DEFAULT_WATERFALL,
    *,
    now: datetime,
    cipher: Cipher,
) -> TrackReport:
    """The daily look at offers: open ones past their expiry expire; an active plan whose
    schedule is fully paid is kept; one more than `grace_days` late is broken, which
    releases the plan's hold on the case and alerts its owner, so follow-up resumes."""
    report = TrackReport()
    for offer in repo.offers_in(session, repo.OPEN_OFFER_STATES):
        if offer.expires_at <= now:
            offer.state, offer.closed_at = "expired", now
            audit.record(
                session, actor, "offer.expire", "case", offer.case_id or 0, {"offer": offer.id}
            )
            report.expired += 1
    for offer in repo.offers_in(session, ("active",)):
        report.checked += 1
        loan = repo.loan(session, offer.loan_id)
        assert loan is not None
        rows = repo.current_schedule(session, offer.loan_id)
        s = snapshot(
            rows,
            repo.counted_payments(session, offer.loan_id),
            rate_to_units(loan.penalty_rate_daily),
            today,
            waterfall=waterfall,
        )
        if s.dpd > policy.grace_days:
            offer.state, offer.closed_at = "broken", now
            report.broken += 1
            audit.record(
                session,
                actor,
                "offer.broken",
                "case",
                offer.case_id or 0,
                {"offer": offer.id, "dpd": s.dpd},
            )
            _reopen(session, actor, offer, s.dpd, now, cipher)
        elif s.outstanding_principal == 0 and s.overdue_interest == s.overdue_fee == 0:
            offer.state, offer.closed_at = "kept", now
            report.kept += 1
            audit.record(
                session, actor, "offer.kept", "case", offer.case_id or 0, {"offer": offer.id}
            )
    session.flush()
    return report


def _reopen(
    session: Session, actor: Actor, offer: Offer, dpd: int, now: datetime, cipher: Cipher
) -> None:
    case = session.get(Case, offer.case_id) if offer.case_id else None
    if case is None:
        return
    # a complaint or a dispute keeps its hold: only a plan's or a hardship's is lifted
    if case.hold_reason in RELEASED_BY_BROKEN_PLAN and case.state in {s.value for s in OPEN_STATES}:
        holds.release_for_broken_plan(session, actor, case, dpd, now)
    session.add(
        BorrowerMessage(
            customer_id=offer.customer_id,
            case_id=case.id,
            owner_id=case.owner_id,
            kind="plan_broken",
            statement=personal_data.seal(cipher, f"offer {offer.id}: {dpd} days late"),
        )
    )
    if case.state == CaseState.NEW.value:
        holds.ready_after_broken_plan(session, actor, case)
    session.flush()
