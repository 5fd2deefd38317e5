"""Population stability index and the fairness report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pytest

from doorstep.domain.errors import InvalidValue
from doorstep.scoring import FeatureSet
from doorstep.scoring.fairness import adverse_impact_ratios, report
from doorstep.scoring.monitoring import psi, psi_report


def test_psi_of_identical_samples_is_zero() -> None:
    x = np.random.default_rng(0).normal(size=5000)
    assert psi(x, x) == pytest.approx(0.0, abs=1e-12)
    assert psi(x, x.copy()[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_psi_of_two_samples_of_one_population_is_small() -> None:
    rng = np.random.default_rng(1)
    assert psi(rng.normal(size=20000), rng.normal(size=20000)) < 0.01


def test_psi_of_a_shifted_sample_is_flagged() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(size=5000)
    assert psi(ref, rng.normal(loc=1.0, size=5000)) > 0.25
    assert psi(ref, rng.normal(loc=0.1, size=5000)) < 0.1


def test_psi_hand_example_and_missing_bin() -> None:
    # two levels: 50/50 -> 80/20: (0.8-0.5)ln(0.8/0.5) + (0.2-0.5)ln(0.2/0.5)
    expected = 0.3 * math.log(1.6) - 0.3 * math.log(0.4)
    ref = ["a"] * 50 + ["b"] * 50
    cur = ["a"] * 80 + ["b"] * 20
    assert psi(ref, cur, categorical=True) == pytest.approx(expected)
    # missing values have their own bin: appearing missing values are a shift
    base = np.arange(1000, dtype=float)
    holes = base.copy()
    holes[:400] = np.nan
    assert psi(base, holes) > 0.25


def test_psi_report_flags_features_and_score() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.choice(["x", "y"], 3000)})
    cur = pd.DataFrame({"a": rng.normal(2.0, size=3000), "b": rng.choice(["x", "y"], 3000)})
    features = FeatureSet.of("a", "b")
    drifts = psi_report(
        ref, cur, features, score_reference=ref["a"], score_current=ref["a"].to_numpy()
    )
    by_name = {d.name: d for d in drifts}
    assert by_name["a"].flagged and by_name["a"].level == "shift"
    assert not by_name["b"].flagged and by_name["b"].level == "stable"
    assert by_name["score"].psi == pytest.approx(0.0, abs=1e-12)


def test_adverse_impact_ratio_hand_example() -> None:
    # A: 50 of 100 selected (0.50); B: 30 of 100 (0.30); C: 9 of 20 (0.45)
    groups = ["A"] * 100 + ["B"] * 100 + ["C"] * 20
    selected = [1] * 50 + [0] * 50 + [1] * 30 + [0] * 70 + [1] * 9 + [0] * 11
    reference, rates, air = adverse_impact_ratios(groups, selected)
    assert reference == "A"
    assert rates == pytest.approx({"A": 0.5, "B": 0.3, "C": 0.45})
    assert air == pytest.approx({"A": 1.0, "B": 0.6, "C": 0.9})
    rep = report(groups, selected, scores=np.arange(220.0), attribute="sex")
    assert rep.min_air == pytest.approx(0.6)
    warned = [g.group for g in rep.groups if g.warned]
    assert warned == ["B"]
    assert len(rep.warnings) == 1 and "sex=B" in rep.warnings[0]
    b = next(g for g in rep.groups if g.group == "B")
    assert (b.n, b.selected) == (100, 30)
    assert b.score_mean == pytest.approx(149.5)
    # an explicit reference group
    _, _, air_b = adverse_impact_ratios(groups, selected, reference="B")
    assert air_b["A"] == pytest.approx(0.5 / 0.3)
    with pytest.raises(InvalidValue):
        adverse_impact_ratios(groups, selected, reference="Z")


def test_no_selection_gives_no_ratio() -> None:
    rep = report(["A", "B"], [0, 0])
    assert all(math.isnan(g.air) for g in rep.groups)
    assert rep.warnings == ()
