"""Scorecard and challenger on synthetic data: determinism, fingerprints, reason codes."""

from __future__ import annotations

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pytest

from doorstep.domain.errors import NotFitted
from doorstep.scoring import Feature, FeatureSet
from doorstep.scoring.challenger import ChallengerConfig, ChallengerModel, DefaultLightGBM
from doorstep.scoring.registry import dump_model, fingerprint, load_model
from doorstep.scoring.scorecard import ScorecardConfig, ScorecardModel

FEATURES = FeatureSet(
    (
        Feature("utilisation", 1, label_en="utilisation", label_zh="额度使用率"),
        Feature("months_late", 1, label_en="months late", label_zh="逾期月数"),
        Feature("income", -1, label_en="income", label_zh="收入"),
        Feature("region", categorical=True, label_en="region", label_zh="地区"),
        Feature("noise", label_en="noise", label_zh="噪声"),
    )
)


def synthetic(n: int = 3000, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "utilisation": rng.uniform(0.0, 1.2, n),
            "months_late": rng.poisson(0.8, n).astype(float),
            "income": rng.lognormal(8.0, 0.5, n),
            "region": rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.25, 0.05]),
            "noise": rng.normal(size=n),
        }
    )
    logit = (
        -2.0
        + 2.2 * frame["utilisation"]
        + 0.9 * frame["months_late"]
        - 0.8 * np.log(frame["income"] / 3000.0)
        + 0.8 * (frame["region"] == "east")
    )
    target = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return frame, target


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return synthetic()


@pytest.fixture(scope="module")
def scorecard(data: tuple[pd.DataFrame, np.ndarray]) -> ScorecardModel:
    return ScorecardModel(FEATURES).fit(*data)


CHALLENGER = ChallengerConfig(n_estimators=150, learning_rate=0.05, min_child_samples=40)


@pytest.fixture(scope="module")
def challenger(data: tuple[pd.DataFrame, np.ndarray]) -> ChallengerModel:
    return ChallengerModel(FEATURES, CHALLENGER).fit(*data)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from doorstep.scoring.evaluate import auc

    return auc(y, p)


def test_models_learn_something(
    data: tuple[pd.DataFrame, np.ndarray], scorecard: ScorecardModel, challenger: ChallengerModel
) -> None:
    frame, y = data
    assert _auc(y, scorecard.predict_proba(frame)) > 0.75
    assert _auc(y, challenger.predict_proba(frame)) > 0.75


def test_training_twice_gives_the_same_model_and_fingerprint(
    data: tuple[pd.DataFrame, np.ndarray], scorecard: ScorecardModel, challenger: ChallengerModel
) -> None:
    frame, y = data
    again = ScorecardModel(FEATURES).fit(frame.copy(), y.copy())
    assert np.array_equal(again.predict_proba(frame), scorecard.predict_proba(frame))
    assert np.array_equal(again.score(frame), scorecard.score(frame))
    twin = ChallengerModel(FEATURES, CHALLENGER).fit(frame.copy(), y.copy())
    assert np.array_equal(twin.predict_proba(frame), challenger.predict_proba(frame))
    first = fingerprint(frame, y, FEATURES.names)
    second = fingerprint(frame.copy()[list(reversed(frame.columns))], y.tolist(), FEATURES.names)
    assert first == second
    assert len(first) == 64


def test_scorecard_scaling(
    data: tuple[pd.DataFrame, np.ndarray], scorecard: ScorecardModel
) -> None:
    frame, _ = data
    cfg = ScorecardConfig()
    score = scorecard.score(frame)
    p = scorecard.predict_proba(frame)
    # the score is the scaling of the model's own probability ...
    assert scorecard.probability_from_score(score) == pytest.approx(p, abs=1e-9)
    # ... higher is safer, base_score sits at base_odds, and pdo points double the odds
    assert float(scorecard.probability_from_score(cfg.base_score)) == pytest.approx(1 / 51)
    odds = (
        1 - scorecard.probability_from_score([600.0, 620.0])
    ) / scorecard.probability_from_score([600.0, 620.0])
    assert odds[1] / odds[0] == pytest.approx(2.0)
    assert np.corrcoef(score, p)[0, 1] < -0.9
    assert scorecard.points(frame).sum(axis=1).to_numpy() == pytest.approx(score)


def test_scorecard_reason_codes_point_at_the_features_that_moved_the_score(
    data: tuple[pd.DataFrame, np.ndarray], scorecard: ScorecardModel
) -> None:
    frame, _ = data
    rows = frame.iloc[:300].reset_index(drop=True)
    base = scorecard.score(rows)
    best = scorecard.best_values
    moves = {}
    for name in FEATURES.names:
        changed = rows.copy()
        changed[name] = best[name]
        moves[name] = scorecard.score(changed) - base
    moves_frame = pd.DataFrame(moves)
    reasons = scorecard.reasons(rows)
    checked = 0
    for i, account in enumerate(reasons):
        assert len(account) <= 3
        if not account:
            assert moves_frame.iloc[i].max() == pytest.approx(0.0, abs=1e-9)
            continue
        top = account[0]
        assert moves_frame.iloc[i].max() == pytest.approx(top.impact)
        assert moves_frame.iloc[i][top.feature] == pytest.approx(moves_frame.iloc[i].max())
        impacts = [r.impact for r in account]
        assert impacts == sorted(impacts, reverse=True)
        for r in account:  # each reason's impact is what putting the best bin in gains
            assert moves_frame.iloc[i][r.feature] == pytest.approx(r.impact)
        checked += 1
    assert checked > 250
    # bilingual names
    assert {r.label("zh_CN") for acc in reasons for r in acc} <= {
        FEATURES.label(n, "zh_CN") for n in FEATURES.names
    }


def test_challenger_reason_codes_point_at_the_features_that_moved_the_score(
    data: tuple[pd.DataFrame, np.ndarray], challenger: ChallengerModel
) -> None:
    frame, _ = data
    rows = frame.iloc[:400].reset_index(drop=True)
    contrib = challenger.contributions(rows)
    assert contrib.sum(axis=1).to_numpy() == pytest.approx(challenger.log_odds(rows), abs=1e-6)
    base = challenger.log_odds(rows)
    neutral = {
        name: (frame[name].mode().iloc[0] if FEATURES[name].categorical else frame[name].median())
        for name in FEATURES.names
    }
    moves = {}
    for name in FEATURES.names:
        changed = rows.copy()
        changed[name] = neutral[name]
        moves[name] = base - challenger.log_odds(changed)  # how far the risk falls
    moves_frame = pd.DataFrame(moves)
    reasons = challenger.reasons(rows)
    agree = total = 0
    for i, account in enumerate(reasons):
        values = sorted(contrib.iloc[i, :-1], reverse=True)
        if not account or values[0] - values[1] < 0.3:
            continue  # no clear top reason
        total += 1
        agree += moves_frame.iloc[i].idxmax() == account[0].feature
    assert total >= 50
    assert agree / total >= 0.9


def test_monotone_constraints_hold(challenger: ChallengerModel) -> None:
    grid = pd.DataFrame(
        {
            "utilisation": np.linspace(0, 1.2, 50),
            "months_late": 1.0,
            "income": 3000.0,
            "region": "north",
            "noise": 0.0,
        }
    )
    p = challenger.predict_proba(grid)
    assert np.all(np.diff(p) >= -1e-12)


def test_unseen_and_rare_categories_are_scored(
    data: tuple[pd.DataFrame, np.ndarray], scorecard: ScorecardModel, challenger: ChallengerModel
) -> None:
    frame, _ = data
    rows = frame.iloc[:5].copy()
    rows["region"] = "atlantis"
    assert np.isfinite(scorecard.predict_proba(rows)).all()
    assert np.isfinite(challenger.predict_proba(rows)).all()


def test_model_bytes_round_trip(
    data: tuple[pd.DataFrame, np.ndarray], scorecard: ScorecardModel, challenger: ChallengerModel
) -> None:
    frame, _ = data
    for model in (scorecard, challenger):
        blob = dump_model(model)
        back = load_model(blob)
        assert np.array_equal(back.predict_proba(frame), model.predict_proba(frame))


def test_unfitted_models_say_so(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = data
    for model in (
        ScorecardModel(FEATURES),
        ChallengerModel(FEATURES),
        DefaultLightGBM(FEATURES.without("region")),
    ):
        with pytest.raises(NotFitted):
            model.predict_proba(frame)


def test_default_baseline_runs(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, y = data
    model = DefaultLightGBM(FEATURES).fit(frame, y)
    assert _auc(y, model.predict_proba(frame)) > 0.75
