"""Honest evaluation: stratified k-fold cross-validation of whole pipelines.

Every candidate is rebuilt from scratch inside each training fold: binning, model and
calibration (whose own held-out predictions come from inner folds of that training fold)
never see the test fold. Per model and fold: AUC, KS and Gini of the ranking, and the Brier
score of the calibrated probability (``brier_raw``: before calibration); summaries are
mean ± sample standard deviation over folds × repeats. With a date column, an out-of-time
split (train on the earlier rows, test on the latest) is scored too. The calibration
table pools the out-of-fold (calibrated) predictions of the first repeat, kept in
``Evaluation.predictions``, and cuts them into deciles.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from doorstep.domain.errors import InvalidValue
from doorstep.scoring.base import Classifier, FloatArray, as_target
from doorstep.scoring.calibration import CalibratedModel, Method

__all__ = [
    "METRICS",
    "Candidate",
    "DecileRow",
    "Evaluation",
    "FoldScore",
    "Summary",
    "auc",
    "brier",
    "calibration_table",
    "evaluate",
    "ks",
]

METRICS = ("auc", "ks", "gini", "brier", "brier_raw")


def auc(target: Any, probability: Any) -> float:
    """Area under the ROC curve (ties count one half)."""
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped, unused-ignore]

    return float(roc_auc_score(np.asarray(target), np.asarray(probability)))


def ks(target: Any, probability: Any) -> float:
    """Kolmogorov-Smirnov statistic: the largest gap between the score distributions of
    defaulters and non-defaulters."""
    from sklearn.metrics import roc_curve  # type: ignore[import-untyped, unused-ignore]

    fpr, tpr, _ = roc_curve(np.asarray(target), np.asarray(probability))
    return float(np.max(tpr - fpr))


def brier(target: Any, probability: Any) -> float:
    y = np.asarray(target, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    return float(np.mean((p - y) ** 2))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One pipeline to evaluate: ``make`` builds a fresh, unfitted model; ``calibration``
    None scores the model's own probabilities; ``use_extra_training`` False keeps the
    candidate to the evaluated rows (a segment model) when `evaluate` has extra rows."""

    name: str
    make: Callable[[], Classifier]
    calibration: Method | None = "isotonic"
    use_extra_training: bool = True


@dataclass(frozen=True, slots=True)
class FoldScore:
    model: str
    repeat: int
    fold: int
    auc: float
    ks: float
    gini: float
    brier: float
    brier_raw: float
    seconds: float

    def metric(self, name: str) -> float:
        return float(getattr(self, name))


@dataclass(frozen=True, slots=True)
class Summary:
    mean: float
    sd: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.sd:.4f}"


@dataclass(frozen=True, slots=True)
class DecileRow:
    decile: int  # 1 = lowest predicted probability
    n: int
    predicted: float  # mean predicted probability of default
    observed: float  # observed default rate


@dataclass(slots=True)
class Evaluation:
    folds: int
    repeats: int
    rows: int
    events: int
    scores: list[FoldScore] = field(default_factory=list)
    calibration: dict[str, list[DecileRow]] = field(default_factory=dict)
    out_of_time: dict[str, FoldScore] = field(default_factory=dict)
    predictions: dict[str, FloatArray] = field(default_factory=dict)  # out of fold, repeat 1

    @property
    def models(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.scores:
            seen.setdefault(s.model, None)
        return list(seen)

    def summary(self, model: str, metric: str) -> Summary:
        values = [s.metric(metric) for s in self.scores if s.model == model]
        n = len(values)
        if not n:
            raise InvalidValue(
                f"no scores for model {model!r}", message_zh=f"模型 {model!r} 没有得分"
            )
        mean = math.fsum(values) / n
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
        return Summary(mean, sd, n)

    def best(self, metric: str = "auc", among: Sequence[str] | None = None) -> str:
        names = list(among) if among is not None else self.models
        sign = -1.0 if metric.startswith("brier") else 1.0
        return max(names, key=lambda m: sign * self.summary(m, metric).mean)

    def as_dict(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "repeats": self.repeats,
            "rows": self.rows,
            "events": self.events,
            "summary": {
                m: {
                    k: {"mean": self.summary(m, k).mean, "sd": self.summary(m, k).sd}
                    for k in (*METRICS, "seconds")
                }
                for m in self.models
            },
            "folds_detail": [{k: getattr(s, k) for k in FoldScore.__slots__} for s in self.scores],
            "calibration": {
                m: [{k: getattr(r, k) for k in DecileRow.__slots__} for r in rows]
                for m, rows in self.calibration.items()
            },
            "out_of_time": {
                m: {k: getattr(s, k) for k in FoldScore.__slots__}
                for m, s in self.out_of_time.items()
            },
        }


def calibration_table(target: Any, probability: Any, bins: int = 10) -> list[DecileRow]:
    """Rows sorted by predicted probability and cut into ``bins`` groups of equal size."""
    y = np.asarray(target, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    rows = []
    for i, idx in enumerate(np.array_split(order, bins), start=1):
        if len(idx):
            rows.append(DecileRow(i, len(idx), float(p[idx].mean()), float(y[idx].mean())))
    return rows


def _fit_predict(
    candidate: Candidate,
    train: Any,
    y_train: Any,
    test: Any,
    *,
    calibration_folds: int,
    seed: int,
) -> tuple[FloatArray, FloatArray]:
    """(raw, calibrated) probabilities for ``test`` of the candidate fitted on ``train``."""
    if candidate.calibration is None:
        raw = candidate.make().fit(train, y_train).predict_proba(test)
        return raw, raw
    model = CalibratedModel(
        candidate.make, candidate.calibration, folds=calibration_folds, seed=seed
    ).fit(train, y_train)
    raw = model.raw_proba(test)
    return raw, model.calibrator.transform(raw)


def _score(
    name: str, repeat: int, fold: int, y: Any, raw: Any, calibrated: Any, seconds: float
) -> FoldScore:
    a = auc(y, raw)
    return FoldScore(
        name, repeat, fold, a, ks(y, raw), 2 * a - 1, brier(y, calibrated), brier(y, raw), seconds
    )


def evaluate(
    data: Any,
    target: Any,
    candidates: Sequence[Candidate],
    *,
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    calibration_folds: int = 3,
    dates: Any = None,
    out_of_time_share: float = 0.2,
    extra_training: Any = None,
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Cross-validate each candidate on ``data`` (a pandas DataFrame) and ``target``.

    Ranking metrics (AUC, KS, Gini) use the model's own probability (calibration is
    monotone and would only add ties); Brier uses the calibrated one. ``dates`` (one per
    row) adds an out-of-time split: the latest ``out_of_time_share`` of rows by date.

    ``extra_training`` (a boolean mask) marks rows that are never tested but join every
    training fold of the candidates with ``use_extra_training`` (e.g. the rest of the book
    when the evaluated population is a segment of it). Folds, predictions and the
    calibration table then cover the other rows only.
    """
    from sklearn.model_selection import (  # type: ignore[import-untyped, unused-ignore]
        RepeatedStratifiedKFold,
    )

    if folds < 2 or repeats < 1:
        raise InvalidValue("folds >= 2 and repeats >= 1", message_zh="折数需 ≥ 2，重复次数需 ≥ 1")
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise InvalidValue("candidate names must be unique", message_zh="候选模型名称须唯一")
    data = data.reset_index(drop=True)
    y = as_target(target, len(data))
    extra = _mask(extra_training, len(y))
    scored = np.flatnonzero(~extra)
    always = np.flatnonzero(extra)
    y_scored = y[scored]
    result = Evaluation(folds, repeats, len(scored), int(y_scored.sum()))
    oof: dict[str, FloatArray] = {c.name: np.full(len(scored), np.nan) for c in candidates}
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    for k, (train_pos, test_pos) in enumerate(splitter.split(scored, y_scored)):
        repeat, fold = divmod(k, folds)
        test = scored[test_pos]
        for candidate in candidates:
            train = scored[train_pos]
            if candidate.use_extra_training and len(always):
                train = np.sort(np.concatenate([train, always]))
            started = time.perf_counter()
            raw, calibrated = _fit_predict(
                candidate,
                data.iloc[train],
                y[train],
                data.iloc[test],
                calibration_folds=calibration_folds,
                seed=seed + k,
            )
            seconds = time.perf_counter() - started
            score = _score(candidate.name, repeat, fold, y[test], raw, calibrated, seconds)
            result.scores.append(score)
            if repeat == 0:
                oof[candidate.name][test_pos] = calibrated
            if progress is not None:
                progress(
                    f"repeat {repeat + 1} fold {fold + 1} {candidate.name}: AUC {score.auc:.4f}"
                    f" Brier {score.brier:.4f} ({seconds:.1f}s)"
                )
    result.predictions = oof
    result.calibration = {name: calibration_table(y_scored, p) for name, p in oof.items()}
    if dates is not None:
        result.out_of_time = _out_of_time(
            data, y, extra, candidates, dates, out_of_time_share, calibration_folds, seed
        )
    return result


def _mask(mask: Any, rows: int) -> npt.NDArray[np.bool_]:
    if mask is None:
        return np.zeros(rows, dtype=bool)
    out = np.asarray(mask, dtype=bool)
    if out.shape != (rows,):
        raise InvalidValue(
            "extra_training: one flag per row", message_zh="extra_training：每行一个标记"
        )
    if out.all():
        raise InvalidValue("extra_training leaves no row to test", message_zh="没有可测试的行")
    return out


def _out_of_time(
    data: Any,
    y: Any,
    extra: npt.NDArray[np.bool_],
    candidates: Sequence[Candidate],
    dates: Any,
    share: float,
    calibration_folds: int,
    seed: int,
) -> dict[str, FoldScore]:
    when = np.asarray(dates)
    if len(when) != len(y):
        raise InvalidValue("one date per row", message_zh="每行需要一个日期")
    if not 0 < share < 1:
        raise InvalidValue(
            "out_of_time_share in (0, 1)", message_zh="时间外样本比例须在 0 与 1 之间"
        )
    scored_dates = np.sort(when[~extra])
    cutoff = scored_dates[int(len(scored_dates) * (1 - share))]
    test = np.flatnonzero((when >= cutoff) & ~extra)
    out: dict[str, FoldScore] = {}
    for candidate in candidates:
        before = when < cutoff
        train = np.flatnonzero(before if candidate.use_extra_training else before & ~extra)
        started = time.perf_counter()
        raw, calibrated = _fit_predict(
            candidate,
            data.iloc[train],
            y[train],
            data.iloc[test],
            calibration_folds=calibration_folds,
            seed=seed,
        )
        seconds = time.perf_counter() - started
        out[candidate.name] = _score(candidate.name, 0, 0, y[test], raw, calibrated, seconds)
    return out
