"""The agreement of a chosen plan over a real database (SQLite and PostgreSQL): PDF in
zh_CN and en, confirmed with the sign-in's one-time code (which accepts the plan),
downloadable afterwards exactly as confirmed; a settlement's agreement shows its discount
and no rate; the borrower sees only their own; the migration downgrades cleanly."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from doorstep.domain.errors import IllegalTransition, NotFound, SignInRefused
from doorstep.integrations.sms import LogSender
from doorstep.services.repayment import agreements, offers
from doorstep.store.db import transaction
from doorstep.store.models import AuditEvent, Case, Installment, Loan, Offer, PortalSession
from tests.factories.people import actor
from tests.factories.world import AS_OF, World

pytestmark = pytest.mark.db
POLICY = offers.OfferPolicy()
NOW = datetime(2024, 6, 1, 4, 0, tzinfo=UTC)  # noon in Beijing on the world's as-of day
ZONE = ZoneInfo("Asia/Shanghai")
POPPLER = shutil.which("pdftotext")


def borrower(engine: Engine, world: World, case_id: int) -> tuple[str, str, str]:
    """(customer id, loan id, mobile) of the case's borrower."""
    with transaction(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        loan = session.scalars(select(Loan).where(Loan.customer_id == case.customer_id)).one()
        return case.customer_id, loan.loan_id, world.phones[int(case.customer_id[1:]) - 1]


def offer_of(engine: Engine, case_id: int, loan_id: str, kind: str) -> tuple[int, str]:
    """An open offer of the first allowed option of `kind` (approved when it must be)."""
    manager, admin = actor(engine, "manager"), actor(engine, "admin")
    with transaction(engine) as session:
        _, options = offers.preview(session, manager, case_id, loan_id, AS_OF, POLICY)
        key = next(o.key for o in options if o.terms.kind.value == kind and not o.refused)
        offer = offers.make_offer(
            session, manager, case_id, loan_id, AS_OF, POLICY, keys=[key], now=NOW
        )
        if offer.needs_approval:
            offers.approve(session, admin, offer.id, now=NOW)
        return offer.id, key


def text_of(document: bytes, tmp_path: Path) -> str:
    if not POPPLER:
        pytest.skip("!!! poppler-utils (pdftotext) missing: the agreement text is NOT checked")
    path = tmp_path / "agreement.pdf"
    path.write_bytes(document)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return re.sub(r"\s+", "", out.stdout)  # CJK lines break anywhere


def prepare(engine: Engine, customer_id: str, offer_id: int, key: str) -> int:
    with transaction(engine) as session:
        return agreements.prepare(
            session, customer_id, offer_id, key, now=NOW, zone=ZONE, grace_days=10
        ).id


def test_an_agreement_is_confirmed_with_a_code_and_downloaded_as_confirmed(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    customer_id, loan_id, mobile = borrower(engine, world, world.assigned_case)
    other_customer, _, _ = borrower(engine, world, world.other_case)
    offer_id, key = offer_of(engine, world.assigned_case, loan_id, "reschedule")
    agreement_id = prepare(engine, customer_id, offer_id, key)
    assert prepare(engine, customer_id, offer_id, key) == agreement_id  # rendered once
    hasher: Any = world.hasher
    sender = LogSender(keep=5)
    with transaction(engine) as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None and offer.state == "offered"  # nothing accepted yet
        zh = agreements.document(session, customer_id, agreement_id, "zh_CN")
        en = agreements.document(session, customer_id, agreement_id, "en")
        assert zh.startswith(b"%PDF") and en.startswith(b"%PDF")
        with pytest.raises(NotFound):  # another borrower's agreement does not exist for them
            agreements.document(session, other_customer, agreement_id, "en")
        agreements.send_code(
            session, sender, hasher, customer_id, agreement_id, mobile, "1.2.3.4", NOW
        )
    code = re.search(r"(\d{6})", sender.recent()[0].text)
    assert code is not None
    wrong = f"{(int(code.group(1)) + 1) % 10**6:06d}"
    with transaction(engine) as session, pytest.raises(SignInRefused, match="4 tries left"):
        agreements.confirm(session, hasher, customer_id, agreement_id, wrong, now=NOW, today=AS_OF)
    with transaction(engine) as session:
        agreements.confirm(
            session, hasher, customer_id, agreement_id, code.group(1), now=NOW, today=AS_OF
        )
    with transaction(engine) as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None and offer.state == "active" and offer.accepted_key == key
        assert session.scalar(select(Installment).where(Installment.loan_id == loan_id))
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "agreement.confirm")
        ).one()
        assert event.actor == f"borrower:{customer_id}"
        assert event.summary["sha256_zh"] == hashlib.sha256(zh).hexdigest()
        assert event.summary["sha256_en"] == hashlib.sha256(en).hexdigest()
        # the code's own session was closed at once: only the borrower's own sessions live
        assert all(s.ended_at for s in session.scalars(select(PortalSession)))
        assert agreements.document(session, customer_id, agreement_id, "zh_CN") == zh
        with pytest.raises(IllegalTransition):  # confirmed once
            agreements.confirm(
                session, hasher, customer_id, agreement_id, code.group(1), now=NOW, today=AS_OF
            )
    chinese, english = text_of(zh, tmp_path), text_of(en, tmp_path)
    for phrase in ("还款方案协议", "年化利率", "实际年利率", "不计利息", loan_id):
        assert phrase in chinese, phrase
    for phrase in ("Repaymentplanagreement", "Annualisedrate", "Effectiveannualrate"):
        assert phrase in english, phrase


def test_a_settlement_agreement_shows_its_discount_and_no_rate(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    customer_id, loan_id, _ = borrower(engine, world, world.assigned_case)
    offer_id, key = offer_of(engine, world.assigned_case, loan_id, "settle")
    agreement_id = prepare(engine, customer_id, offer_id, key)
    with transaction(engine) as session:
        found = agreements.view(session, customer_id, agreement_id)
        paid, owed = found.option["total_to_pay"], found.option["debt_total"]
        assert found.option["annualised_rate"] is None and paid < owed
        zh = agreements.document(session, customer_id, agreement_id, "zh_CN")
        en = agreements.document(session, customer_id, agreement_id, "en")
    discount = f"{(owed - paid) // 100}.{(owed - paid) % 100:02d}"
    chinese, english = text_of(zh, tmp_path), text_of(en, tmp_path)
    assert f"减免{discount}元" in chinese and "年化利率" not in chinese
    assert f"discountof{discount}yuan" in english and "Annualised" not in english
    assert "%" not in chinese + english  # no rate, not even a negative one


def test_the_migration_downgrades_cleanly(engine: Engine) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from doorstep.store import migrate

    config = migrate.alembic_config(engine)
    parent = ScriptDirectory.from_config(config).get_revision("0022_restructuring").down_revision
    assert isinstance(parent, str)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, parent)
    assert "plan_agreements" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert "plan_agreements" in inspect(engine).get_table_names()
