"""Personal data (DESIGN §6): encrypted at rest, never in the logs, revealed only with a
reason that is audited, found by its keyed hash, and re-encrypted when keys rotate."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from doorstep.app import create_app
from doorstep.config import Settings
from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.contact import AttemptChannel, AttemptResult
from doorstep.domain.errors import DoorstepError, Forbidden, KeyMaterialError
from doorstep.domain.identity import id_check_digit, mask_id_number
from doorstep.domain.privacy import Identified, ReceivedVia, RequestKind, Subject
from doorstep.domain.rules import load
from doorstep.integrations.crypto import DataCipher, FernetCipher, HmacHasher, new_data_key
from doorstep.integrations.destinations import Destinations
from doorstep.services.cases import contacts
from doorstep.services.conduct import audit, personal_data, privacy
from doorstep.services.lender import endpoints
from doorstep.store.db import transaction
from doorstep.store.models import ContactPoint, Customer
from doorstep.store.repositories import personal_data as personal_data_repo
from tests.factories.dump import lived_in
from tests.factories.people import actor, actor_in
from tests.factories.privacy import RELATIVE_NAME, RELATIVE_PHONE, policy
from tests.factories.visits import assigned_case_scheduled
from tests.factories.world import PASSWORD, World, build_world

pytestmark = pytest.mark.db


def secrets_of(world: World) -> list[str]:
    values = [*world.id_numbers, *world.phones, *world.addresses]
    assert len(values) == 24
    return values


def visit_pages(world: World, engine: Engine, tmp_path: Path) -> None:
    """A manager signs in, lists cases, opens them as page and JSON, and reveals an ID."""
    app = create_app(Settings(var_dir=tmp_path / "var"), engine=engine, migrate_schema=False)
    app.state.doorstep.cipher, app.state.doorstep.hasher = world.cipher, world.hasher
    with TestClient(app) as client:
        login = client.get("/login").text
        token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed = client.post(
            "/login",
            data={"username": "manager", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        assert client.get("/cases").status_code == 200
        for case_id in (world.assigned_case, world.other_case):
            assert client.get(f"/cases/{case_id}").status_code == 200
            assert client.get(f"/api/cases/{case_id}").status_code == 200
        page = client.get("/cases").text
        header = page.split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]
        revealed = client.post(
            f"/api/cases/{world.assigned_case}/reveal",
            json={"field": "id_number", "purpose": "visit_preparation"},
            headers={"X-CSRF-Token": header},
        )
        assert revealed.status_code == 200
        assert revealed.json()["value"] in world.id_numbers


def stored_text(engine: Engine) -> Iterator[tuple[str, bytes]]:
    """Everything the database holds, as bytes: the SQLite files after a checkpoint, or
    every row of every table on PostgreSQL rendered as text."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        database = Path(engine.url.database or "")
        for path in (database, database.with_name(database.name + "-wal")):
            if path.exists():
                yield path.name, path.read_bytes()
        return
    with engine.connect() as connection:
        tables = connection.execute(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        ).scalars()
        for table in list(tables):
            rows = connection.execute(text(f'SELECT t::text FROM "{table}" t')).scalars()
            yield table, "\n".join(rows).encode("utf-8")


def files_under(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Every file a copy of the data folder would carry."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(folder)), path.read_bytes()


def id_candidates(masked: str, birth_year: int) -> list[str]:
    """Every national ID the clear columns leave possible: the masked form's region,
    sequence and check digit with each day of the birth year whose check digit fits."""
    day, found = date(birth_year, 1, 1), []
    while day.year == birth_year:
        first17 = masked[:6] + day.strftime("%Y%m%d") + masked[14:17]
        if id_check_digit(first17) == masked[17]:
            found.append(first17 + masked[17])
        day += timedelta(days=1)
    return found


def test_no_personal_data_in_clear_in_the_database(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    """A copy of the database and of var/ after a lived-in day (pages read, a delivery
    with precise positions and a changed row, a contact note, a visit with interview,
    photo, SOS and check-out, a hardship report and a complaint, a printed dossier, the
    analysts' exports) shows no national ID, phone, address, interview, note, borrower's
    statement or precise position in clear, holds no key, and its clear columns cannot
    rebuild a national ID."""
    world = build_world(engine, tmp_path, keys, then=assigned_case_scheduled)
    visit_pages(world, engine, tmp_path)
    var_dir = tmp_path / "var"
    secrets = lived_in(world, tmp_path, var_dir)
    chunks = [*stored_text(engine), *files_under(var_dir)]
    masked = mask_id_number(world.id_numbers[0]).encode("utf-8")
    assert any(masked in data for _, data in chunks), "the scan does not see the stored rows"
    assert any(name.startswith("exports/") for name, _ in chunks), "nothing was exported"
    leaks = [
        f"{shown} in {name}"
        for shown, form in secrets.forms()
        for name, data in chunks
        if form in data
    ]
    assert not leaks
    cached = [data for name, data in chunks if name.startswith("cache/dossiers/")]
    assert cached and not any(data.startswith(b"%PDF") for data in cached)  # sealed
    assert all(world.cipher.decrypt_bytes(data).startswith(b"%PDF") for data in cached)  # type: ignore[attr-defined]
    keys_found = [p for p in (tmp_path / "secrets").iterdir()]
    assert keys_found and not (var_dir / "secrets").exists()
    for key_file in keys_found:
        key = key_file.read_bytes().strip()
        assert not [name for name, data in chunks if key in data]
    with transaction(engine) as session:  # the clear columns leave many IDs possible
        stored = session.execute(select(Customer.id_number_masked, Customer.birth_year)).all()
    assert {len(id_candidates(m, y)) for m, y in stored} and all(
        len(id_candidates(m, y)) >= 10 for m, y in stored
    )


def test_no_personal_data_in_the_logs(
    engine: Engine, tmp_path: Path, keys: tuple[object, object], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    engine.echo = "debug"  # statements, parameters and result rows
    try:
        world = build_world(engine, tmp_path, keys, fresh=True)  # its ingest logged too
        visit_pages(world, engine, tmp_path)
    finally:
        engine.echo = False
    logged = caplog.text
    # the reads of contact points were captured (a first load on PostgreSQL is copied in
    # through the driver, which SQLAlchemy does not log: nothing of it can leak there)
    assert "FROM contact_points" in logged
    assert "SELECT" in logged and "Row (" in logged  # the echo really captured rows
    leaks = [value for value in secrets_of(world) if value in logged]
    assert not leaks


def test_reveal_needs_a_purpose_from_the_list_and_is_audited(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    cipher: FernetCipher = world.cipher  # type: ignore[assignment]
    verifier, case_id = actor(engine, "verifier"), world.assigned_case

    def reveal(session: Session, who: Actor, field: str, purpose: str, **more: Any) -> str:
        return contacts.reveal(
            session,
            who,
            cipher,
            case_id,
            field=field,
            purpose=purpose,
            pack=load("cn"),
            now=datetime.now(UTC),
            **more,
        )

    for wrong in ("", "visit", "curiosity"):  # not on the list ("visit" was free text)
        with pytest.raises(DoorstepError, match="purpose"), transaction(engine) as session:
            reveal(session, verifier, "id_number", wrong)
    for short in (None, "", "why", "  ab  "):  # "other" says what, in words
        with pytest.raises(DoorstepError, match="at least 4"), transaction(engine) as session:
            reveal(session, verifier, "id_number", "other", reason=short)
    with transaction(engine) as session:
        value = reveal(
            session,
            verifier,
            "id_number",
            "visit_preparation",
            reason="核实身份",
            request_id="req-1",
        )
        customer = session.get(Customer, "C0001")
        assert customer is not None
        assert value == world.id_numbers[0] and customer.id_number != value
        phone = session.scalar(
            select(ContactPoint).where(
                ContactPoint.customer_id == "C0001", ContactPoint.channel == "phone"
            )
        )
        assert phone is not None
        value = reveal(
            session, verifier, "contact_point", "other", reason="call first", point_id=phone.id
        )
        assert value == world.phones[0]
    with transaction(engine) as session:
        reveals = [
            e
            for e in audit.timeline(session, "case", case_id)
            if e.action == "personal_data.reveal"
        ]
    assert [
        (e.actor, e.role, e.reason, e.summary["field"], e.summary["purpose"], e.request_id)
        for e in reveals
    ] == [
        ("verifier", "verifier", "外访准备 visit preparation: 核实身份", "id_number",
         "visit_preparation", "req-1"),
        ("verifier", "verifier", "其他 other: call first", "contact_point", "other", None),
    ]  # fmt: skip
    for role in (Role.ANALYST, Role.AUDITOR):
        with pytest.raises(Forbidden), transaction(engine) as session:
            reveal(session, Actor(role.value, role), "id_number", "legal")


def test_keyed_hash_finds_a_customer_without_decrypting(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    hasher: HmacHasher = world.hasher  # type: ignore[assignment]
    wanted = world.id_numbers[4]
    with transaction(engine) as session:
        found = session.scalars(
            select(Customer.customer_id).where(Customer.id_number_hash == hasher.digest(wanted))
        ).all()
        assert found == ["C0005"]
        by_phone = session.scalars(
            select(ContactPoint.customer_id).where(
                ContactPoint.value_hash == hasher.digest(world.phones[2])
            )
        ).all()
        assert by_phone == ["C0003"]
        other_key = HmacHasher("another-lookup-key")
        assert not session.scalars(
            select(Customer.customer_id).where(Customer.id_number_hash == other_key.digest(wanted))
        ).all()


def sealed_values(engine: Engine) -> dict[str, list[str]]:
    """Every stored value under the personal-data cipher, by 'table.column'."""
    with transaction(engine) as session:
        return {
            f"{table.__tablename__}.{column.key}": [
                v for v in session.scalars(select(column).order_by(key)) if v
            ]
            for table, key, column in personal_data_repo.ENCRYPTED
        }


LENDER_RESOLVES = Destinations(resolve=lambda host, port: ["93.184.215.14"])
"""The lender's host resolves to a public address without asking a name server."""


def warned_contact_and_an_endpoint(world: World) -> None:
    """A contact at 23:00 under a pack that only warns (its reason kept, sealed) and a
    lender's webhook endpoint (its secret sealed)."""
    soft = load("cn", ("site.toml", '[rules.CN-HOURS]\nseverity = "warn"'))
    late = datetime(2024, 6, 3, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    with transaction(world.engine) as session:
        phone = session.scalars(
            select(ContactPoint.id).where(
                ContactPoint.customer_id == "C0001", ContactPoint.channel == "phone"
            )
        ).first()
        assert phone is not None
        contacts.attempt(
            session, actor_in(session, "manager"), world.assigned_case, phone,
            AttemptChannel.CALL, AttemptResult.NO_ANSWER, at=late, pack=soft,
            override_reason="asked to be called late", cipher=world.cipher,  # type: ignore[arg-type]
        )  # fmt: skip
        endpoints.add_endpoint(
            session,
            SYSTEM,
            "https://lender.example/hook",
            world.cipher,  # type: ignore[arg-type]
            destinations=LENDER_RESOLVES,
        )


def a_third_partys_request(world: World, tmp_path: Path) -> None:
    """A relative asks that their number be deleted, identified by a call back: their
    phone, name, words and the identity note are sealed."""
    auditor, at = actor(world.engine, "auditor"), datetime(2024, 6, 4, 2, tzinfo=UTC)
    new = privacy.NewRequest(
        Subject.THIRD_PARTY, RequestKind.DELETE, ReceivedVia.PHONE,
        phone=RELATIVE_PHONE, name=RELATIVE_NAME, details="不要再打给我",
    )  # fmt: skip
    with transaction(world.engine) as session:
        request = privacy.file_request(
            session, auditor, new, policy=policy(world, tmp_path), now=at
        )
        privacy.verify(
            session, auditor, request.id, identified_by=Identified.CALLBACK, note="回拨核实",
            policy=policy(world, tmp_path), now=at,
        )  # fmt: skip


def test_key_rotation_re_encrypts_everything(engine: Engine, tmp_path: Path) -> None:
    old, new = new_data_key(), new_data_key()
    keys = (FernetCipher([old]), HmacHasher("lookup"))
    world = build_world(engine, tmp_path, keys, then=assigned_case_scheduled)
    warned_contact_and_an_endpoint(world)  # before the borrower's hold
    a_third_partys_request(world, tmp_path)
    lived_in(world, tmp_path, tmp_path / "var")  # notes, interview, positions, change log
    before = sealed_values(engine)
    assert [c for c in before if not before[c]] == []
    with transaction(engine) as session:
        rotated = personal_data.rotate_all(session, FernetCipher([new, old]), batch=5)
    assert rotated == sum(len(v) for v in before.values()) > 8 + 16
    only_new, only_old = FernetCipher([new]), FernetCipher([old])
    after = sealed_values(engine)
    for column, values in after.items():
        assert [only_new.decrypt(v) for v in values] == [
            only_old.decrypt(v) for v in before[column]
        ], column
        for value in values:
            with pytest.raises(KeyMaterialError):
                only_old.decrypt(value)
    with transaction(engine) as session:
        ids = session.scalars(select(Customer.id_number).order_by(Customer.customer_id)).all()
        points = session.execute(
            select(ContactPoint.channel, ContactPoint.value).order_by(ContactPoint.customer_id)
        ).all()
    assert [only_new.decrypt(token) for token in ids] == world.id_numbers
    assert sorted(only_new.decrypt(v) for c, v in points if c == "phone") == sorted(world.phones)
    assert sorted(only_new.decrypt(v) for c, v in points if c == "address") == sorted(
        world.addresses
    )


def test_a_change_to_sm4_re_encrypts_and_rehashes_everything(
    engine: Engine, tmp_path: Path
) -> None:
    """DOORSTEP_CIPHER=sm4 then `keys rotate --rehash`: every value becomes SM4 (read
    before and after, whatever its scheme), the lookups work under HMAC-SM3, and a
    reveal on the page reads the new values."""
    key = new_data_key()
    aes = (DataCipher([key]), HmacHasher("lookup"))
    sm4 = (DataCipher([key], "sm4"), HmacHasher("lookup", "sm4"))
    world = build_world(engine, tmp_path, aes, then=assigned_case_scheduled)
    lived_in(world, tmp_path, tmp_path / "var")
    before = sealed_values(engine)
    assert sm4[0].decrypt(before["customers.id_number"][0]) == world.id_numbers[0]  # mixed
    with transaction(engine) as session:
        personal_data.rotate_all(session, sm4[0], batch=7, hasher=sm4[1])
    after = sealed_values(engine)
    for column, values in after.items():
        assert all(v.startswith("sm4:") for v in values), column
        assert [sm4[0].decrypt(v) for v in values] == [aes[0].decrypt(v) for v in before[column]]
    with transaction(engine) as session:
        found = session.scalars(
            select(Customer.customer_id).where(
                Customer.id_number_hash == sm4[1].digest(world.id_numbers[4])
            )
        ).all()
        by_phone = session.scalars(
            select(ContactPoint.customer_id).where(
                ContactPoint.value_hash == sm4[1].digest(world.phones[2])
            )
        ).all()
    assert (found, by_phone) == (["C0005"], ["C0003"])
    visit_pages(replace(world, cipher=sm4[0], hasher=sm4[1]), engine, tmp_path)
