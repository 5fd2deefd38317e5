"""Offers and the portal over a real database (SQLite and PostgreSQL): making, approving
and accepting plans, the schedule versions an accepted plan creates and the delinquency
batch measuring against the newest, tracking kept/broken plans, one-time codes, hardship
reports, complaints and the refusals that must change nothing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from doorstep.domain.access import SYSTEM, Actor
from doorstep.domain.allocation import DEFAULT_WATERFALL
from doorstep.domain.delinquency import DEFAULT_BUCKETS
from doorstep.domain.errors import (
    DoorstepError,
    Forbidden,
    IllegalTransition,
    InvalidValue,
    NotFound,
    OfferExpired,
    SignInRefused,
    SignInThrottled,
)
from doorstep.integrations.sms import LogSender
from doorstep.services.delinquency import run_delinquency
from doorstep.services.repayment import offers, portal, tracking
from doorstep.store.db import transaction
from doorstep.store.models import (
    ArchivedInstallment,
    AuditEvent,
    BorrowerMessage,
    Case,
    DelinquencySnapshot,
    Installment,
    Loan,
    Offer,
    Payment,
    PortalCode,
    PortalSession,
    ScheduleVersion,
    VisitSlot,
)
from tests.factories.book import TEST_CIPHER
from tests.factories.people import actor
from tests.factories.world import AS_OF, World

pytestmark = pytest.mark.db
POLICY = offers.OfferPolicy()
NOW = datetime(2024, 6, 1, 4, 0, tzinfo=UTC)  # noon in Beijing on the world's as-of day


def case_loan(engine: Engine, case_id: int) -> tuple[str, str]:
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        loan = session.scalar(select(Loan).where(Loan.customer_id == case.customer_id))
        assert loan is not None
        return case.customer_id, loan.loan_id


def schedule_rows(engine: Engine, loan_id: str) -> list[tuple[Any, ...]]:
    with transaction(engine) as session:
        return [
            (r.seq, r.due_on, r.principal_due, r.interest_due, r.fee_due)
            for r in session.scalars(
                select(Installment).where(Installment.loan_id == loan_id).order_by(Installment.seq)
            )
        ]


def make(engine: Engine, who: Actor, case_id: int, loan_id: str, kind: str) -> tuple[int, str]:
    """An offer of the first allowed option of `kind`; returns (offer id, option key)."""
    with transaction(engine) as session:
        _, options = offers.preview(session, who, case_id, loan_id, AS_OF, POLICY)
        key = next(o.key for o in options if o.terms.kind.value == kind and not o.refused)
        offer = offers.make_offer(
            session, who, case_id, loan_id, AS_OF, POLICY, keys=[key], now=NOW
        )
        return offer.id, key


def test_accepted_plan_becomes_the_new_schedule_and_the_batch_measures_against_it(
    engine: Engine, world: World
) -> None:
    manager = actor(engine, "manager")
    customer_id, loan_id = case_loan(engine, world.assigned_case)
    original = schedule_rows(engine, loan_id)
    with transaction(engine) as session:
        debt = offers.debt_of(session, loan_id, AS_OF)
    # 12,000 at 12% over 12 months, the first of 1,066.19 paid: the rest is owed
    assert debt.principal == 1_200_000 - (106_619 - 12_000)
    assert debt.interest > 0 and debt.penalty > 0 and debt.months_left == 8
    offer_id, key = make(engine, manager, world.assigned_case, loan_id, "reschedule")
    with transaction(engine) as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None and offer.state == "offered" and not offer.needs_approval
        assert [o["key"] for o in offer.options] == [key]
        offers.accept(session, customer_id, offer_id, key, now=NOW)
    with transaction(engine) as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None and offer.state == "active" and offer.schedule_version == 2
        versions = session.scalars(
            select(ScheduleVersion)
            .where(ScheduleVersion.loan_id == loan_id)
            .order_by(ScheduleVersion.version)
        ).all()
        assert [(v.version, v.source, v.effective_on) for v in versions] == [
            (1, "original", date(2024, 1, 10)),
            (2, "restructured", AS_OF),
        ]
        kept = session.scalars(
            select(ArchivedInstallment)
            .where(ArchivedInstallment.loan_id == loan_id)
            .order_by(ArchivedInstallment.seq)
        ).all()
        assert [
            (r.seq, r.due_on, r.principal_due, r.interest_due, r.fee_due) for r in kept
        ] == original
        loan = session.get(Loan, loan_id)
        assert loan is not None and loan.schedule_source == "restructured"
        case = session.get(Case, world.assigned_case)
        assert case is not None and case.hold_reason == "other"  # no visit while the plan runs
        actions = set(session.scalars(select(AuditEvent.action)))
        assert {"offer.make", "offer.accept", "case.hold"} <= actions
    new = schedule_rows(engine, loan_id)
    assert new[0][1] == date(2024, 7, 1) and len(new) == 8
    # the principal alone bears interest: the overdue interest and penalty are a balance
    # apart, without interest, repaid in parts with each installment (in the fee column)
    assert sum(r[2] for r in new) == debt.principal
    assert sum(r[4] for r in new) == debt.interest + debt.fee + debt.penalty

    def snapshot_on(day: date) -> DelinquencySnapshot:
        with transaction(engine) as session:
            run_delinquency(session, day, waterfall=DEFAULT_WATERFALL, buckets=DEFAULT_BUCKETS)
        with transaction(engine) as session:
            row = session.get(DelinquencySnapshot, (loan_id, day))
            assert row is not None
            return row

    assert snapshot_on(date(2024, 6, 15)).dpd == 0  # was 97 days late on the old schedule
    late = snapshot_on(date(2024, 7, 20))
    assert late.dpd == 19 and late.bucket == "M1"
    first = new[0][2] + new[0][3] + new[0][4]
    assert late.overdue_principal + late.overdue_interest + late.overdue_fee == first
    with transaction(engine) as session:  # paying the first installment cures it
        session.add(
            Payment(
                payment_id="PX1",
                loan_id=loan_id,
                paid_on=date(2024, 7, 1),
                amount=first,
                channel="bank",
            )
        )
    assert snapshot_on(date(2024, 7, 20)).dpd == 0


def test_maker_checker_above_the_threshold(engine: Engine, world: World) -> None:
    manager, admin = actor(engine, "manager"), actor(engine, "admin")
    customer_id, loan_id = case_loan(engine, world.assigned_case)
    offer_id, key = make(engine, manager, world.assigned_case, loan_id, "settle")
    with transaction(engine) as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None and offer.needs_approval and offer.concession > 100_000
        assert portal.open_offers(session, customer_id, NOW) == []
        with pytest.raises(IllegalTransition):
            offers.accept(session, customer_id, offer_id, key, now=NOW)
        with pytest.raises(Forbidden, match="second manager"):
            offers.approve(session, manager, offer_id, now=NOW)
    with transaction(engine) as session:
        offers.approve(session, admin, offer_id, now=NOW)
    with transaction(engine) as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None and offer.state == "approved" and offer.checker_id == admin.user_id
        assert [o.id for o in portal.open_offers(session, customer_id, NOW)] == [offer_id]
        offers.accept(session, customer_id, offer_id, key, now=NOW)
    rows = schedule_rows(engine, loan_id)
    assert all(r[3] == 0 for r in rows) and len(rows) in (1, 3)  # a settlement: no interest


def test_refusals_change_nothing(engine: Engine, world: World) -> None:
    manager = actor(engine, "manager")
    customer_id, loan_id = case_loan(engine, world.assigned_case)
    other_customer, _ = case_loan(engine, world.other_case)
    offer_id, key = make(engine, manager, world.assigned_case, loan_id, "reschedule")
    before = schedule_rows(engine, loan_id)
    cases: list[tuple[str, int, str, datetime, type[DoorstepError]]] = [
        (other_customer, offer_id, key, NOW, NotFound),  # another borrower's offer
        (customer_id, offer_id + 999, key, NOW, NotFound),  # no such offer
        (customer_id, offer_id, key + "-tampered", NOW, InvalidValue),  # a tampered plan id
        (customer_id, offer_id, key, NOW + timedelta(days=15), OfferExpired),
    ]
    for who, oid, plan, at, error in cases:
        with transaction(engine) as session, pytest.raises(error):
            offers.accept(session, who, oid, plan, now=at)
    assert schedule_rows(engine, loan_id) == before
    with transaction(engine) as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None and offer.state == "offered" and offer.accepted_key is None
        assert session.scalar(select(func.count()).select_from(ScheduleVersion)) == 0
        assert session.scalar(select(func.count()).where(AuditEvent.action == "offer.accept")) == 0
        # a verifier may not make offers; a manager may not offer on a case outside their region
        verifier = actor(engine, "verifier")
        with pytest.raises(Forbidden):
            offers.preview(session, verifier, world.assigned_case, loan_id, AS_OF, POLICY)
        _, shanghai_loan = case_loan(engine, world.shanghai_case)
        with pytest.raises(NotFound):
            offers.preview(session, manager, world.shanghai_case, shanghai_loan, AS_OF, POLICY)
        with pytest.raises(NotFound):  # a loan of another customer under this case
            offers.preview(session, manager, world.assigned_case, shanghai_loan, AS_OF, POLICY)


def test_tracking_keeps_paid_plans_and_breaks_missed_ones(engine: Engine, world: World) -> None:
    manager = actor(engine, "manager")
    broken_customer, broken_loan = case_loan(engine, world.assigned_case)
    kept_customer, kept_loan = case_loan(engine, world.other_case)
    broken_id, broken_key = make(engine, manager, world.assigned_case, broken_loan, "extend")
    kept_id, kept_key = make(engine, manager, world.other_case, kept_loan, "settle")
    with transaction(engine) as session:
        offers.approve(session, actor(engine, "admin"), kept_id, now=NOW)
        offers.accept(session, broken_customer, broken_id, broken_key, now=NOW)
        offers.accept(session, kept_customer, kept_id, kept_key, now=NOW)
    settled = schedule_rows(engine, kept_loan)
    with transaction(engine) as session:
        for n, row in enumerate(settled):
            session.add(
                Payment(
                    payment_id=f"K{n}",
                    loan_id=kept_loan,
                    paid_on=row[1],
                    amount=row[2],
                    channel="bank",
                )
            )
    with transaction(engine) as session:  # within the grace: nothing happens yet
        report = tracking.track(
            session, SYSTEM, date(2024, 7, 5), POLICY, now=NOW, cipher=TEST_CIPHER
        )
        assert (report.checked, report.broken, report.kept) == (2, 0, 1)  # settled on time
    with transaction(engine) as session:
        report = tracking.track(
            session, SYSTEM, date(2024, 9, 15), POLICY, now=NOW, cipher=TEST_CIPHER
        )
        assert (report.checked, report.broken, report.kept) == (1, 1, 0)
    with transaction(engine) as session:
        broken = session.get(Offer, broken_id)
        kept = session.get(Offer, kept_id)
        assert broken is not None and broken.state == "broken"
        assert kept is not None and kept.state == "kept"
        case = session.get(Case, world.assigned_case)
        assert case is not None and case.hold_reason is None  # follow-up reopened
        alert = session.scalar(select(BorrowerMessage).where(BorrowerMessage.kind == "plan_broken"))
        assert alert is not None and alert.case_id == world.assigned_case


def _code(sender: LogSender) -> str:
    found = re.search(r"(\d{6})", sender.recent()[0].text)
    assert found is not None
    return found.group(1)


def test_one_time_codes(engine: Engine, world: World) -> None:
    customer_id, loan_id = case_loan(engine, world.assigned_case)
    mobile = world.phones[int(customer_id[1:]) - 1]
    sender = LogSender(keep=5)
    hasher: Any = world.hasher
    with transaction(engine) as session:
        for wrong_loan, wrong_mobile in [("L9999", mobile), (loan_id, "13900000000"), ("", mobile)]:
            with pytest.raises(SignInRefused, match="do not match"):
                portal.request_code(
                    session, sender, hasher, wrong_loan, wrong_mobile, "1.2.3.4", NOW
                )
        _, other_loan = case_loan(engine, world.other_case)
        with pytest.raises(SignInRefused):  # another borrower's loan with my mobile
            portal.request_code(session, sender, hasher, other_loan, mobile, "1.2.3.4", NOW)
    assert sender.recent() == []
    with transaction(engine) as session:
        portal.request_code(session, sender, hasher, loan_id, f"+86 {mobile}", "1.2.3.4", NOW)
        code = _code(sender)
        stored = session.scalar(select(PortalCode))
        assert stored is not None and code not in stored.code_hash
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        with pytest.raises(SignInRefused, match="4 tries left"):
            portal.verify_code(session, hasher, loan_id, wrong, NOW)
        with pytest.raises(SignInRefused, match="expired"):
            portal.verify_code(
                session, hasher, loan_id, code, NOW + timedelta(minutes=5, seconds=1)
            )
        with pytest.raises(SignInRefused):  # the code is for this loan only
            portal.verify_code(session, hasher, other_loan, code, NOW)
        assert session.scalar(select(func.count()).select_from(PortalSession)) == 0
        token = portal.verify_code(session, hasher, loan_id, code, NOW)
        assert portal.borrower_for(session, token, NOW) == customer_id
        assert portal.borrower_for(session, token, NOW + timedelta(hours=3)) is None
        with pytest.raises(SignInRefused):  # used once
            portal.verify_code(session, hasher, loan_id, code, NOW)
    with transaction(engine) as session:  # five wrong tries end a code
        portal.request_code(session, sender, hasher, loan_id, mobile, "1.2.3.4", NOW)
        code = _code(sender)
        for _ in range(5):
            with pytest.raises(SignInRefused):
                portal.verify_code(
                    session, hasher, loan_id, "000000" if code != "000000" else "111111", NOW
                )
        with pytest.raises(SignInRefused, match="too many"):
            portal.verify_code(session, hasher, loan_id, code, NOW)
        portal.request_code(session, sender, hasher, loan_id, mobile, "1.2.3.4", NOW)
        with pytest.raises(SignInThrottled):  # a fourth code within 15 minutes
            portal.request_code(session, sender, hasher, loan_id, mobile, "1.2.3.4", NOW)


def test_hardship_complaint_slots_and_reads(engine: Engine, world: World) -> None:
    customer_id, _ = case_loan(engine, world.assigned_case)
    with transaction(engine) as session:
        with pytest.raises(InvalidValue, match="reason"):
            portal.report_hardship(
                session, customer_id, "lazy", "words here", AS_OF, 14, now=NOW, cipher=TEST_CIPHER
            )
        with pytest.raises(InvalidValue, match="statement"):
            portal.report_hardship(
                session, customer_id, "medical", "  ", AS_OF, 14, now=NOW, cipher=TEST_CIPHER
            )
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(BorrowerMessage)) == 0
        portal.report_hardship(
            session,
            customer_id,
            "medical",
            "在医院住了两个月",
            AS_OF,
            14,
            now=NOW,
            cipher=TEST_CIPHER,
        )
    with transaction(engine) as session:
        case = session.get(Case, world.assigned_case)
        assert case is not None and case.hold_reason == "hardship_reported"
        message = session.scalar(select(BorrowerMessage))
        assert message is not None and message.case_id == case.id
        assert message.hold_until == AS_OF + timedelta(days=14)
        assert (
            portal.release_expired_hardship_holds(
                session, SYSTEM, AS_OF + timedelta(days=13), now=NOW
            )
            == 0
        )
        portal.complain(session, customer_id, "来访人员态度粗暴", now=NOW, cipher=TEST_CIPHER)
    with transaction(engine) as session:
        case = session.get(Case, world.assigned_case)
        assert case is not None and case.hold_reason == "complaint"
        auditor, manager = actor(engine, "auditor"), actor(engine, "manager")
        queue = offers.complaint_queue(session, auditor)
        assert [TEST_CIPHER.decrypt(m.statement) for m in queue] == ["来访人员态度粗暴"]
        with pytest.raises(Forbidden):
            offers.complaint_queue(session, manager)
        with pytest.raises(Forbidden):
            offers.handle_message(session, manager, queue[0].id, now=NOW)
        offers.handle_message(session, auditor, queue[0].id, now=NOW)
        assert offers.complaint_queue(session, auditor) == []
        # a complaint's hold outlasts the hardship period
        assert (
            portal.release_expired_hardship_holds(
                session, SYSTEM, AS_OF + timedelta(days=20), now=NOW
            )
            == 0
        )
        with pytest.raises(InvalidValue, match="start/end"):
            portal.book_slot(
                session,
                customer_id,
                AS_OF + timedelta(days=2),
                time(7),
                time(9),
                AS_OF,
                now=NOW,
                cipher=TEST_CIPHER,
            )
        for start, end in [(time(9), time(11)), (time(14), time(16))]:
            portal.book_slot(
                session,
                customer_id,
                AS_OF + timedelta(days=2),
                start,
                end,
                AS_OF,
                now=NOW,
                cipher=TEST_CIPHER,
            )
        live = session.scalars(select(VisitSlot).where(VisitSlot.cancelled_at.is_(None))).all()
        assert [(s.start, s.end) for s in live] == [(time(14), time(16))]
        portal.count_read(session, "budgeting", "zh_CN")
        portal.count_read(session, "budgeting", "zh_CN")
        assert portal.read_counts(session) == {("budgeting", "zh_CN"): 2}


def test_schema_matches_the_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from doorstep.store.models import Base

    mine = (
        "offers",
        "schedule_versions",
        "archived_installments",
        "portal_codes",
        "portal_sessions",
        "borrower_messages",
        "visit_slots",
        "learn_reads",
    )
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert not [d for d in diff if any(f"'{t}'" in repr(d) for t in mine)]


def test_migration_downgrade_round_trip(engine: Engine) -> None:
    """The migration's downgrade drops exactly what its upgrade made."""
    from alembic import command
    from sqlalchemy import inspect

    from doorstep.store import migrate

    config = migrate.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007_visits")
    assert "offers" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert {"offers", "visit_slots", "learn_reads"} <= set(inspect(engine).get_table_names())
