"""The simulated interview: answers follow the customer's hidden cause, the visit form
accepts every one of them, and the same seed gives the same answers."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from doorstep.demo.generate import generate_book
from doorstep.demo.simulate import _Borrower, draw, interview, read_truth
from doorstep.services.visits import parse_interview
from doorstep.store.models import Case

DAY = date(2026, 3, 2)


def answers_for(cause: str, n: int = 300, seed: int = 1) -> list[dict[str, str | list[str]]]:
    borrower = _Borrower(False, cause)
    return [
        interview(seed, borrower, Case(customer_id=f"C{i:08d}", overdue_amount=250_000), DAY)
        for i in range(n)
    ]


def test_the_answers_follow_the_hidden_cause_and_pass_the_form() -> None:
    for cause, leaning in (("job_loss", "hardship"), ("willful_evasion", "evasion")):
        answers = answers_for(cause)
        met = Counter(str(a["met"]) for a in answers)
        assert met["borrower"] > 200 and met["nobody"] > 20  # unreachable sometimes
        assert any(a["address_status"] == "moved" for a in answers)  # moved sometimes
        reached = [a for a in answers if a["met"] == "borrower"]
        assert {a["leaning"] for a in reached} == {leaning}
        assert all(a["reasons"] == [cause] for a in reached)
        for a in answers:  # the real form's rules accept every simulated interview
            parsed = parse_interview(a, DAY)
            if parsed.outcome == "promise":
                assert parsed.promise_date is not None
                assert DAY < parsed.promise_date <= DAY + timedelta(days=14)
                assert 0 < (parsed.promise_amount or 0) <= 250_000
    promised = {
        cause: sum(a.get("outcome") == "promise" for a in answers_for(cause))
        for cause in ("job_loss", "willful_evasion")
    }
    assert promised["job_loss"] > promised["willful_evasion"] > 0


def test_the_same_seed_gives_the_same_draws() -> None:
    assert answers_for("medical", 50, seed=3) == answers_for("medical", 50, seed=3)
    assert answers_for("medical", 50, seed=3) != answers_for("medical", 50, seed=4)
    assert draw(5, "cure", "C1", DAY).random() == draw(5, "cure", "C1", DAY).random()
    assert draw(5, "cure", "C1", DAY).random() != draw(5, "cure", "C2", DAY).random()


def test_the_truth_file_tells_performing_customers_from_troubled_ones(tmp_path: Path) -> None:
    made = generate_book(tmp_path, customers=120, seed=2, as_of=DAY)
    truth = read_truth(made.files["demo_truth"])
    assert len(truth) == 120
    troubled = [b for b in truth.values() if not b.performing]
    assert troubled and all(b.cause for b in troubled)
    assert any(b.performing for b in truth.values())
