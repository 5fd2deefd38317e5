"""The dossier PDF of a case: Chinese text that extracts (pdftotext) and renders to a
non-blank page (pdftoppm); the case page's access rules; masked personal data."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from doorstep.store.db import transaction
from doorstep.store.models import Assignment, AuditEvent, Customer
from tests.factories.people import bearer
from tests.factories.world import World

pytestmark = pytest.mark.db
POPPLER = shutil.which("pdftotext") and shutil.which("pdftoppm")


def test_dossier_renders_chinese(
    client: TestClient, world: World, engine: Engine, tmp_path: Path
) -> None:
    response = client.get(
        f"/cases/{world.assigned_case}/dossier.pdf", headers=bearer(engine, "verifier")
    )
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"%PDF")
    with transaction(engine) as session:
        assert session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "case.dossier")
        ).all() == ["verifier"]
        customers = session.scalars(select(Customer)).all()
    if not POPPLER:
        pytest.skip(
            "!!! poppler-utils (pdftotext, pdftoppm) missing: the dossier render is NOT checked"
        )
    path = tmp_path / "dossier.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    for phrase in (
        "案件资料",
        "借款人",
        "借款与逾期",
        "还款记录",
        "联系方式",
        "须告知借款人的权利",
        "可提供的还款方案",
    ):
        assert phrase in text, phrase
    assert any(c.name in text for c in customers)
    # the option menu comes from the plan calculator, with its IRR annualised rates
    import re

    rates = re.findall(r"(\d+\.\d\d)%", text)
    from doorstep.services.lender.dossier import OPTION_ZH

    named = [name for name in OPTION_ZH.values() if name in text.replace(" ", "")]
    assert rates and named, "no computed repayment option in the dossier"
    # personal data masked: no full national ID or phone number in the document
    for id_number in world.id_numbers:
        assert id_number not in text
    for phone in world.phones:
        assert phone not in text
    for fmt in ("-png", "-gray"):  # a PNG for people to look at, a PGM to measure
        subprocess.run(
            ["pdftoppm", "-r", "60", "-f", "1", "-l", "1", fmt, str(path), str(tmp_path / "page")],
            check=True,
        )
    assert next(tmp_path.glob("page*.png")).stat().st_size > 5000
    dark = _dark_fraction(next(tmp_path.glob("page*.pgm")))
    assert 0.005 < dark < 0.3, dark  # text drawn, not a blank or a black page


def _dark_fraction(pgm: Path) -> float:
    """The share of dark pixels in a binary (P5, 8-bit) PGM."""
    data = pgm.read_bytes()
    fields: list[bytes] = []
    offset = 0
    while len(fields) < 4:  # magic, width, height, maxval
        while data[offset : offset + 1].isspace():
            offset += 1
        end = offset
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[offset:end])
        offset = end
    assert fields[0] == b"P5" and fields[3] == b"255"
    pixels = data[offset + 1 :]
    width, height = int(fields[1]), int(fields[2])
    assert len(pixels) == width * height
    return sum(1 for v in pixels if v < 128) / len(pixels)


def test_dossier_follows_the_case_page_rules(
    client: TestClient, world: World, engine: Engine
) -> None:
    verifier = bearer(engine, "verifier")
    assert client.get(f"/cases/{world.other_case}/dossier.pdf", headers=verifier).status_code == 404
    manager = bearer(engine, "manager")
    assert (
        client.get(f"/cases/{world.shanghai_case}/dossier.pdf", headers=manager).status_code == 404
    )
    assert client.get(f"/cases/{world.other_case}/dossier.pdf", headers=manager).status_code == 200
    with transaction(engine) as session:  # the assignment ends: the verifier loses the case
        session.execute(update(Assignment).values(ends_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert (
        client.get(f"/cases/{world.assigned_case}/dossier.pdf", headers=verifier).status_code == 404
    )
    assert client.get(f"/cases/{world.assigned_case}/dossier.pdf").status_code in (401, 303)


def test_dossier_options_show_settlements_as_discounts_and_plans_with_both_rates(
    world: World, engine: Engine
) -> None:
    """A settlement's row is its discount in yuan, never a (negative) rate; an instalment
    plan's row is its annualised rate with the effective one beside it."""
    import re

    from doorstep.services.cases.view import case_facts
    from doorstep.services.lender.dossier import OPTION_ZH
    from doorstep.services.lender.dossier_blocks import repayment_options
    from tests.factories.book import TEST_CIPHER
    from tests.factories.people import actor
    from tests.factories.world import AS_OF

    admin = actor(engine, "admin")
    with transaction(engine) as session:
        facts = case_facts(session, admin, world.assigned_case, datetime.now(UTC), TEST_CIPHER)
        rows = repayment_options(session, facts, AS_OF)
    settle = OPTION_ZH[next(k for k in OPTION_ZH if k.value == "settle")]
    settlements = [r for r in rows if r[1] == settle]
    plans = [r for r in rows if r[1] != settle]
    assert settlements and plans
    assert all(re.fullmatch(r"减免 \d+\.\d\d 元", r[-1]) for r in settlements)
    assert all(re.fullmatch(r"\d+\.\d\d%（实际 \d+\.\d\d%）", r[-1]) for r in plans)
