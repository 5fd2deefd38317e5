"""The day page reveals each stop's address once per live assignment and verifier: the
first view is audited, later views show the same clear address without a new audit event;
the partner verifier and a new assignment are audited again. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor
from doorstep.domain.rules import load
from doorstep.domain.rules import load as load_pack
from doorstep.services import visits
from doorstep.services.people import teams, users
from doorstep.store.db import transaction
from doorstep.store.models import Assignment, AuditEvent, User
from tests.factories.visits import assigned_case_scheduled
from tests.factories.world import World, build_world
from tests.integration.test_visits import rules, team_id

pytestmark = pytest.mark.db


@pytest.fixture
def world(engine: Engine, tmp_path: Path, keys: tuple[object, object]) -> World:
    """The small world, its assigned case scheduled for the visit."""
    return build_world(engine, tmp_path, keys, then=assigned_case_scheduled)


def _actor(session: Session, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return users.actor_for(session, user)


def _view(world: World, username: str, now: datetime | None = None) -> list[str | None]:
    """The addresses the user's day page shows (one transaction, committed like the page)."""
    now = now or datetime.now(UTC)
    with transaction(world.engine) as session:
        stops = visits.day(
            session,
            _actor(session, username),
            world.cipher,  # type: ignore[arg-type]
            now.astimezone(rules().zone).date(),
            now=now,
            pack=load_pack("cn"),
            request_id="day-test",
        )
        return [s.address for s in stops]


def _reveals(world: World, username: str | None = None) -> list[AuditEvent]:
    with Session(world.engine) as session:
        query = select(AuditEvent).where(
            AuditEvent.action == "personal_data.reveal",
            AuditEvent.object_id == str(world.assigned_case),
        )
        if username is not None:
            query = query.where(AuditEvent.actor == username)
        return list(session.scalars(query.order_by(AuditEvent.id)))


def test_the_address_is_revealed_once_per_assignment_and_verifier(world: World) -> None:
    first = _view(world, "verifier")
    assert len(first) == 1 and first[0] in world.addresses
    [audited] = _reveals(world)
    assert audited.actor == "verifier" and audited.reason.startswith("外访路线")
    assert audited.summary["field"] == "contact_point"

    for _ in range(3):  # later views: the same clear address, no new event
        assert _view(world, "verifier") == first
    assert len(_reveals(world)) == 1

    # the partner sees it for the first time: the trail names them too, once
    assert _view(world, "verifier_mate") == first
    assert _view(world, "verifier_mate") == first
    assert [e.actor for e in _reveals(world)] == ["verifier", "verifier_mate"]


def test_a_new_assignment_is_audited_again(world: World) -> None:
    _view(world, "verifier")
    now = datetime.now(UTC)
    with transaction(world.engine) as session:  # the case is taken away and given back
        session.execute(
            update(Assignment)
            .where(Assignment.case_id == world.assigned_case)
            .values(revoked_at=now - timedelta(seconds=1))
        )
        teams.assign(
            session, SYSTEM, world.assigned_case, team_id(world), now, now + timedelta(hours=8)
        )
    later = now + timedelta(seconds=2)
    assert _view(world, "verifier", later)[0] in world.addresses
    assert len(_reveals(world, "verifier")) == 2
    assert _view(world, "verifier", later)[0] in world.addresses
    assert len(_reveals(world, "verifier")) == 2


def test_a_reveal_before_the_assignment_or_of_another_point_does_not_count(
    world: World,
) -> None:
    """A reveal of another contact point (a phone), or one made before the live assignment
    began, is not this assignment's reveal of the address: the day page audits its own."""
    from doorstep.services.cases import contacts
    from doorstep.store.models import Case, ContactPoint

    with transaction(world.engine) as session:
        case = session.get(Case, world.assigned_case)
        assert case is not None
        phone = session.scalars(
            select(ContactPoint.id).where(
                ContactPoint.customer_id == case.customer_id, ContactPoint.channel == "phone"
            )
        ).first()
        assert phone is not None
        contacts.reveal(
            session,
            _actor(session, "verifier"),
            world.cipher,  # type: ignore[arg-type]
            world.assigned_case,
            field="contact_point",
            point_id=phone,
            purpose="contact_verification",
            reason="call before the visit",
            pack=load("cn"),
            now=datetime.now(UTC),
        )
    _view(world, "verifier")
    events = _reveals(world, "verifier")
    assert len(events) == 2  # the phone, then the address
    assert events[0].summary["contact_point"] == phone

    with transaction(world.engine) as session:  # the assignment (re)starts after that view
        session.execute(
            update(Assignment)
            .where(Assignment.case_id == world.assigned_case)
            .values(starts_at=events[-1].at + timedelta(milliseconds=1))
        )
    _view(world, "verifier", datetime.now(UTC) + timedelta(seconds=1))
    assert len(_reveals(world, "verifier")) == 3
    _view(world, "verifier", datetime.now(UTC) + timedelta(seconds=1))
    assert len(_reveals(world, "verifier")) == 3
