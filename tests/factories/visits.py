"""Visits for tests: a case ready to visit; submitted visits with their verdict, evidence
and promise."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select, update

from doorstep.store.db import transaction
from doorstep.store.models import Case, Evidence, PromiseToPay, Team, Verdict, Visit
from tests.factories.cases import schedule
from tests.factories.world import World

JUDGED_AT = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)
"""When half of the verdicts `every_case_judged` writes were last updated."""


def every_case_judged(world: World) -> None:
    """A submitted visit of the world's team to every case, each with a verdict and a
    photo; the first with an open promise of 500.00 yuan and an overridden next step. Half
    of the verdicts share one updated time (JUDGED_AT): a cursor must break the tie by id."""
    with transaction(world.engine) as session:
        team = session.scalars(select(Team).order_by(Team.id)).first()
        assert team is not None
        for n, case_id in enumerate(world.case_ids):
            visit = Visit(
                case_id=case_id,
                team_id=team.id,
                verifier_ids=[11, 12],
                state="submitted",
                checked_in_at=datetime(2024, 6, 2, 1, n, tzinfo=UTC),
                checked_out_at=datetime(2024, 6, 2, 2, n, tzinfo=UTC),
                flags=[],
            )
            session.add(visit)
            session.flush()
            session.add(
                Verdict(
                    case_id=case_id,
                    visit_id=visit.id,
                    reached=n % 2 == 0,
                    address_status="valid",
                    primary_reason="job_loss",
                    reasons=["job_loss", "illness"],
                    hardship_or_evasion="hardship",
                    ability_per_month=123456 + n,
                    willingness=4,
                    next_step="plan_offer",
                    override_step="legal_review" if n == 0 else None,
                )
            )
            session.add(
                Evidence(
                    visit_id=visit.id, sha256=f"{n:064x}", media_type="image/jpeg", size_bytes=9
                )
            )
            if n == 0:
                case = session.get_one(Case, case_id)
                session.add(
                    PromiseToPay(
                        case_id=case_id,
                        customer_id=case.customer_id,
                        visit_id=visit.id,
                        amount=50000,
                        due_on=date(2024, 6, 10),
                        status="open",
                        paid=0,
                    )
                )
        session.flush()
        session.execute(update(Verdict).where(Verdict.id % 2 == 0).values(updated_at=JUDGED_AT))


def assigned_case_scheduled(world: World) -> None:
    """The world's assigned case moved on to scheduled: its team can visit it."""
    schedule(world.engine, world.assigned_case)
