"""A lived-in world for the dump test: the small world after a second delivery (precise
positions, a changed name), a contact with a note, a visit with its interview, a photo,
an SOS and a check-out, a hardship report and a complaint, a printed dossier and the
analysts' exports, all through the services as the app calls them. `lived_in` returns
what a copy of the database and of var/ must not show in clear."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from doorstep.domain.contact import AttemptChannel, AttemptResult
from doorstep.domain.rules import load
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services import visits
from doorstep.services.cases import contacts
from doorstep.services.lender import dossier
from doorstep.services.lender.exports import export_table
from doorstep.services.repayment import portal
from doorstep.services.visits import alerts
from doorstep.store.db import transaction
from doorstep.store.models import Case, ContactPoint
from tests.factories.book import in_shanghai, load_book, small_book
from tests.factories.people import actor_in
from tests.factories.world import World

NOTE = "借款人母亲说他住院了，下周再打"
INTERVIEW = {
    "statement": "在工厂受伤后一直没有工作，妻子在照顾三个孩子",
    "observations": "家中有轮椅和大量药品，邻居说他欠了很多钱",
    "employment": "待业，以前在纺织厂做机修",
}
HARDSHIP = "我因为化疗失去了工作，没有收入"
COMPLAINT = "上门人员在邻居面前大声说我欠钱"


@dataclass
class Secrets:
    """What must never be read in clear from a copy: texts and precise positions."""

    texts: list[str] = field(default_factory=list)
    positions: list[float] = field(default_factory=list)

    def forms(self) -> list[tuple[str, bytes]]:
        """Each secret as the bytes it would leave in a file: UTF-8 text; a position also
        as its decimal text and as an 8-byte double (SQLite keeps REALs big-endian)."""
        out = [(text, text.encode("utf-8")) for text in self.texts]
        for value in self.positions:
            out += [
                (repr(value), repr(value).encode()),
                (f"{value} (double)", struct.pack(">d", value)),
                (f"{value} (double, little-endian)", struct.pack("<d", value)),
            ]
        return out


def precise(n: int) -> tuple[float, float]:
    """The n-th address's position, to the metre and distinctive enough to search for."""
    return 39.9 + n * 0.001 + 0.0000137, 116.44 + n * 0.001 + 0.0000291


def lived_in(world: World, tmp_path: Path, var_dir: Path) -> Secrets:
    secrets = Secrets(texts=[*world.id_numbers, *world.phones, *world.addresses])
    secrets.positions += _second_delivery(world, tmp_path)
    secrets.texts.append(NOTE)
    _contact_with_a_note(world)
    secrets.positions += _visit(world, var_dir)
    secrets.texts += [*INTERVIEW.values(), HARDSHIP, COMPLAINT]
    _borrower_speaks(world)
    _print_and_export(world, var_dir)
    return secrets


def _second_delivery(world: World, tmp_path: Path) -> list[float]:
    """The lender's next files: every address with a precise position, a new name."""
    book = in_shanghai(small_book(len(world.id_numbers)))
    for n, row in enumerate(book.rows["addresses"]):
        row["lat"], row["lng"] = (repr(v) for v in precise(n))
    book.rows["customers"][0]["name"] = "改名后的客户"
    load_book(world.engine, book.write(tmp_path / "delivery-2"), _keys(world), tmp_path / "r2")
    return [v for n in range(len(book.rows["addresses"])) for v in precise(n)]


def _keys(world: World) -> tuple[object, object]:
    return world.cipher, world.hasher


def _case_point(world: World, channel: str) -> ContactPoint:
    with transaction(world.engine) as session:
        case = session.get_one(Case, world.assigned_case)
        return session.scalars(
            select(ContactPoint).where(
                ContactPoint.customer_id == case.customer_id, ContactPoint.channel == channel
            )
        ).one()


def _contact_with_a_note(world: World) -> None:
    point = _case_point(world, "phone")
    noon = datetime.now(UTC).replace(hour=3, minute=0)  # 11:00 in Shanghai
    with transaction(world.engine) as session:
        contacts.record_attempt(
            session,
            actor_in(session, "manager"),
            world.assigned_case,
            point.id,
            AttemptChannel.CALL,
            AttemptResult.NO_ANSWER,
            NOTE,
            at=noon,
            pack=load("cn"),
            cipher=world.cipher,  # type: ignore[arg-type]
        )


def _visit(world: World, var_dir: Path) -> list[float]:
    """Check-in beside the address, the interview with a geotagged photo, an SOS, and the
    check-out: returns the positions sent."""
    from tests.integration.test_visits import answers, jpeg, rules

    n = int(_case_point(world, "address").customer_id.removeprefix("C")) - 1
    home = precise(n)
    door = (home[0] + 0.0001, home[1] + 0.0001)
    sos, out, photo = (home[0] + 0.0002, home[1]), (home[0], home[1] + 0.0002), (home[0], door[1])
    store = LocalEvidenceStore(var_dir / "evidence")
    at = datetime.now(UTC)
    with transaction(world.engine) as session:
        verifier = actor_in(session, "verifier")
        visit, _ = visits.check_in(
            session, verifier, world.assigned_case, lat=door[0], lng=door[1], accuracy_m=10.0,
            device_time=at, rules=rules(cipher=world.cipher), now=at,
        )  # fmt: skip
        alerts.sos(session, verifier, visit.id, lat=sos[0], lng=sos[1], now=at,
                   cipher=world.cipher)  # type: ignore[arg-type]  # fmt: skip
        visits.check_out(session, verifier, visit.id, lat=out[0], lng=out[1], device_time=None,
                         now=at + timedelta(minutes=20), cipher=world.cipher)  # type: ignore[arg-type]  # fmt: skip
        upload = visits.Upload("door.jpg", jpeg(gps=photo))
        visits.submit(
            session, verifier, visit.id, "dump-visit-1", answers(**INTERVIEW), [upload],
            store=store, rules=rules(cipher=world.cipher), now=at + timedelta(minutes=25),
        )  # fmt: skip
    return [*door, *sos, *out]


def _borrower_speaks(world: World) -> None:
    with transaction(world.engine) as session:
        customer = session.get_one(Case, world.assigned_case).customer_id
        now = datetime.now(UTC)
        portal.report_hardship(
            session, customer, "medical", HARDSHIP, now.date(), 14, now=now,
            cipher=world.cipher,  # type: ignore[arg-type]
        )  # fmt: skip
        portal.complain(session, customer, COMPLAINT, now=now, cipher=world.cipher)  # type: ignore[arg-type]


def _print_and_export(world: World, var_dir: Path) -> None:
    """The manager prints the dossier (kept in the day's cache); an analyst exports."""
    with transaction(world.engine) as session:
        dossier.dossier_pdf(
            session, actor_in(session, "manager"), world.assigned_case,
            zone=visits_zone(), now=datetime.now(UTC), cipher=world.cipher,  # type: ignore[arg-type]
            cache_dir=dossier.cache_folder(var_dir),
        )  # fmt: skip
    with transaction(world.engine) as session:  # as the export command: its own reading
        for table in ("customers", "contact_attempts", "visits", "verdicts"):
            export_table(session, table, var_dir / "exports" / f"{table}.csv", file_format="csv")


def visits_zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")
