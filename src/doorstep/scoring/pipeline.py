"""Training pipelines end to end: a table in, a calibrated model with its measured metrics
and everything needed to score, explain and monitor it out.

`prepare_table` turns any table with a binary target into model inputs (protected
attributes and identifier-like columns left out and reported). `train` measures the
chosen pipeline by fold-clean cross-validation (`doorstep.scoring.evaluate`: binning,
model and calibration rebuilt inside every training fold; an out-of-time split when dates
are given), then fits it once more on every row and returns a `Bundle`: the calibrated
model, its features, and a reference sample of the training inputs and probabilities for
population-stability monitoring. Seeded throughout: the same data gives the same model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.domain.errors import InvalidValue, ScoringInputError
from doorstep.scoring.base import Classifier, FloatArray, Reason, as_target
from doorstep.scoring.calibration import CalibratedModel, Method
from doorstep.scoring.challenger import ChallengerConfig, ChallengerModel, DefaultLightGBM
from doorstep.scoring.evaluate import Candidate, Evaluation, evaluate
from doorstep.scoring.features import PROTECTED, Feature, FeatureSet, protected_attribute
from doorstep.scoring.scorecard import ScorecardConfig, ScorecardModel

__all__ = [
    "BASELINE",
    "KINDS",
    "Bundle",
    "Factory",
    "Prepared",
    "TrainingConfig",
    "candidates",
    "prepare_table",
    "read_table",
    "summary_metrics",
    "train",
]

KINDS = ("scorecard", "challenger")
BASELINE = "lightgbm-default"
ID_SHARE = 0.5  # a text column with more distinct values than this share of rows is an id


@dataclass(frozen=True)
class TrainingConfig:
    kind: str = "scorecard"  # scorecard | challenger
    calibration: Method = "isotonic"
    calibration_folds: int = 3
    folds: int = 3  # cross-validation folds for the reported metrics (>= 2)
    seed: int = 0
    n_jobs: int = 1
    reference_rows: int = 5000  # training rows kept for population-stability monitoring
    scorecard: ScorecardConfig = field(default_factory=ScorecardConfig)
    challenger: ChallengerConfig = field(default_factory=ChallengerConfig)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidValue(
                f"unknown model kind {self.kind!r} (scorecard or challenger)",
                message_zh=f"未知的模型类型 {self.kind!r}（scorecard 或 challenger）",
            )
        if self.folds < 2:
            raise InvalidValue("folds >= 2", message_zh="折数需 ≥ 2")

    def factory(self, features: FeatureSet) -> Callable[[], Classifier]:
        if self.kind == "scorecard":
            scorecard = ScorecardConfig(**{**_fields(self.scorecard), "n_jobs": self.n_jobs})
            return Factory(features, scorecard=scorecard)
        challenger = ChallengerConfig(
            **{**_fields(self.challenger), "n_jobs": self.n_jobs, "seed": self.seed}
        )
        return Factory(features, challenger=challenger)


@dataclass(frozen=True)
class Factory:
    """Builds a fresh, unfitted model (picklable, unlike a lambda: it travels inside the
    stored calibrated model)."""

    features: FeatureSet
    scorecard: ScorecardConfig | None = None
    challenger: ChallengerConfig | None = None

    def __call__(self) -> Classifier:
        if self.challenger is not None:
            return ChallengerModel(self.features, self.challenger)
        return ScorecardModel(self.features, self.scorecard)


def _fields(config: Any) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


# --- tables -------------------------------------------------------------------------------


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a pandas frame."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ScoringInputError([f"no such file: {path}"])
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt", ".gz"):
        return pd.read_csv(path)
    raise ScoringInputError([f"{path.name}: expected a .csv or .parquet file"])


@dataclass(frozen=True)
class Prepared:
    frame: pd.DataFrame  # the model input columns
    target: Any  # 0/1 int64
    features: FeatureSet
    excluded: dict[str, str]  # column -> why it was left out


def prepare_table(
    data: pd.DataFrame, target: str, exclude: Sequence[str] = (), *, dates: str | None = None
) -> Prepared:
    """Model inputs of a table: every column but the target, ``exclude``, ``dates``,
    protected attributes (recognised by name) and identifier-like text columns.

    Text columns become categorical features (rare levels are pooled by the models);
    the rest numeric. The target must hold 0/1 (or booleans) only.
    """
    if target not in data.columns:
        raise ScoringInputError([f"no target column {target!r}"])
    missing = [c for c in exclude if c not in data.columns]
    if missing:
        raise ScoringInputError([f"no column {c!r} to exclude" for c in missing])
    raw = data[target]
    if raw.isna().any():
        raise ScoringInputError([f"the target {target!r} has missing values"])
    y = as_target(raw.astype("int64") if raw.dtype == bool else raw, len(data))
    excluded: dict[str, str] = {c: "excluded on request" for c in exclude}
    if dates:
        excluded[dates] = "date column"
    features: list[Feature] = []
    for column in data.columns:
        name = str(column)
        if name == target or name in excluded:
            continue
        key = protected_attribute(name)
        if key is not None:
            excluded[name] = f"protected attribute: {PROTECTED[key]}"
            continue
        values = data[column]
        numeric = pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
        if not numeric and values.nunique(dropna=True) > ID_SHARE * len(values):
            excluded[name] = "identifier-like text (a level per row)"
            continue
        if values.nunique(dropna=True) <= 1:
            excluded[name] = "constant"
            continue
        features.append(Feature(name, categorical=not numeric))
    if not features:
        raise ScoringInputError(["no usable feature columns"])
    feature_set = FeatureSet(tuple(features))
    frame = data[feature_set.names].copy().reset_index(drop=True)
    for name in feature_set.names:
        if feature_set[name].categorical:
            frame[name] = frame[name].astype("object").where(frame[name].notna(), None)
            frame[name] = frame[name].map(lambda v: v if v is None else str(v))
        else:
            frame[name] = frame[name].astype("float64")
    return Prepared(frame, y, feature_set, excluded)


# --- the trained bundle ----------------------------------------------------------------------


class Bundle:
    """A calibrated model and what it needs to score, explain and be monitored."""

    def __init__(
        self,
        purpose: str,
        kind: str,
        features: FeatureSet,
        model: CalibratedModel,
        reference: pd.DataFrame,
        reference_probability: FloatArray,
        scaling: ScorecardConfig,
    ) -> None:
        self.purpose = purpose
        self.kind = kind
        self.features = features
        self.model = model
        # plain arrays, not the frame: a pandas frame's pickle depends on its memory
        # layout, and the same training must give the same bytes
        self._reference = {
            str(c): np.array(reference[c].to_numpy(), copy=True) for c in reference.columns
        }
        self.reference_probability = np.array(reference_probability, dtype=np.float64)
        self.scaling = scaling

    @property
    def reference(self) -> pd.DataFrame:
        """A sample of the training inputs (population-stability monitoring)."""
        return pd.DataFrame(self._reference)

    def probability(self, data: Any) -> FloatArray:
        """The calibrated probability of the event."""
        return np.clip(self.model.predict_proba(data), 0.0, 1.0)

    def points(self, data: Any) -> FloatArray:
        """Scorecard points (higher is safer); for the challenger its raw probability on
        the same scale (base score at base odds, PDO)."""
        inner = self.model.model
        if isinstance(inner, ScorecardModel):
            return inner.score(data)
        p = np.clip(inner.predict_proba(data), 1e-9, 1 - 1e-9)
        s = self.scaling
        return np.asarray(
            s.base_score + s.factor * (np.log((1 - p) / p) - math.log(s.base_odds)),
            dtype=np.float64,
        )

    def reasons(self, data: Any, n: int = 3) -> list[tuple[Reason, ...]]:
        inner = self.model.model
        if isinstance(inner, ScorecardModel | ChallengerModel):
            return inner.reasons(data, n)
        return [() for _ in range(len(data))]

    def importance(self) -> dict[str, float]:
        """Information value (scorecard) or total gain (challenger) per feature."""
        inner = self.model.model
        if isinstance(inner, ScorecardModel):
            return inner.information_values()
        if isinstance(inner, ChallengerModel):
            return inner.importance()
        return {}


def candidates(
    features: FeatureSet, config: TrainingConfig, *, baseline: FeatureSet | None = None
) -> list[Candidate]:
    """Scorecard and challenger with calibration, plus the library-defaults LightGBM."""
    scorecard = TrainingConfig(**{**_fields(config), "kind": "scorecard"}).factory(features)
    challenger = TrainingConfig(**{**_fields(config), "kind": "challenger"}).factory(features)
    plain = baseline or features
    return [
        Candidate("scorecard", scorecard, config.calibration),
        Candidate("lightgbm", challenger, config.calibration),
        Candidate(
            BASELINE,
            lambda: DefaultLightGBM(plain, seed=config.seed, n_jobs=config.n_jobs),
            None,
        ),
    ]


def summary_metrics(ev: Evaluation, model: str) -> dict[str, Any]:
    """JSON-ready metrics of one evaluated model: mean/sd per metric, deciles, out of time."""
    out: dict[str, Any] = {
        "folds": ev.folds,
        "repeats": ev.repeats,
        "rows": ev.rows,
        "events": ev.events,
        "event_rate": ev.events / ev.rows if ev.rows else math.nan,
    }
    for metric in ("auc", "ks", "gini", "brier", "brier_raw"):
        s = ev.summary(model, metric)
        out[metric] = s.mean
        out[f"{metric}_sd"] = s.sd
    out["calibration"] = [
        {"decile": r.decile, "n": r.n, "predicted": r.predicted, "observed": r.observed}
        for r in ev.calibration.get(model, [])
    ]
    if model in ev.out_of_time:
        oot = ev.out_of_time[model]
        out["out_of_time"] = {"auc": oot.auc, "ks": oot.ks, "brier": oot.brier}
    return out


def train(
    purpose: str,
    frame: pd.DataFrame,
    target: Any,
    features: FeatureSet,
    config: TrainingConfig,
    *,
    dates: Any = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Bundle, dict[str, Any]]:
    """Measure the configured pipeline by cross-validation, then fit it on every row.

    Features without two distinct values in the training data (all missing, or constant:
    e.g. promises to pay before any visit was made) are left out and listed in the
    metrics as ``unused``; a later retraining picks them up once they vary.
    """
    unused = [name for name in features.names if frame[name].nunique(dropna=True) < 2]
    if len(unused) == len(features):
        raise ScoringInputError(["no feature varies in the training data"])
    features = features.without(*unused) if unused else features
    data = features.frame(frame).reset_index(drop=True)
    y = as_target(target, len(data))
    make = config.factory(features)
    name = config.kind
    ev = evaluate(
        data,
        y,
        [Candidate(name, make, config.calibration)],
        folds=config.folds,
        seed=config.seed,
        calibration_folds=config.calibration_folds,
        dates=dates,
        progress=progress,
    )
    metrics = summary_metrics(ev, name)
    if progress is not None:
        progress(f"fitting the final {name} on {len(data):,} rows")
    model = CalibratedModel(
        make, config.calibration, folds=config.calibration_folds, seed=config.seed
    ).fit(data, y)
    keep = min(config.reference_rows, len(data))
    picks = np.sort(np.random.default_rng(config.seed).choice(len(data), keep, replace=False))
    reference = data.iloc[picks].reset_index(drop=True)
    scaling = config.scorecard
    bundle = Bundle(
        purpose,
        name,
        features,
        model,
        reference,
        np.clip(model.predict_proba(reference), 0.0, 1.0),
        scaling,
    )
    metrics["unused"] = unused
    metrics["importance"] = {
        k: float(v) for k, v in sorted(bundle.importance().items(), key=lambda kv: -kv[1])
    }
    return bundle, metrics
