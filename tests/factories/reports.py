"""Report figures for tests: a month of field work behind the dashboard's charts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.services.delinquency import run_delinquency
from doorstep.store.db import transaction
from doorstep.store.models import Case, Payment, PromiseToPay, Team, Verdict, Visit
from doorstep.store.repositories import figures
from tests.factories.world import AS_OF, World

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2024, 7, 15)
MONTH_BEFORE = date(2024, 5, 1)
VISIT_DAY = date(2024, 6, 1)
CURE_DAY = date(2024, 7, 1)


def a_month_of_field_work(world: World) -> None:
    """Delinquency and book figures a month before, on and a month after the world's day;
    one visit (with a verdict and a promise kept by a payment) to the assigned case; the
    Shanghai case held out; the visit outcomes judged on the 30th day."""
    with transaction(world.engine) as session:
        for day in (MONTH_BEFORE, CURE_DAY):
            run_delinquency(session, day, waterfall=DEFAULT_WATERFALL, buckets=DEFAULT_BUCKETS)
        for day in (MONTH_BEFORE, AS_OF, CURE_DAY):
            figures.write_book_figures(session.connection(), day)
            figures.write_roll_figures(session.connection(), day)
        case = session.get_one(Case, world.assigned_case)
        team = session.scalars(select(Team)).first()
        assert team is not None
        visit = Visit(
            case_id=case.id,
            team_id=team.id,
            verifier_ids=[1, 2],
            state="submitted",
            checked_in_at=datetime(2024, 6, 1, 3, 0, tzinfo=UTC),  # 11:00 in Shanghai
            flags=["far_from_address"],
        )
        session.add(visit)
        session.flush()
        session.add(
            Verdict(
                case_id=case.id,
                visit_id=visit.id,
                reached=True,
                address_status="valid",
                primary_reason="medical",
                reasons=["medical"],
                hardship_or_evasion="hardship",
                next_step="repayment_plan",
            )
        )
        session.add(
            PromiseToPay(
                case_id=case.id,
                customer_id=case.customer_id,
                visit_id=visit.id,
                amount=50_000,
                due_on=date(2024, 6, 10),
                status="kept",
                paid=50_000,
            )
        )
        loan_id = session.scalar(select(Payment.loan_id).where(Payment.payment_id == "P0001"))
        session.add(
            Payment(
                payment_id="P-after",
                loan_id=loan_id,
                paid_on=date(2024, 6, 9),
                amount=50_000,
                channel="bank",
            )
        )
        session.execute(
            update(Case)
            .where(Case.id == world.shanghai_case)
            .values(state="cancelled", cancel_reason="holdout", opened_on=VISIT_DAY)
        )
    with transaction(world.engine) as session:  # the batch of the 30th day judges the outcomes
        assert figures.write_visit_outcomes(session.connection(), CURE_DAY, ZONE, days=30) == 2
