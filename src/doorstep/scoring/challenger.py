"""The challenger: gradient-boosted trees (LightGBM), monotone where a direction is declared.

Categorical features are coded from the training data, levels rarer than ``cat_cutoff``
pooled into one "other" level (unseen levels at scoring time land there too) and passed to
LightGBM as categorical. Reason codes come from LightGBM's own SHAP values
(``pred_contrib=True``): each feature's additive contribution to the log-odds of default;
the largest positive contributions are the reasons.

`DefaultLightGBM` is the plain library-defaults model that benchmarks compare against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.domain.errors import NotFitted
from doorstep.scoring.base import FloatArray, Reason, as_target, top_reasons
from doorstep.scoring.features import FeatureSet

__all__ = ["ChallengerConfig", "ChallengerModel", "DefaultLightGBM"]


@dataclass(frozen=True, slots=True)
class ChallengerConfig:
    """LightGBM settings: slow learning, small regularised trees, row and column sampling."""

    n_estimators: int = 250
    learning_rate: float = 0.04
    num_leaves: int = 15
    min_child_samples: int = 100
    subsample: float = 0.8
    colsample_bytree: float = 0.5
    reg_lambda: float = 10.0
    cat_cutoff: float = 0.01
    monotone: bool = True
    seed: int = 0
    n_jobs: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)  # any other LightGBM parameter

    def params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "seed": self.seed,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            **dict(self.extra),
        }


class _Coder:
    """Categorical levels -> integer codes; rare and unseen levels share the last code."""

    def __init__(self, values: pd.Series, cutoff: float) -> None:
        shares = values.dropna().value_counts(normalize=True)
        kept = sorted((lvl for lvl, share in shares.items() if share >= cutoff), key=str)
        self.codes = {lvl: float(i) for i, lvl in enumerate(kept)}
        self.other = float(len(kept))

    def __call__(self, values: pd.Series) -> FloatArray:
        mapped = values.map(self.codes)
        out = np.array(mapped, dtype=np.float64)  # a writable copy
        out[np.isnan(out) & values.notna().to_numpy()] = self.other
        return out


class ChallengerModel:
    """LightGBM with monotone constraints and SHAP reason codes. Implements `Classifier`."""

    def __init__(self, features: FeatureSet, config: ChallengerConfig | None = None) -> None:
        self.features = features
        self.config = config or ChallengerConfig()
        self._booster: Any = None
        self._coders: dict[str, _Coder] = {}

    def _matrix(self, data: Any) -> FloatArray:
        frame = self.features.frame(data)
        columns = []
        for name in self.features.names:
            if name in self._coders:
                columns.append(self._coders[name](frame[name]))
            else:
                columns.append(np.asarray(frame[name], dtype=np.float64))
        return np.column_stack(columns)

    def fit(self, data: Any, target: Any) -> Self:
        import lightgbm as lgb

        cfg = self.config
        frame = self.features.frame(data)
        y = as_target(target, len(frame))
        self._coders = {
            name: _Coder(frame[name], cfg.cat_cutoff) for name in self.features.categorical
        }
        params = cfg.params()
        if cfg.monotone:
            constraints = [f.direction for f in self.features]
            if any(constraints):
                params["monotone_constraints"] = constraints
                params.setdefault("monotone_constraints_method", "advanced")
        categorical = [i for i, f in enumerate(self.features) if f.categorical]
        dataset = lgb.Dataset(
            self._matrix(frame),
            label=y,
            feature_name=[f"f{i}" for i in range(len(self.features))],
            categorical_feature=categorical or "auto",
            free_raw_data=True,
            params={"verbosity": -1},
        )
        self._booster = lgb.train(params, dataset, num_boost_round=cfg.n_estimators)
        return self

    def _check(self) -> None:
        if self._booster is None:
            raise NotFitted("challenger")

    def predict_proba(self, data: Any) -> FloatArray:
        self._check()
        return np.asarray(self._booster.predict(self._matrix(data)), dtype=np.float64)

    def log_odds(self, data: Any) -> FloatArray:
        """The raw score: log-odds of default."""
        self._check()
        raw = self._booster.predict(self._matrix(data), raw_score=True)
        return np.asarray(raw, dtype=np.float64)

    def contributions(self, data: Any) -> pd.DataFrame:
        """SHAP value of each feature for each row, in log-odds of default; the column
        ``expected`` holds the base value (the rows sum to `log_odds`)."""
        self._check()
        frame = self.features.frame(data)
        contrib = np.asarray(self._booster.predict(self._matrix(frame), pred_contrib=True))
        return pd.DataFrame(contrib, columns=[*self.features.names, "expected"], index=frame.index)

    def reasons(self, data: Any, n: int = 3) -> list[tuple[Reason, ...]]:
        """Per row, the ``n`` features pushing the probability of default up the most."""
        contrib = self.contributions(data).drop(columns="expected")
        return top_reasons(contrib.to_numpy(), self.features, self.features.names, n)

    def importance(self) -> dict[str, float]:
        """Total gain of each feature."""
        self._check()
        gain = self._booster.feature_importance(importance_type="gain")
        return {name: float(g) for name, g in zip(self.features.names, gain, strict=True)}


class DefaultLightGBM:
    """``lightgbm.LGBMClassifier`` with library defaults: the benchmark baseline."""

    def __init__(self, features: FeatureSet, *, seed: int = 0, n_jobs: int = 1) -> None:
        self.features = features
        self.seed = seed
        self.n_jobs = n_jobs
        self._model: Any = None

    def fit(self, data: Any, target: Any) -> Self:
        import lightgbm as lgb

        frame = self._frame(data)
        y = as_target(target, len(frame))
        self._model = lgb.LGBMClassifier(random_state=self.seed, n_jobs=self.n_jobs, verbose=-1)
        self._model.fit(frame, y)
        return self

    def _frame(self, data: Any) -> pd.DataFrame:
        frame = self.features.frame(data)
        if self.features.categorical:
            frame = frame.astype({name: "category" for name in self.features.categorical})
        return frame

    def predict_proba(self, data: Any) -> FloatArray:
        if self._model is None:
            raise NotFitted("baseline LightGBM")
        proba = self._model.predict_proba(self._frame(data))
        return np.asarray(proba[:, 1], dtype=np.float64)
