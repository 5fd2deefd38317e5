"""Revision 0023 converts stored rows both ways: a database of the previous revision with
birth dates, positions, interviews, notes, statements and a change log in clear comes out
with the birth year and those values sealed, and back. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from doorstep.integrations.crypto import DataCipher
from doorstep.services.conduct.personal_data import unseal_json, unseal_position
from doorstep.store import migrate
from doorstep.store.db import transaction
from doorstep.store.models import BorrowerMessage, ContactAttempt, ContactPoint, Customer, Visit
from tests.factories.dump import COMPLAINT, INTERVIEW, NOTE, lived_in, precise
from tests.factories.visits import assigned_case_scheduled
from tests.factories.world import build_world

pytestmark = pytest.mark.db

BEFORE = "0017_child_partition_slots"


def clear_rows(engine: Engine, query: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(query)).all())


def test_the_revision_seals_clear_rows_and_opens_them_on_downgrade(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys, then=assigned_case_scheduled)
    lived_in(world, tmp_path, tmp_path / "var")
    cipher: DataCipher = world.cipher  # type: ignore[assignment]

    with pytest.raises(RuntimeError, match="with the keys"):
        migrate.downgrade(engine, BEFORE)  # sealed rows and no keys: refused, nothing done
    migrate.downgrade(engine, BEFORE, keys=keys)
    [(born,)] = clear_rows(engine, "SELECT birth_date FROM customers WHERE customer_id = 'C0001'")
    assert str(born)[:10] == "1990-03-07"  # from the decrypted ID, not the year
    points = clear_rows(engine, "SELECT lat, lng FROM contact_points WHERE lat IS NOT NULL")
    assert precise(0) in {(float(a), float(b)) for a, b in points}
    [(interview, lat)] = clear_rows(engine, "SELECT interview, lat FROM visits")
    document = interview if isinstance(interview, dict) else json.loads(interview)
    assert document["statement"] == INTERVIEW["statement"] and lat is not None
    assert clear_rows(engine, "SELECT note FROM contact_attempts") == [(NOTE,)]
    statements = {s for (s,) in clear_rows(engine, "SELECT statement FROM borrower_messages")}
    assert COMPLAINT in statements

    with pytest.raises(RuntimeError, match="with the keys"):
        migrate.upgrade(engine)
    migrate.upgrade(engine, keys=keys)
    with transaction(engine) as session:
        customer = session.get_one(Customer, "C0001")
        assert customer.birth_year == 1990
        positions = {
            unseal_position(cipher, p.position)
            for p in session.query(ContactPoint).filter(ContactPoint.position.is_not(None))
        }
        assert precise(0) in positions
        visit = session.query(Visit).one()
        assert unseal_json(cipher, visit.interview)["statement"] == INTERVIEW["statement"]
        assert unseal_position(cipher, visit.position) is not None
        [attempt] = session.query(ContactAttempt).all()
        assert attempt.note != NOTE and cipher.decrypt(attempt.note or "") == NOTE
        sealed = [m.statement for m in session.query(BorrowerMessage) if m.statement]
        assert COMPLAINT in {cipher.decrypt(s) for s in sealed} and COMPLAINT not in sealed
    assert date(1990, 1, 1).year == customer.birth_year
