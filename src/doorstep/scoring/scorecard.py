"""The champion: a points scorecard on optimal weight-of-evidence bins (optbinning) and a
logistic regression (scikit-learn).

Each feature is cut into optimal bins (numerical: monotone in the declared direction, or
the best trend when undeclared; categorical: levels rarer than ``cat_cutoff`` pooled), each
bin carries points, and an account's score is the sum of its bins' points. Scaling: the
score is ``base_score`` at good:bad odds ``base_odds``, and every ``pdo`` points double the
odds, so a higher score means a lower probability of default, and

    score = base_score + pdo / ln 2 * (ln(odds_good) - ln(base_odds)).

Reason codes: for each feature, the points the account loses against the feature's best
bin (among bins seen in training); the largest losses, in order, are the reasons.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.domain.errors import NotFitted
from doorstep.scoring.base import FloatArray, Reason, as_target, top_reasons
from doorstep.scoring.features import FeatureSet

__all__ = ["ScorecardConfig", "ScorecardModel"]

_TREND = {1: "ascending", -1: "descending", 0: "auto"}


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence optbinning's pandas deprecation chatter (its own code, not ours)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"optbinning\b")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"optbinning\b")
        yield


def _clear_timings(obj: Any, depth: int = 0) -> None:
    """Zero optbinning's fit timings (``_time_*``), kept on the scorecard, the binning
    process and every variable's binning: the same training must give the same bytes."""
    if depth > 4:
        return
    if isinstance(obj, dict):
        for value in obj.values():
            _clear_timings(value, depth + 1)
        return
    if isinstance(obj, list | tuple):
        for value in obj:
            _clear_timings(value, depth + 1)
        return
    state = getattr(obj, "__dict__", None)
    if not state or not type(obj).__module__.startswith("optbinning"):
        return
    for name, value in list(state.items()):
        if name.startswith("_time"):
            state[name] = 0.0
        else:
            _clear_timings(value, depth + 1)


@dataclass(frozen=True, slots=True)
class ScorecardConfig:
    """Scaling, binning and regression settings of a scorecard."""

    base_score: float = 600.0
    base_odds: float = 50.0  # good:bad odds at base_score
    pdo: float = 20.0  # points to double the odds
    max_n_prebins: int = 20
    min_prebin_size: float = 0.05
    min_bin_size: float | None = None
    max_n_bins: int | None = None
    cat_cutoff: float = 0.05  # categorical levels rarer than this share are pooled
    regularisation: float = 0.1  # inverse L2 strength (scikit-learn's C)
    max_iter: int = 2000
    n_jobs: int = 1

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)


class ScorecardModel:
    """WoE binning + logistic regression, scaled to points. Implements `Classifier`."""

    def __init__(self, features: FeatureSet, config: ScorecardConfig | None = None) -> None:
        self.features = features
        self.config = config or ScorecardConfig()
        self._scorecard: Any = None
        self._categories: dict[str, set[Any]] = {}
        self._best_points: dict[str, float] = {}
        self._best_values: dict[str, Any] = {}

    # --- training -------------------------------------------------------------------------

    def fit(self, data: Any, target: Any) -> Self:
        from optbinning import BinningProcess, Scorecard  # type: ignore[import-untyped, unused-ignore]
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped, unused-ignore]

        cfg = self.config
        frame = self.features.frame(data).reset_index(drop=True)
        y = as_target(target, len(frame))
        self._categories = {
            name: set(frame[name].dropna().unique()) for name in self.features.categorical
        }
        fit_params: dict[str, dict[str, Any]] = {}
        for feature in self.features:
            if feature.categorical:
                fit_params[feature.name] = {"cat_cutoff": cfg.cat_cutoff}
            else:
                fit_params[feature.name] = {"monotonic_trend": _TREND[feature.direction]}
        process = BinningProcess(
            variable_names=self.features.names,
            categorical_variables=self.features.categorical or None,
            max_n_prebins=cfg.max_n_prebins,
            min_prebin_size=cfg.min_prebin_size,
            min_bin_size=cfg.min_bin_size,
            max_n_bins=cfg.max_n_bins,
            binning_fit_params=fit_params,
            n_jobs=cfg.n_jobs,
        )
        estimator = LogisticRegression(C=cfg.regularisation, max_iter=cfg.max_iter)
        scorecard = Scorecard(
            binning_process=process,
            estimator=estimator,
            scaling_method="pdo_odds",
            scaling_method_params={
                "pdo": cfg.pdo,
                "odds": cfg.base_odds,
                "scorecard_points": cfg.base_score,
            },
        )
        with _quiet():
            scorecard.fit(frame, y, metric_special="empirical", metric_missing="empirical")
            _clear_timings(scorecard)
            self._scorecard = scorecard
            self._learn_best_bins(frame)
        return self

    def _learn_best_bins(self, frame: pd.DataFrame) -> None:
        """Per feature: the best points among bins seen in training, and a training value
        that falls in that bin (the median of those values; the commonest level)."""
        table = self._scorecard.table(style="detailed")
        indices = self._scorecard.binning_process_.transform(
            frame[self.features.names],
            metric="indices",
            metric_special="empirical",
            metric_missing="empirical",
        )
        self._best_points = {}
        self._best_values = {}
        for name in self.features.names:
            rows = table[(table["Variable"] == name) & (table["Count"] > 0)]
            best = rows.loc[rows["Points"].idxmax()]
            self._best_points[name] = float(best["Points"])
            in_bin = frame[name][np.asarray(indices[name]) == int(best["Bin id"])]
            values = in_bin.dropna()
            if values.empty:
                self._best_values[name] = np.nan
            elif self.features[name].categorical:
                self._best_values[name] = values.mode().iloc[0]
            else:
                self._best_values[name] = float(values.median())

    # --- scoring --------------------------------------------------------------------------

    def _prepared(self, data: Any) -> pd.DataFrame:
        if self._scorecard is None:
            raise NotFitted("scorecard")
        frame = self.features.frame(data)
        if self._categories:
            frame = frame.copy()
            for name, seen in self._categories.items():
                frame[name] = frame[name].where(frame[name].isin(seen))
        return frame

    def predict_proba(self, data: Any) -> FloatArray:
        """Probability of default of each row."""
        frame = self._prepared(data)
        with _quiet():
            proba = self._scorecard.predict_proba(frame)
        return np.asarray(proba[:, 1], dtype=np.float64)

    def points(self, data: Any) -> pd.DataFrame:
        """Points of each feature for each row (columns in feature order)."""
        frame = self._prepared(data)
        with _quiet():
            pts = self._scorecard.transform(frame)
        pts.index = frame.index
        return pts[self.features.names].astype(np.float64)

    def score(self, data: Any) -> FloatArray:
        """The scorecard score (higher is safer)."""
        pts = self.points(data)
        intercept = float(self._scorecard.intercept_)
        return np.asarray(pts.to_numpy().sum(axis=1) + intercept, dtype=np.float64)

    def probability_from_score(self, score: Any) -> FloatArray:
        """The probability of default that a score stands for, by the scaling."""
        cfg = self.config
        log_odds_good = (np.asarray(score, dtype=np.float64) - cfg.base_score) / cfg.factor
        log_odds_good += math.log(cfg.base_odds)
        return np.asarray(1.0 / (1.0 + np.exp(log_odds_good)), dtype=np.float64)

    def reasons(self, data: Any, n: int = 3) -> list[tuple[Reason, ...]]:
        """Per row, the ``n`` features costing the most points against their best bin."""
        pts = self.points(data)
        best = np.array([self._best_points[c] for c in pts.columns])
        costs = np.clip(best[None, :] - pts.to_numpy(), 0.0, None)
        return top_reasons(costs, self.features, list(pts.columns), n)

    @property
    def best_values(self) -> dict[str, Any]:
        """A value inside each feature's best bin: putting it in moves the score the most."""
        if self._scorecard is None:
            raise NotFitted("scorecard")
        return dict(self._best_values)

    def table(self) -> pd.DataFrame:
        """The scorecard: feature, bin, count, event rate, WoE, points (bins seen in
        training, plus the missing/special bins)."""
        if self._scorecard is None:
            raise NotFitted("scorecard")
        with _quiet():
            table = self._scorecard.table(style="detailed")
        columns = ["Variable", "Bin id", "Bin", "Count", "Event rate", "WoE", "Points"]
        return table[columns].reset_index(drop=True)

    def information_values(self) -> dict[str, float]:
        """Information value of each feature's binning (training data)."""
        if self._scorecard is None:
            raise NotFitted("scorecard")
        summary = self._scorecard.binning_process_.summary()
        return {str(r["name"]): float(r["iv"]) for _, r in summary.iterrows()}
