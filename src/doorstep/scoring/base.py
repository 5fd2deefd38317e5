"""What every scoring model shares: the classifier protocol, targets, and reason codes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self

import numpy as np
import numpy.typing as npt

from doorstep.domain.errors import ScoringInputError
from doorstep.scoring.features import FeatureSet

__all__ = ["Classifier", "FloatArray", "IntArray", "Reason", "as_target", "top_reasons"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Classifier(Protocol):
    """A binary classifier of default (1) against no default (0)."""

    def fit(self, data: Any, target: Any) -> Self: ...

    def predict_proba(self, data: Any) -> FloatArray:
        """The probability of default of each row (1-D)."""
        ...


def as_target(target: Any, rows: int | None = None) -> IntArray:
    """The target as a 0/1 int64 vector; refuses other values, missing ones or one class."""
    values = np.asarray(target)
    problems: list[str] = []
    if values.ndim != 1:
        problems.append(f"the target must be one-dimensional, got shape {values.shape}")
    elif rows is not None and len(values) != rows:
        problems.append(f"the target has {len(values)} rows, the data {rows}")
    else:
        as_float = values.astype(np.float64)
        if not np.all(np.isin(as_float, (0.0, 1.0))):
            problems.append("the target must hold only 0 (no default) and 1 (default)")
        elif len(np.unique(as_float)) < 2:
            problems.append("the target needs both classes")
    if problems:
        raise ScoringInputError(problems)
    return values.astype(np.int64)


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code: a feature that cost the account, and how much.

    ``impact`` is in the model's own unit: scorecard points lost against the feature's best
    bin, or the feature's contribution to the log-odds of default (challenger).
    """

    feature: str
    label_en: str
    label_zh: str
    impact: float

    def label(self, locale: str = "en") -> str:
        return self.label_zh if locale.lower().startswith("zh") else self.label_en


def top_reasons(
    costs: FloatArray, features: FeatureSet, names: Sequence[str], n: int = 3
) -> list[tuple[Reason, ...]]:
    """The ``n`` largest positive costs of each row (ties: the earlier feature first).

    ``costs`` has one row per account and one column per name in ``names``.
    """
    costs = np.asarray(costs, dtype=np.float64)
    order = np.argsort(-costs, axis=1, kind="stable")[:, :n]
    labels = [(features.label(name, "en"), features.label(name, "zh_CN")) for name in names]
    out: list[tuple[Reason, ...]] = []
    for row, picks in zip(costs, order, strict=True):
        reasons = []
        for j in picks:
            value = float(row[j])
            if not value > 0:
                break
            reasons.append(Reason(names[j], labels[j][0], labels[j][1], value))
        out.append(tuple(reasons))
    return out
