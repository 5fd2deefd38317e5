"""Privacy requests (PIPL Arts 44–50) on SQLite and PostgreSQL: the lifecycle with its
deadline and audit trail, legal holds that refuse or defer a deletion with reasons, a
third party's deletion that removes the number and stops every later contact, a
borrower's deletion that erases evidence files, and the copy an access request gets."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select

from doorstep.domain.access import Actor
from doorstep.domain.contact import AttemptChannel, AttemptResult
from doorstep.domain.errors import (
    ContactErased,
    Forbidden,
    IllegalTransition,
    InvalidValue,
    KeyMaterialError,
)
from doorstep.domain.ports import Cipher, KeyedHasher
from doorstep.domain.privacy import ReceivedVia, RequestKind, Subject
from doorstep.domain.rules import load
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services.cases import contacts
from doorstep.services.conduct import personal_data, privacy
from doorstep.store.db import transaction
from doorstep.store.models import (
    BorrowerMessage,
    CaseHold,
    ContactPoint,
    ContactSuppression,
    Customer,
    Evidence,
    IngestChange,
    PrivacyRequest,
)
from tests.factories.people import actor
from tests.factories.privacy import (
    INTERVIEW,
    POSITION,
    RELATIVE_NAME,
    RELATIVE_PHONE,
    SH,
    STATEMENT,
    actions_of,
    add_relative,
    add_visit_with_photo,
    change_log,
    customer_of,
    policy,
    repaid_and_over,
)
from tests.factories.world import World

pytestmark = pytest.mark.db
RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
PHOTO = b"\xff\xd8\xff\xe0" + b"visit photo" * 20


def file(world: World, tmp_path: Path, who: Actor, new: privacy.NewRequest) -> int:
    with transaction(world.engine) as session:
        return privacy.file_request(
            session, who, new, policy=policy(world, tmp_path), now=RECEIVED
        ).id


def take(
    world: World, tmp_path: Path, who: Actor, request_id: int, action: str, **more: Any
) -> PrivacyRequest:
    at = more.pop("now", RECEIVED + timedelta(days=1))
    with transaction(world.engine) as session:
        return privacy.take(
            session, who, request_id, action, policy=policy(world, tmp_path), now=at, **more
        )


def borrower_request(
    world: World, kind: RequestKind, case_id: int | None = None
) -> privacy.NewRequest:
    customer = customer_of(world, case_id or world.assigned_case)
    return privacy.NewRequest(
        Subject.BORROWER, kind, ReceivedVia.PHONE, customer, details="想看我的资料"
    )


def test_lifecycle_deadline_overdue_and_audit(world: World, tmp_path: Path) -> None:
    auditor, manager = actor(world.engine, "auditor"), actor(world.engine, "manager")
    new = borrower_request(world, RequestKind.ACCESS)
    with pytest.raises(Forbidden):  # the managers who run collection do not handle them
        file(world, tmp_path, manager, new)
    request_id = file(world, tmp_path, auditor, new)
    with transaction(world.engine) as session:
        request = session.get_one(PrivacyRequest, request_id)
        assert (request.state, request.received_on, request.due_on) == (
            "received",
            date(2026, 3, 2),
            date(2026, 3, 17),  # 15 days, the default policy setting
        )
        assert request.details and "想看" not in request.details  # stored encrypted
        due = [
            privacy.listing(session, auditor, day) for day in (date(2026, 3, 17), date(2026, 3, 18))
        ]
        assert [(r.overdue, r.days_left) for rows in due for r in rows] == [(False, 0), (True, -1)]
    with pytest.raises(IllegalTransition):  # nothing is done before the person is verified
        take(world, tmp_path, auditor, request_id, "complete")
    take(world, tmp_path, auditor, request_id, "verify", identified_by="callback", text="回拨核实")
    take(world, tmp_path, auditor, request_id, "start")
    with pytest.raises(InvalidValue, match="export"):  # the copy comes first
        take(world, tmp_path, auditor, request_id, "complete")
    with transaction(world.engine) as session:
        privacy.export(
            session,
            auditor,
            request_id,
            cipher=cast(Cipher, world.cipher),
            store=None,
            now=RECEIVED,
        )
    done = take(world, tmp_path, auditor, request_id, "complete")
    assert done.state == "done" and done.closed_at is not None
    with transaction(world.engine) as session:
        assert privacy.listing(session, auditor, date(2026, 4, 1)) == []  # closed: off the list
    assert actions_of(world, request_id) == [
        "privacy.file",
        "privacy.verify",
        "privacy.start",
        "privacy.export",
        "privacy.complete",
    ]


def test_a_correction_says_what_was_done_and_a_refusal_why(world: World, tmp_path: Path) -> None:
    auditor = actor(world.engine, "auditor")
    fix = file(world, tmp_path, auditor, borrower_request(world, RequestKind.CORRECT))
    take(world, tmp_path, auditor, fix, "verify", identified_by="id_document")
    with pytest.raises(InvalidValue, match="at least 4"):
        take(world, tmp_path, auditor, fix, "complete", text="ok")
    done = take(world, tmp_path, auditor, fix, "complete", text="新地址已转交放款机构更正")
    assert done.outcome == "新地址已转交放款机构更正"
    consent = file(world, tmp_path, auditor, borrower_request(world, RequestKind.WITHDRAW_CONSENT))
    take(world, tmp_path, auditor, consent, "verify", identified_by="written")
    with pytest.raises(InvalidValue, match="outcome"):  # the contract basis stays: say what
        take(world, tmp_path, auditor, consent, "complete")
    no = file(world, tmp_path, auditor, borrower_request(world, RequestKind.ACCESS))
    refused = take(world, tmp_path, auditor, no, "refuse", text="无法核实申请人身份")
    assert (refused.state, refused.refusal) == ("refused", "无法核实申请人身份")
    assert actions_of(world, no) == ["privacy.file", "privacy.refuse"]


def test_an_open_loan_refuses_a_borrowers_deletion_with_the_reason(
    world: World, tmp_path: Path
) -> None:
    auditor = actor(world.engine, "auditor")
    customer = customer_of(world, world.assigned_case)
    request_id = file(world, tmp_path, auditor, borrower_request(world, RequestKind.DELETE))
    take(world, tmp_path, auditor, request_id, "verify", identified_by="id_document")
    refused = take(world, tmp_path, auditor, request_id, "complete")
    assert refused.state == "refused" and refused.hold_lapses_on is None
    assert refused.holds and refused.holds[0]["kind"] == "loan_open"
    assert refused.refusal and "L0001" in refused.refusal and "case" in refused.refusal
    with transaction(world.engine) as session:
        kept = session.get_one(Customer, customer)
        assert kept.id_number and not kept.name.endswith("*")  # nothing was erased
    assert actions_of(world, request_id)[-1] == "privacy.refuse"


def test_repaid_but_recent_collection_records_defer_the_deletion(
    world: World, tmp_path: Path
) -> None:
    auditor = actor(world.engine, "auditor")
    customer = customer_of(world, world.other_case)
    repaid_and_over(world, customer, over_for=timedelta(days=30))
    request_id = file(
        world, tmp_path, auditor, borrower_request(world, RequestKind.DELETE, world.other_case)
    )
    take(world, tmp_path, auditor, request_id, "verify", identified_by="id_document")
    deferred = take(world, tmp_path, auditor, request_id, "complete")
    assert deferred.state == "deferred" and deferred.holds
    assert [h["kind"] for h in deferred.holds] == ["retention_duty"]
    lapses = deferred.hold_lapses_on  # five years (CN-RETENTION) after the case closed
    closed = datetime.now(UTC) - timedelta(days=30)
    assert lapses is not None
    assert abs((lapses - (closed + timedelta(days=round(365.25 * 5))).date()).days) <= 1
    with pytest.raises(InvalidValue, match="until"):  # not before the hold lapses
        take(world, tmp_path, auditor, request_id, "resume")
    with transaction(world.engine) as session:
        rows = privacy.listing(session, auditor, lapses)
        assert [r.hold_lapsed for r in rows if r.request.id == request_id] == [True]


def test_a_borrowers_deletion_erases_their_data_and_evidence_files(
    world: World, tmp_path: Path
) -> None:
    auditor = actor(world.engine, "auditor")
    case_id = world.other_case
    store = LocalEvidenceStore(tmp_path / "evidence")
    digest = add_visit_with_photo(world, case_id, store, PHOTO)
    cached = tmp_path / "dossiers" / "2026-03-03" / f"{case_id}-u1-abc.pdf"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"%PDF")
    customer = customer_of(world, case_id)
    repaid_and_over(world, customer, over_for=timedelta(days=6 * 366))
    request_id = file(
        world, tmp_path, auditor, borrower_request(world, RequestKind.DELETE, case_id)
    )
    take(world, tmp_path, auditor, request_id, "verify", identified_by="id_document")
    done = take(
        world, tmp_path, auditor, request_id, "complete", now=RECEIVED + timedelta(hours=20)
    )
    assert done.state == "done" and done.outcome and "evidence_files 1" in done.outcome
    assert not store.exists(digest) and not cached.exists()
    with transaction(world.engine) as session:
        gone = session.get_one(Customer, customer)
        assert gone.id_number == "" and gone.name.endswith("*")
        assert session.scalars(select(Evidence)).all() == []
        assert session.scalars(select(BorrowerMessage)).all() == []


@pytest.mark.parametrize("kind", [RequestKind.DELETE, RequestKind.WITHDRAW_CONSENT])
def test_a_third_partys_deletion_removes_the_number_and_stops_contact(
    world: World, tmp_path: Path, kind: RequestKind
) -> None:
    """A contact's withdrawal of consent ends the only basis for holding their number
    (Art. 47(3)): it is erased as a deletion is."""
    auditor, verifier = actor(world.engine, "auditor"), actor(world.engine, "verifier")
    customer = customer_of(world, world.assigned_case)
    point_id = add_relative(world, customer)
    new = privacy.NewRequest(
        Subject.THIRD_PARTY,
        kind,
        ReceivedVia.PHONE,
        phone="139-0000 1111",
        name=RELATIVE_NAME,
        details="不要再打给我",
    )
    request_id = file(world, tmp_path, auditor, new)
    take(world, tmp_path, auditor, request_id, "verify", identified_by="callback")
    hasher = cast(KeyedHasher, world.hasher)
    key = f"{customer}/phone/emergency/{hasher.digest(RELATIVE_PHONE)}/application"
    change_log(world, [("contact_points", key), ("customers", customer)])
    done = take(world, tmp_path, auditor, request_id, "complete")
    assert done.state == "done" and done.outcome == "contact_points 1, changes 1"
    with transaction(world.engine) as session:
        point = session.get_one(ContactPoint, point_id)
        assert (point.value, point.value_masked, point.status) == ("", "***", "invalid")
        assert RELATIVE_NAME not in json.dumps(point.extra, ensure_ascii=False)
        request = session.get_one(PrivacyRequest, request_id)
        assert request.phone is None and request.name is None  # only the masked form is kept
        assert request.phone_masked == "139****1111"
        suppressed = session.scalars(select(ContactSuppression.value_hash)).all()
        assert suppressed == [hasher.digest(RELATIVE_PHONE)]
        changed = session.scalars(select(IngestChange.entity_key)).all()
        assert changed == [customer]  # the contact's change-log row went, the borrower's stays
    # the lender sends the same number again: a new point, never contacted either
    again = add_relative(world, customer)
    for target in (point_id, again):
        with pytest.raises(ContactErased), transaction(world.engine) as session:
            contacts.attempt(
                session,
                verifier,
                world.assigned_case,
                target,
                AttemptChannel.THIRD_PARTY,
                AttemptResult.NO_ANSWER,
                at=datetime(2026, 3, 4, 10, tzinfo=SH),
                pack=load("cn"),
            )
    # key rotation passes over the erased value and re-encrypts the request's texts (a
    # versioned row) and the change-log row kept
    with transaction(world.engine) as session:
        rotated = personal_data.rotate_all(session, cast(Cipher, world.cipher))
    # customers, their points, the addresses' positions, the re-sent point, the details,
    # the borrower's change-log row (before, after)
    assert rotated == 8 + 16 + 8 + 1 + 1 + 2


def test_a_legal_matter_keeps_a_third_partys_number(world: World, tmp_path: Path) -> None:
    auditor = actor(world.engine, "auditor")
    customer = customer_of(world, world.assigned_case)
    point_id = add_relative(world, customer)
    with transaction(world.engine) as session:
        session.add(CaseHold(case_id=world.assigned_case, type="dispute", started_by="admin"))
    new = privacy.NewRequest(
        Subject.THIRD_PARTY, RequestKind.DELETE, ReceivedVia.LETTER, phone=RELATIVE_PHONE
    )
    request_id = file(world, tmp_path, auditor, new)
    take(world, tmp_path, auditor, request_id, "verify", identified_by="written")
    refused = take(world, tmp_path, auditor, request_id, "complete")
    assert refused.state == "refused" and refused.holds
    assert [h["kind"] for h in refused.holds] == ["litigation"]
    assert refused.refusal == f"case {world.assigned_case}: dispute hold"
    with transaction(world.engine) as session:
        assert session.get_one(ContactPoint, point_id).value  # still there


def unzip(document: bytes) -> tuple[dict[str, Any], list[str]]:
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        return json.loads(archive.read("data.json")), archive.namelist()


def still_sealed(document: Any, cipher: Cipher) -> list[str]:
    """Every string in the document that the cipher opens: a value handed over sealed."""
    if isinstance(document, dict):
        return [s for value in document.values() for s in still_sealed(value, cipher)]
    if isinstance(document, list):
        return [s for value in document for s in still_sealed(value, cipher)]
    if isinstance(document, str):
        try:
            cipher.decrypt(document)
        except (KeyMaterialError, ValueError):
            return []
        return [document]
    return []


def test_an_access_request_gets_the_persons_data_in_clear(world: World, tmp_path: Path) -> None:
    auditor = actor(world.engine, "auditor")
    case_id = world.assigned_case
    customer = customer_of(world, case_id)
    store = LocalEvidenceStore(tmp_path / "evidence")
    digest = add_visit_with_photo(world, case_id, store, PHOTO)
    add_relative(world, customer)
    n = int(customer[1:]) - 1
    mine = file(world, tmp_path, auditor, borrower_request(world, RequestKind.ACCESS))
    take(world, tmp_path, auditor, mine, "verify", identified_by="id_document")
    with transaction(world.engine) as session:
        name, document = privacy.export(
            session, auditor, mine, cipher=cast(Cipher, world.cipher), store=store, now=RECEIVED
        )
    data, names = unzip(document)
    assert name == f"privacy-request-{mine}.zip"
    assert data["customers"][0]["id_number"] == world.id_numbers[n]
    values = {p["value"] for p in data["contact_points"]}
    assert {world.phones[n], world.addresses[n], RELATIVE_PHONE} <= values
    assert [loan["loan_id"] for loan in data["loans"]] == [f"L{n + 1:04d}"]
    # the sealed columns come out opened: documents as JSON, positions as numbers
    assert data["visits"][0]["interview"] == INTERVIEW
    assert data["visits"][0]["position"] == {"lat": POSITION[0], "lng": POSITION[1]}
    assert data["borrower_messages"][0]["statement"] == STATEMENT
    home = [p["position"] for p in data["contact_points"] if p["channel"] == "address"]
    assert home == [{"lat": 39.9, "lng": 116.44}]  # as the lender's file gave it
    assert still_sealed(data, cast(Cipher, world.cipher)) == []
    assert f"evidence/{digest}.jpg" in names and "README.txt" in names
    assert not any(key.endswith("_hash") for row in data["customers"] for key in row)
    # a third party gets their own number and the calls to it, nothing of the borrower
    theirs = file(
        world,
        tmp_path,
        auditor,
        privacy.NewRequest(
            Subject.THIRD_PARTY, RequestKind.ACCESS, ReceivedVia.PHONE, phone=RELATIVE_PHONE
        ),
    )
    take(world, tmp_path, auditor, theirs, "verify", identified_by="callback")
    with transaction(world.engine) as session:
        _, document = privacy.export(
            session, auditor, theirs, cipher=cast(Cipher, world.cipher), store=store, now=RECEIVED
        )
    data, names = unzip(document)
    assert [p["value"] for p in data["contact_points"]] == [RELATIVE_PHONE]
    assert data["contact_points"][0]["extra"] == {"contact_name": RELATIVE_NAME}
    text = json.dumps(data, ensure_ascii=False)
    assert customer not in text and world.id_numbers[n] not in text and "L0" not in text
    assert not any(n.startswith("evidence/") for n in names)
    assert actions_of(world, theirs)[-1] == "privacy.export"
