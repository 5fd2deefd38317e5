"""Pipelines end to end on tables, the visit_priority features from a tiny book, and the
expected-value selection."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import polars as pl
import pytest

from doorstep.domain.errors import ScoringInputError
from doorstep.domain.selection import (
    Candidate,
    SelectionPolicy,
    decide,
    expected_value,
    rank,
    value_terms,
)
from doorstep.scoring import behaviour, protected_attribute
from doorstep.scoring.challenger import ChallengerConfig
from doorstep.scoring.pipeline import TrainingConfig, prepare_table, read_table, train
from doorstep.scoring.registry import dump_model, fingerprint, load_model

FAST = TrainingConfig(folds=2, calibration_folds=2, reference_rows=500)


def table(n: int = 1200, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    late = rng.poisson(1.0, n)
    paid = rng.uniform(0, 1, n)
    city = rng.choice(["北京市", "上海市", "广州市", "深圳市"], n, p=[0.4, 0.3, 0.28, 0.02])
    logit = -1.0 + 0.9 * late - 1.5 * paid + 0.5 * (city == "上海市")
    return pd.DataFrame(
        {
            "customer": [f"C{i:05d}" for i in range(n)],
            "SEX": rng.integers(1, 3, n),
            "borrower_age": rng.integers(20, 65, n),
            "户籍所在地": rng.choice(["A", "B"], n),
            "months_late": late,
            "share_paid": paid,
            "city": city,
            "constant": 1,
            "noise": rng.normal(size=n),
            "bad": (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def test_prepare_table_leaves_out_protected_identifiers_and_constants() -> None:
    prepared = prepare_table(table(), "bad", exclude=["noise"])
    assert prepared.features.names == ["months_late", "share_paid", "city"]
    assert prepared.features.categorical == ["city"]
    assert set(prepared.excluded) == {
        "noise",
        "SEX",
        "borrower_age",
        "户籍所在地",
        "customer",
        "constant",
    }
    assert prepared.excluded["SEX"].startswith("protected")
    assert all(protected_attribute(n) is None for n in prepared.features.names)
    with pytest.raises(ScoringInputError):
        prepare_table(table(), "missing_target")
    broken = table()
    broken.loc[0, "bad"] = 2
    with pytest.raises(ScoringInputError):
        prepare_table(broken, "bad")


def test_read_table_reads_csv_and_parquet(tmp_path: Path) -> None:
    data = table(50)
    data.to_csv(tmp_path / "t.csv", index=False)
    data.to_parquet(tmp_path / "t.parquet")
    assert read_table(tmp_path / "t.csv").shape == read_table(tmp_path / "t.parquet").shape
    with pytest.raises(ScoringInputError):
        read_table(tmp_path / "t.xlsx")


@pytest.mark.parametrize("kind", ["scorecard", "challenger"])
def test_training_twice_gives_the_same_model_and_fingerprint(kind: str) -> None:
    prepared = prepare_table(table(), "bad")
    config = TrainingConfig(
        kind=kind,
        folds=2,
        calibration_folds=2,
        reference_rows=300,
        challenger=ChallengerConfig(n_estimators=60, min_child_samples=30),
    )
    first, metrics = train("test", prepared.frame, prepared.target, prepared.features, config)
    second, again = train(
        "test", prepared.frame.copy(), prepared.target.copy(), prepared.features, config
    )
    assert dump_model(first) == dump_model(second)  # byte for byte
    assert metrics["auc"] == again["auc"] > 0.7
    assert fingerprint(prepared.frame, prepared.target, prepared.features.names) == fingerprint(
        prepared.frame.copy(), list(prepared.target), list(reversed(prepared.features.names))
    )
    back = load_model(dump_model(first))
    frame = prepared.frame.iloc[:50]
    assert np.array_equal(back.probability(frame), first.probability(frame))
    points = first.points(frame)
    p = first.probability(frame)
    assert np.corrcoef(points, p)[0, 1] < -0.5  # higher points, safer
    reasons = first.reasons(frame)
    assert all(len(r) <= 3 for r in reasons) and any(reasons)
    assert set(metrics["importance"]) == set(prepared.features.names)
    assert len(metrics["calibration"]) == 10


def test_features_that_never_vary_are_left_out() -> None:
    prepared = prepare_table(table(), "bad")
    frame = prepared.frame.assign(empty=np.nan)
    features = prepared.features.of(*prepared.features, "empty")
    bundle, metrics = train("test", frame, prepared.target, features, FAST)
    assert metrics["unused"] == ["empty"]
    assert "empty" not in bundle.features.names


def test_visit_priority_features_have_no_protected_attribute() -> None:
    features = behaviour.visit_priority_features()
    assert len(features) >= 25
    for feature in features:
        assert protected_attribute(feature.name) is None
        assert feature.sources and all(protected_attribute(s) is None for s in feature.sources)
        assert feature.label_en and feature.label_zh


# --- features from a tiny book ---------------------------------------------------------------

AS_OF = date(2025, 6, 30)


def tiny_book() -> behaviour.BookFrames:
    """C1: a 6-month loan, installments due on the 10th from January; paid January on
    time, February 20 days late, nothing since. C2: paid everything on time."""
    dues = [date(2025, m, 10) for m in range(1, 7)]
    installments = pl.DataFrame(
        {
            "loan_id": ["L1"] * 6 + ["L2"] * 6,
            "due_on": dues * 2,
            "amount_due": [100_000] * 12,
        }
    )
    payments = pl.DataFrame(
        {
            "loan_id": ["L1", "L1"] + ["L2"] * 6,
            "paid_on": [date(2025, 1, 10), date(2025, 3, 2), *dues],
            "amount": [100_000, 100_000] + [100_000] * 6,
            "channel": ["auto_debit", "wechat"] + ["auto_debit"] * 6,
        }
    )
    loans = pl.DataFrame(
        {
            "loan_id": ["L1", "L2"],
            "customer_id": ["C1", "C2"],
            "principal": [550_000, 550_000],
            "annual_rate": [0.18, 0.12],
            "term_months": [6, 6],
            "disbursed_on": [date(2024, 12, 10)] * 2,
        }
    )
    seen = datetime(2025, 1, 1, tzinfo=UTC)
    contacts = pl.DataFrame(
        {
            "point_id": [1, 2, 3, 4],
            "customer_id": ["C1", "C1", "C1", "C2"],
            "channel": ["phone", "phone", "address", "address"],
            "kind": ["mobile", "mobile", "household", "residence"],
            "source": ["application"] * 4,
            "status": ["unverified", "invalid", "unverified", "confirmed"],
            "confidence": [0.6, 0.05, 0.6, 0.9],
            "observed_at": [seen, seen, seen, seen + timedelta(days=365)],  # C2's: later
        },
        schema_overrides={"observed_at": pl.Datetime("us", "UTC")},
    )
    empty_attempts = pl.DataFrame(
        schema={
            "customer_id": pl.Utf8,
            "channel": pl.Utf8,
            "result": pl.Utf8,
            "attempted_at": pl.Datetime("us", "UTC"),
        }
    )
    empty_promises = pl.DataFrame(
        schema={
            "customer_id": pl.Utf8,
            "status": pl.Utf8,
            "due_on": pl.Date,
            "judged_on": pl.Date,
        }
    )
    return behaviour.BookFrames(
        loans, installments, payments, contacts, empty_attempts, empty_promises
    )


def delinquency(dpd: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": list(dpd),
            "max_dpd": list(dpd.values()),
            "overdue": [400_000 if d else 0 for d in dpd.values()],
            "outstanding": [400_000 if d else 0 for d in dpd.values()],
            "loans_past_due": [1 if d else 0 for d in dpd.values()],
            "loans_open": [1 if d else 0 for d in dpd.values()],
        }
    )


def test_behaviour_features_of_a_tiny_book() -> None:
    book = tiny_book()
    days = behaviour.history_days(AS_OF)
    history = {
        days[0]: delinquency({"C1": 111, "C2": 0}),
        days[1]: delinquency({"C1": 81, "C2": 0}),
        days[2]: delinquency({"C1": 51, "C2": 0}),
        days[3]: delinquency({"C1": 21, "C2": 0}),
    }
    frame = behaviour.features(book, history, AS_OF, ["C2", "C1"])
    assert list(frame.index) == ["C2", "C1"]  # the order asked for
    assert list(frame.columns) == behaviour.visit_priority_features().names
    c1, c2 = frame.loc["C1"], frame.loc["C2"]
    assert c1["max_dpd"] == 111 and c1["dpd_30_days_ago"] == 81 and c1["dpd_change_30"] == 30
    assert c1["overdue_steps_90"] == 3 and c2["overdue_steps_90"] == 0
    assert c1["installments_paid_late"] == 1  # February, 20 days late
    assert c1["max_days_late_settled"] == 20
    assert c1["days_since_payment"] == (AS_OF - date(2025, 3, 2)).days
    assert c1["paid_90_ratio"] == 0  # due April-June, nothing paid
    assert c2["paid_90_ratio"] == 1
    assert c1["manual_payment_share"] == 0.5
    assert c1["phones_valid"] == 1 and c1["phones_invalid"] == 1
    assert c1["address_confidence"] == 0  # the household address never counts
    assert c2["address_confidence"] == 0  # seen after the as-of date: not yet known
    assert c1["annual_rate"] == pytest.approx(0.18)


def test_labels_are_whether_still_past_due_30_days_later() -> None:
    now = delinquency({"C1": 40, "C2": 0, "C3": 5})
    later = delinquency({"C1": 70, "C2": 0, "C3": 0})
    out = behaviour.labels(now, later)
    assert out.to_dicts() == [
        {"customer_id": "C1", "not_cured": 1},
        {"customer_id": "C3", "not_cured": 0},
    ]


# --- expected-value selection -----------------------------------------------------------


def candidate(**change: object) -> Candidate:
    base: dict[str, object] = {
        "customer_id": "C1",
        "max_dpd": 45,
        "worst_bucket": "M2",
        "overdue_amount": 1_000_000,  # 10,000 yuan
        "best_address_confidence": 0.8,
        "best_address_region": "北京市",
    }
    base.update(change)
    return Candidate(**base)  # type: ignore[arg-type]


def test_expected_value_is_exact_fen() -> None:
    # 0.9 x 10,000 yuan x 0.25 - 300 yuan = 1,950 yuan
    assert expected_value(9_000, 1_000_000, 2_500, 30_000) == 195_000
    assert expected_value(1, 1, 1, 0) == 0  # rounds half up from far below a fen
    assert value_terms(
        __import__("decimal").Decimal("0.25"), __import__("decimal").Decimal("300")
    ) == (2_500, 30_000)


def test_scored_candidates_rank_by_expected_value_unscored_by_the_rule_of_thumb() -> None:
    policy = SelectionPolicy()
    plain = decide(candidate(), policy, AS_OF)
    assert plain.priority == 1_000_000 * 3  # M2 weight
    scored = decide(candidate(p_no_cure_bp=9_000), policy, AS_OF)
    assert scored.selected and scored.priority == 195_000
    # a likely self-curer is not worth the visit's cost
    cheap = decide(candidate(p_no_cure_bp=1_000), policy, AS_OF)
    assert not cheap.selected and "expected_value" in cheap.failed
    # a smaller debt that will not cure beats a bigger one that will
    big_curer = decide(
        candidate(customer_id="A", overdue_amount=5_000_000, p_no_cure_bp=1_500), policy, AS_OF
    )
    small_stuck = decide(
        candidate(customer_id="B", overdue_amount=2_000_000, p_no_cure_bp=9_800), policy, AS_OF
    )
    chosen, spare = rank([big_curer, small_stuck], 1)
    assert [d.customer_id for d in chosen] == ["B"] and [d.customer_id for d in spare] == ["A"]
