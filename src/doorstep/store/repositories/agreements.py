"""Queries of repayment plan agreements (their documents are read only when downloaded)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.store.models import PlanAgreement


def agreement(session: Session, agreement_id: int) -> PlanAgreement | None:
    return session.get(PlanAgreement, agreement_id)


def of_customer(session: Session, customer_id: str) -> list[PlanAgreement]:
    """The customer's agreements, newest first."""
    return list(
        session.scalars(
            select(PlanAgreement)
            .where(PlanAgreement.customer_id == customer_id)
            .order_by(PlanAgreement.id.desc())
        )
    )


def unconfirmed(session: Session, offer_id: int, plan_key: str) -> PlanAgreement | None:
    """The agreement already prepared for this plan of the offer and not yet confirmed."""
    return session.scalars(
        select(PlanAgreement)
        .where(
            PlanAgreement.offer_id == offer_id,
            PlanAgreement.plan_key == plan_key,
            PlanAgreement.confirmed_at.is_(None),
        )
        .order_by(PlanAgreement.id.desc())
        .limit(1)
    ).first()
