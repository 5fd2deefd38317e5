"""The pure rules of privacy requests: the steps a request may take, its deadline and
when it is overdue, the legal holds on a deletion, and how a phone is read."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from doorstep.domain.errors import IllegalTransition, InvalidValue
from doorstep.domain.privacy import (
    DeletionFacts,
    HoldKind,
    Subject,
    deletion_holds,
    due_on,
    held_until,
    overdue,
    step,
)
from doorstep.services.conduct.privacy_requests import normal_phone, policy_of

TODAY = date(2026, 3, 2)


def test_steps_follow_the_table() -> None:
    assert step("received", "verify") == "verified"
    assert step("verified", "complete") == "done"
    assert step("received", "refuse") == "refused"
    assert step("deferred", "resume") == "in_progress"
    for state, action in (("received", "complete"), ("done", "refuse"), ("refused", "resume")):
        with pytest.raises(IllegalTransition):
            step(state, action)
    with pytest.raises(InvalidValue):
        step("received", "shred")


def test_deadline_and_overdue() -> None:
    due = due_on(TODAY, 15)
    assert due == date(2026, 3, 17)
    assert not overdue("in_progress", due, due) and overdue("in_progress", due, date(2026, 3, 18))
    assert not overdue("done", due, date(2027, 1, 1))  # answered: never overdue


def test_holds_on_a_deletion() -> None:
    borrower = DeletionFacts(
        Subject.BORROWER,
        open_loans=("L1",),
        disputes=(("case 3: dispute hold", None),),
        records_until=date(2031, 1, 1),
    )
    holds = deletion_holds(borrower, TODAY)
    assert [h.kind for h in holds] == [
        HoldKind.LOAN_OPEN,
        HoldKind.LITIGATION,
        HoldKind.RETENTION_DUTY,
    ]
    assert held_until(holds) is None  # the loan has no known end: refused, not deferred
    records_only = DeletionFacts(Subject.BORROWER, records_until=date(2031, 1, 1))
    assert held_until(deletion_holds(records_only, TODAY)) == date(2031, 1, 1)
    past = DeletionFacts(Subject.BORROWER, records_until=date(2020, 1, 1))
    assert deletion_holds(past, TODAY) == []
    # a third party is no party to the loan: only a legal matter keeps their number
    third = DeletionFacts(Subject.THIRD_PARTY, open_loans=("L1",), records_until=date(2031, 1, 1))
    assert deletion_holds(third, TODAY) == []


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("139 0000-1111", "13900001111"),
        ("１３９００００１１１１", "13900001111"),
        ("+8613900001111", "+8613900001111"),
    ],
)
def test_a_phone_is_read_as_the_files_hold_it(given: str, read: str) -> None:
    assert normal_phone(given) == read


@pytest.mark.parametrize("bad", ["+", "12345", "1390000111a", "一三九〇〇〇〇一一一一", "1" * 21])
def test_not_a_phone(bad: str) -> None:
    with pytest.raises(InvalidValue):
        normal_phone(bad)


def test_the_policy_erases_where_the_files_are(tmp_path: Path) -> None:
    from doorstep.config import Settings
    from doorstep.integrations.crypto import FernetCipher, HmacHasher, new_data_key
    from doorstep.integrations.evidence import LocalEvidenceStore
    from doorstep.services.lender import dossier

    settings = Settings(var_dir=tmp_path)
    policy = policy_of(settings, FernetCipher([new_data_key()]), HmacHasher("k"))
    assert policy.stores.dossier_cache == dossier.cache_folder(tmp_path)
    assert isinstance(policy.stores.evidence, LocalEvidenceStore)
    assert policy.stores.evidence.root == tmp_path / "evidence"
    assert policy.days == 15
