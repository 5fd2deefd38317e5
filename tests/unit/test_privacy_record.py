"""The processing record in docs/privacy.md is the one the code generates (with the
default settings), and a table nobody classified stops the record."""

from __future__ import annotations

from pathlib import Path

import pytest

from doorstep.config import Settings
from doorstep.domain.rules import load
from doorstep.services.conduct import privacy_record

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"


def default_record() -> str:
    years = Settings.model_fields["retention_personal_data_years"].default
    return privacy_record.render(load("cn"), years)


def test_the_checked_in_record_is_the_generated_one() -> None:
    held = privacy_record.section_of(DOC.read_text(encoding="utf-8"))
    assert held == default_record(), (
        "docs/privacy.md is stale: run `doorstep privacy record --write docs/privacy.md`"
    )


def test_every_table_is_in_the_record_or_declared_free_of_personal_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert privacy_record.unclassified() == []
    smaller = {t: why for t, why in privacy_record.NOT_PERSONAL.items() if t != "learn_reads"}
    monkeypatch.setattr(privacy_record, "NOT_PERSONAL", smaller)
    with pytest.raises(ValueError, match="learn_reads"):
        default_record()


def test_the_record_reads_encryption_and_readers_from_the_code() -> None:
    record = default_record()
    assert "`customers`: customer_id, name, id_number (encrypted)" in record
    assert "phone (encrypted)" in record and "details (encrypted)" in record
    row = next(line for line in record.splitlines() if line.startswith("| Privacy requests"))
    assert row.rstrip(" |").endswith("admin, auditor; the borrower, their own, in the portal")
    text = DOC.read_text(encoding="utf-8")
    assert privacy_record.replace_in(text, record) == text
