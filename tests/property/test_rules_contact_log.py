"""Property: for random days of contact attempts by several staff, nothing the engine
blocked appears as performed in the contact log, and the performed contacts, checked
independently of the engine, keep the limits: none in quiet hours (person's local time),
at most 3 connected calls per debtor per local day, at most 6 dials per number per day,
none while the case is on hold; every warned one carries its reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.case import Caller, HoldReason
from doorstep.domain.contact import AttemptChannel, AttemptResult
from doorstep.domain.errors import ReasonRequired
from doorstep.domain.rules import load
from doorstep.services import cases
from doorstep.services.cases import contacts
from doorstep.services.people import users
from doorstep.store.db import transaction
from doorstep.store.models import Case, ContactAttempt, ContactPoint, User
from tests.factories.book import TEST_CIPHER
from tests.factories.databases import sqlite_database
from tests.factories.world import build_world

SH = ZoneInfo("Asia/Shanghai")
CN = load("cn")
WARN_HOURS = load("cn", ("site.toml", '[rules.CN-DIAL-ATTEMPTS]\nseverity = "warn"'))
START = datetime(2026, 3, 9, 0, 0, tzinfo=SH)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, keys: tuple[object, object]
) -> Iterator[tuple[Engine, int, list[int], list[Actor]]]:
    tmp = tmp_path_factory.mktemp("rules-prop")
    engine = sqlite_database(tmp / "doorstep.db").engine
    built = build_world(engine, Path(tmp), keys)
    with transaction(engine) as session:
        case = session.get(Case, built.assigned_case)
        assert case is not None
        points = list(
            session.scalars(
                select(ContactPoint.id).where(ContactPoint.customer_id == case.customer_id)
            )
        )
        actors = [
            users.actor_for(session, u)
            for u in session.scalars(select(User).where(User.username.in_(("manager", "admin"))))
        ]
    yield engine, built.assigned_case, points, actors
    engine.dispose()


attempts = st.lists(
    st.tuples(
        st.integers(0, 3 * 24 * 60 - 1),  # minute within three days, Shanghai time
        st.sampled_from([AttemptChannel.CALL, AttemptChannel.SMS, AttemptChannel.CALL]),
        st.sampled_from([AttemptResult.REACHED, AttemptResult.NO_ANSWER, AttemptResult.NO_ANSWER]),
        st.integers(0, 1),  # which staff member
        st.integers(0, 9),  # which contact point (modulo)
        st.sampled_from(["none", "none", "none", "hold", "release"]),
        st.booleans(),  # give a reason
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=attempts, soft=st.booleans())
def test_blocked_never_performed_and_performed_within_limits(
    world: tuple[Engine, int, list[int], list[Actor]],
    steps: list[tuple[int, AttemptChannel, AttemptResult, int, int, str, bool]],
    soft: bool,
) -> None:
    engine, case_id, points, actors = world
    pack = WARN_HOURS if soft else CN
    session = Session(engine, expire_on_commit=False)
    try:
        phones = [
            p
            for p in points
            if (cp := session.get(ContactPoint, p)) is not None and cp.channel == "phone"
        ]
        held_at: list[tuple[datetime, datetime | None]] = []
        for minute, channel, result, who, which, hold_step, reason in sorted(
            steps, key=lambda s: s[0]
        ):
            at = START + timedelta(minutes=minute)
            case = session.get(Case, case_id)
            assert case is not None
            if hold_step == "hold" and case.hold_reason is None:
                complaint = HoldReason.COMPLAINT.value
                cases.apply(
                    session,
                    actors[0],
                    case,
                    "hold",
                    by=Caller.CONDUCT,
                    hold_reason=complaint,
                    reason="test",
                    now=at,
                )
                held_at.append((at, None))
            elif hold_step == "release" and case.hold_reason is not None:
                by = Caller.CONDUCT
                cases.apply(session, actors[1], case, "release", by=by, reason="resolved", now=at)
                held_at[-1] = (held_at[-1][0], at)
            point_id = phones[which % len(phones)]
            try:
                contacts.attempt(
                    session,
                    actors[who],
                    case_id,
                    point_id,
                    channel,
                    result,
                    at=at,
                    pack=pack,
                    override_reason="asked to" if reason else None,
                    cipher=TEST_CIPHER,
                )
            except ReasonRequired:
                continue  # warned without a reason: nothing written
        log = session.scalars(
            select(ContactAttempt)
            .where(ContactAttempt.case_id == case_id)
            .order_by(ContactAttempt.attempted_at, ContactAttempt.id)
        ).all()
        assert log, "every step logs something or is refused with nothing written"
        connected: Counter[object] = Counter()
        dials: Counter[object] = Counter()
        for row in log:
            if row.decision == "blocked":
                assert not row.performed and not row.connected
                continue
            assert row.performed
            if row.decision == "warned":
                assert row.override_reason
            local = row.attempted_at.astimezone(SH)
            assert 8 <= local.hour < 22, f"performed in quiet hours: {local}"
            for start, end in held_at:
                assert not (start <= row.attempted_at and (end is None or row.attempted_at < end))
            if row.channel == "call":
                dials[(row.contact_point_id, local.date())] += 1
                if row.connected and row.relation == "debtor":
                    connected[local.date()] += 1
        assert all(n <= 3 for n in connected.values()), connected
        if not soft:
            assert all(n <= 6 for n in dials.values()), dials
    finally:
        session.rollback()
        session.close()
