"""Probability calibration, fitted on held-out predictions only.

`Calibrator` maps a model's probability to a calibrated one: isotonic regression
(monotone, non-parametric) or Platt scaling (a logistic regression on the log-odds). It is
fitted on predictions for rows the model did not train on: `CalibratedModel` cross-fits
(each inner fold is predicted by a model trained on the other inner folds), fits the
calibrator on those out-of-fold predictions, and then fits the final model on all rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Self

import numpy as np

from doorstep.domain.errors import InvalidValue, NotFitted
from doorstep.scoring.base import Classifier, FloatArray, as_target

__all__ = ["CalibratedModel", "Calibrator", "Method", "out_of_fold"]

Method = Literal["isotonic", "platt"]
_EPS = 1e-6


def _logit(p: FloatArray) -> FloatArray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


class Calibrator:
    """Isotonic or Platt map from raw to calibrated probability of default."""

    def __init__(self, method: Method = "isotonic") -> None:
        if method not in ("isotonic", "platt"):
            raise InvalidValue(
                f"unknown calibration method {method!r} (isotonic or platt)",
                message_zh=f"未知的校准方法 {method!r}（isotonic 或 platt）",
            )
        self.method: Method = method
        self._model: Any = None

    def fit(self, probability: Any, target: Any) -> Self:
        p = np.asarray(probability, dtype=np.float64)
        y = as_target(target, len(p))
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression  # type: ignore[import-untyped, unused-ignore]

            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            model.fit(p, y)
        else:
            from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped, unused-ignore]

            model = LogisticRegression(C=1e6, max_iter=1000)
            model.fit(_logit(p)[:, None], y)
        self._model = model
        return self

    def transform(self, probability: Any) -> FloatArray:
        if self._model is None:
            raise NotFitted("calibrator")
        p = np.asarray(probability, dtype=np.float64)
        if self.method == "isotonic":
            out = self._model.predict(p)
        else:
            out = self._model.predict_proba(_logit(p)[:, None])[:, 1]
        return np.asarray(out, dtype=np.float64)


def out_of_fold(
    make: Callable[[], Classifier],
    data: Any,
    target: Any,
    *,
    folds: int = 3,
    seed: int = 0,
) -> FloatArray:
    """Predictions for every row from a model trained without that row's fold."""
    from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped, unused-ignore]

    y = as_target(target, len(data))
    oof = np.full(len(y), np.nan)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, held in splitter.split(np.zeros(len(y)), y):
        model = make().fit(data.iloc[train], y[train])
        oof[held] = model.predict_proba(data.iloc[held])
    return oof


class CalibratedModel:
    """A model trained on all rows, calibrated on out-of-fold predictions.

    ``make`` builds a fresh, unfitted model. ``folds`` inner folds give the calibration
    predictions (``folds`` extra fits); the final model is fitted once more on all rows and
    is available as ``model`` (for scores and reason codes).
    """

    def __init__(
        self,
        make: Callable[[], Classifier],
        method: Method = "isotonic",
        *,
        folds: int = 3,
        seed: int = 0,
    ) -> None:
        self.make = make
        self.method: Method = method
        self.folds = folds
        self.seed = seed
        self.calibrator = Calibrator(method)
        self._model: Classifier | None = None

    def fit(self, data: Any, target: Any) -> Self:
        y = as_target(target, len(data))
        oof = out_of_fold(self.make, data, y, folds=self.folds, seed=self.seed)
        self.calibrator.fit(oof, y)
        self._model = self.make().fit(data, y)
        return self

    @property
    def model(self) -> Classifier:
        if self._model is None:
            raise NotFitted("calibrated model")
        return self._model

    def raw_proba(self, data: Any) -> FloatArray:
        """The uncalibrated probability of the final model."""
        return self.model.predict_proba(data)

    def predict_proba(self, data: Any) -> FloatArray:
        return self.calibrator.transform(self.raw_proba(data))
