"""Cross-validation of whole pipelines: fitted inside training folds only, metrics right."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pytest

from doorstep.domain.errors import InvalidValue
from doorstep.scoring.evaluate import Candidate, auc, brier, calibration_table, evaluate, ks


class Spy:
    """Predicts from one column; records the row ids of every fit."""

    fits: ClassVar[list[set[int]]] = []

    def fit(self, data: Any, target: Any) -> Self:
        Spy.fits.append(set(data["row_id"]))
        self.rate = float(np.mean(target))
        return self

    def predict_proba(self, data: Any) -> np.ndarray:
        p: np.ndarray = np.clip(self.rate + 0.2 * np.tanh(data["x"].to_numpy()), 0.01, 0.99)
        return p


def dataset(n: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(x - 1)))).astype(int)
    return pd.DataFrame({"row_id": np.arange(n), "x": x}), y


def test_metrics_on_a_hand_example() -> None:
    y = [0, 0, 1, 1]
    p = [0.1, 0.4, 0.35, 0.8]
    assert auc(y, p) == pytest.approx(0.75)
    assert ks(y, p) == pytest.approx(0.5)
    assert brier(y, p) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    rows = calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], bins=2)
    assert [r.n for r in rows] == [2, 2]
    assert [r.predicted for r in rows] == pytest.approx([0.15, 0.35])
    assert [r.observed for r in rows] == [0.0, 1.0]


def test_every_pipeline_is_fitted_inside_the_training_fold() -> None:
    data, y = dataset()
    Spy.fits = []
    result = evaluate(
        data,
        y,
        [Candidate("raw", Spy, None), Candidate("calibrated", Spy, "platt")],
        folds=4,
        repeats=2,
        calibration_folds=3,
    )
    # raw: one fit per fold; calibrated: three inner fits + one final fit per fold
    assert len(Spy.fits) == 8 * (1 + 4)
    assert len(result.scores) == 16
    test_folds = {frozenset(range(1000)) - frozenset(f) for f in Spy.fits if len(f) == 750}
    assert len(test_folds) == 8
    for fit in Spy.fits:
        assert len(fit) in (500, 750)  # inner (2/3 of a training fold) or outer training fold
    # the inner fits of one outer fold never include that fold's test rows
    per_fold = 1 + 4  # in call order: raw fit, then 3 inner + 1 final for "calibrated"
    for k in range(8):
        block = Spy.fits[k * per_fold : (k + 1) * per_fold]
        train = block[0]
        assert all(fit <= train for fit in block)
    summary = result.summary("raw", "auc")
    assert summary.n == 8 and 0.6 < summary.mean < 0.9 and summary.sd > 0
    # calibration leaves the ranking alone and improves the Brier score of a crude model
    assert result.summary("calibrated", "auc").mean == pytest.approx(summary.mean)
    assert result.summary("calibrated", "brier").mean < result.summary("raw", "brier").mean
    table = result.calibration["calibrated"]
    assert [r.decile for r in table] == list(range(1, 11))
    assert sum(r.n for r in table) == 1000
    assert not np.isnan(result.predictions["raw"]).any()
    assert result.best("auc", among=["raw"]) == "raw"
    assert result.best("brier") == "calibrated"
    figures = result.as_dict()
    assert set(figures["summary"]) == {"raw", "calibrated"}


def test_out_of_time_split() -> None:
    data, y = dataset(600, seed=1)
    dates = pd.date_range("2024-01-01", periods=600, freq="D").to_numpy()
    Spy.fits = []
    result = evaluate(data, y, [Candidate("raw", Spy, None)], folds=3, dates=dates)
    oot = result.out_of_time["raw"]
    assert 0.5 < oot.auc <= 1.0
    assert Spy.fits[-1] == set(range(480))  # trained on the earliest 80 % only


def test_bad_arguments() -> None:
    data, y = dataset(100)
    with pytest.raises(InvalidValue):
        evaluate(data, y, [Candidate("a", Spy, None)], folds=1)
    with pytest.raises(InvalidValue):
        evaluate(data, y, [Candidate("a", Spy, None), Candidate("a", Spy, None)])


def test_extra_training_rows_are_trained_on_but_never_tested() -> None:
    data, y = dataset(900, seed=2)
    extra = np.zeros(900, dtype=bool)
    extra[600:] = True  # "the rest of the book"
    Spy.fits = []
    result = evaluate(
        data,
        y,
        [
            Candidate("global", Spy, None),
            Candidate("segment", Spy, None, use_extra_training=False),
        ],
        folds=3,
        extra_training=extra,
    )
    assert result.rows == 600
    assert len(result.predictions["global"]) == 600
    global_fits, segment_fits = Spy.fits[0::2], Spy.fits[1::2]
    for g, s in zip(global_fits, segment_fits, strict=True):
        assert set(range(600, 900)) <= g
        assert not s & set(range(600, 900))
        assert g - set(range(600, 900)) == s  # the same training fold of the segment
    tested = [set(range(600)) - s for s in segment_fits]
    assert set().union(*tested) == set(range(600))
    with pytest.raises(InvalidValue):
        evaluate(data, y, [Candidate("a", Spy, None)], extra_training=np.ones(900, bool))
