"""Calibration: fitted on held-out predictions only, and it repairs a miscalibrated model."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pytest

from doorstep.domain.errors import InvalidValue, NotFitted
from doorstep.scoring.calibration import CalibratedModel, Calibrator, out_of_fold
from doorstep.scoring.evaluate import brier


def miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true probability, overconfident and shifted model output, outcomes)."""
    rng = np.random.default_rng(seed)
    logit = rng.normal(-1.0, 1.0, n)
    true_p = 1 / (1 + np.exp(-logit))
    raw = 1 / (1 + np.exp(-(3.0 * logit + 1.5)))  # too sure and too pessimistic
    y = (rng.uniform(size=n) < true_p).astype(int)
    return true_p, raw, y


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_improves_brier_on_a_miscalibrated_case(method: Any) -> None:
    _, raw_fit, y_fit = miscalibrated(4000, seed=1)
    _, raw_test, y_test = miscalibrated(4000, seed=2)  # held-out rows
    calibrator = Calibrator(method).fit(raw_fit, y_fit)
    calibrated = calibrator.transform(raw_test)
    assert brier(y_test, calibrated) < brier(y_test, raw_test) - 0.01
    assert np.all((calibrated >= 0) & (calibrated <= 1))
    assert np.all(np.diff(calibrated[np.argsort(raw_test)]) >= -1e-12)  # monotone
    # calibrated probabilities match observed rates on average
    assert calibrated.mean() == pytest.approx(y_test.mean(), abs=0.02)


class Overconfident:
    """A model that learns the event rate by a feature's sign and overstates it."""

    def __init__(self) -> None:
        self.rates: dict[bool, float] = {}

    def fit(self, data: Any, target: Any) -> Self:
        y = np.asarray(target)
        positive = data["x"].to_numpy() > 0
        self.rates = {k: float(y[positive == k].mean()) for k in (True, False)}
        self.seen = set(data.index)
        self.predicted: set[int] = set()
        return self

    def predict_proba(self, data: Any) -> np.ndarray:
        self.predicted |= set(data.index)
        positive = data["x"].to_numpy() > 0
        p = np.where(positive, self.rates[True], self.rates[False])
        return np.clip(p * 2.0, 0.0, 0.99)


def test_calibrated_model_uses_held_out_predictions_only() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < np.where(x > 0, 0.3, 0.1)).astype(int)
    frame = pd.DataFrame({"x": x})
    made: list[Overconfident] = []

    def make() -> Overconfident:
        made.append(Overconfident())
        return made[-1]

    oof = out_of_fold(make, frame, y, folds=3, seed=0)
    assert not np.isnan(oof).any()
    assert len(made) == 3
    # every row was predicted by a model that had not seen it
    for model in made:
        assert len(model.seen) == 2000
        assert not model.seen & model.predicted
    assert set().union(*(m.predicted for m in made)) == set(range(n))

    calibrated = CalibratedModel(make, "isotonic", folds=3).fit(frame.iloc[:2000], y[:2000])
    test = frame.iloc[2000:]
    p = calibrated.predict_proba(test)
    assert brier(y[2000:], p) < brier(y[2000:], calibrated.raw_proba(test))
    assert p[test["x"].to_numpy() > 0].mean() == pytest.approx(0.3, abs=0.05)


def test_calibrator_errors() -> None:
    with pytest.raises(InvalidValue):
        Calibrator("magic")  # type: ignore[arg-type]
    with pytest.raises(NotFitted):
        Calibrator().transform([0.1])
