"""Privacy-request worlds: the policy over the test's keys and folders, a third party's
phone among a borrower's contacts, a visit with a photo on disk, a borrower whose loans
are repaid and whose cases are long over."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from doorstep.domain.ports import Cipher, KeyedHasher
from doorstep.domain.rules import load
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services.conduct import personal_data
from doorstep.services.conduct.privacy_requests import Policy
from doorstep.services.conduct.retention import Stores
from doorstep.store.db import transaction
from doorstep.store.models import (
    AuditEvent,
    BorrowerMessage,
    Case,
    ContactPoint,
    DelinquencySnapshot,
    Evidence,
    ImportBatch,
    IngestChange,
    Loan,
    Team,
    Visit,
)
from tests.factories.world import World

SH = ZoneInfo("Asia/Shanghai")
RELATIVE_PHONE = "13900001111"
RELATIVE_NAME = "李四"
POSITION = (39.9, 116.4)
INTERVIEW = {"note": "见到本人"}
STATEMENT = "太频繁"


def policy(world: World, tmp_path: Path, days: int = 15) -> Policy:
    return Policy(
        cast(Cipher, world.cipher),
        cast(KeyedHasher, world.hasher),
        SH,
        days,
        load("cn"),
        Stores(LocalEvidenceStore(tmp_path / "evidence"), tmp_path / "dossiers"),
    )


def customer_of(world: World, case_id: int) -> str:
    with transaction(world.engine) as session:
        return session.get_one(Case, case_id).customer_id


def add_relative(world: World, customer_id: str, phone: str = RELATIVE_PHONE) -> int:
    """An emergency contact (a relative, pre-agreed at application) of the borrower, with
    their name in the lender's extra columns, as an ingested contacts file stores it."""
    cipher, hasher = cast(Cipher, world.cipher), cast(KeyedHasher, world.hasher)
    with transaction(world.engine) as session:
        point = ContactPoint(
            customer_id=customer_id,
            channel="phone",
            kind="emergency",
            value=cipher.encrypt(phone),
            value_hash=hasher.digest(phone),
            value_masked=phone[:3] + "****" + phone[-4:],
            relation="mother",
            source="application",
            observed_at=datetime(2024, 1, 1, 2, tzinfo=UTC),
            status="unverified",
            confidence=0.5,
            extra={"contact_name": RELATIVE_NAME},
        )
        session.add(point)
        session.flush()
        return point.id


def add_visit_with_photo(
    world: World, case_id: int, store: LocalEvidenceStore, photo: bytes
) -> str:
    """A submitted visit to the case with one photo stored on disk, its position and
    interview sealed as the check-in seals them, and a sealed complaint; its SHA-256."""
    cipher = cast(Cipher, world.cipher)
    digest = store.put(photo)
    with transaction(world.engine) as session:
        team = session.scalars(select(Team).order_by(Team.id)).first()
        assert team is not None
        visit = Visit(
            case_id=case_id,
            team_id=team.id,
            verifier_ids=[],
            state="submitted",
            checked_in_at=datetime(2024, 6, 2, 1, tzinfo=UTC),
            position=personal_data.seal_position(cipher, *POSITION),
            flags=[],
            interview=personal_data.seal_json(cipher, INTERVIEW),
        )
        session.add(visit)
        session.flush()
        session.add(
            Evidence(
                visit_id=visit.id, sha256=digest, media_type="image/jpeg", size_bytes=len(photo)
            )
        )
        session.add(
            BorrowerMessage(
                customer_id=customer_of(world, case_id),
                kind="complaint",
                statement=personal_data.seal(cipher, STATEMENT),
            )
        )
    return digest


def repaid_and_over(world: World, customer_id: str, *, over_for: timedelta) -> None:
    """Every loan of the customer repaid (a later snapshot owing nothing) and every case
    closed `over_for` ago, with no other collection activity since."""
    long_ago = datetime.now(UTC) - over_for
    with transaction(world.engine) as session:
        for loan_id in session.scalars(select(Loan.loan_id).where(Loan.customer_id == customer_id)):
            session.add(
                DelinquencySnapshot(
                    loan_id=loan_id,
                    as_of=date(2024, 12, 31),
                    dpd=0,
                    bucket="current",
                    overdue_principal=0,
                    overdue_interest=0,
                    overdue_fee=0,
                    overdue_penalty=0,
                    outstanding_principal=0,
                    unapplied=0,
                )
            )
        session.execute(
            update(Case)
            .where(Case.customer_id == customer_id)
            .values(state="closed", updated_at=long_ago)
        )
        session.execute(
            update(Visit)
            .where(Visit.case_id.in_(select(Case.id).where(Case.customer_id == customer_id)))
            .values(checked_in_at=long_ago)
        )


def actions_of(world: World, request_id: int) -> list[str]:
    with transaction(world.engine) as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(
                    AuditEvent.object_type == "privacy_request",
                    AuditEvent.object_id == str(request_id),
                )
                .order_by(AuditEvent.id)
            )
        )


def change_log(world: World, rows: list[tuple[str, str]]) -> None:
    """Change-log rows for these (entity, key)s, their before/after sealed as ingest seals
    them."""
    now = datetime.now(UTC)

    def seal(fields: dict[str, str]) -> str:
        return str(personal_data.seal_json(cast(Cipher, world.cipher), fields))

    with transaction(world.engine) as session:
        batch = ImportBatch(started_at=now, finished_at=now, files=[], counts={}, actor="ingest")
        session.add(batch)
        session.flush()
        for entity, key in rows:
            session.add(
                IngestChange(
                    batch_id=batch.id,
                    entity=entity,
                    entity_key=key,
                    before=seal({"name": "客户"}),
                    after=seal({"name": "客户改"}),
                )
            )
