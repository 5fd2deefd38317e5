"""Population stability: has the scored population moved away from the training one?

PSI = sum over bins of (actual% - expected%) * ln(actual% / expected%), with bins cut at
the reference sample's deciles (numerical) or one bin per level (categorical), and one bin
for missing values. Reading: below 0.10 stable, 0.10-0.25 worth watching, above 0.25 a
significant shift (flagged: the model should be reviewed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.scoring.features import FeatureSet

__all__ = ["FLAG_ABOVE", "WATCH_ABOVE", "Drift", "psi", "psi_report"]

FLAG_ABOVE = 0.25
WATCH_ABOVE = 0.10
_EPS = 1e-4  # floor of a bin's share, so an empty bin does not give an infinite PSI
SCORE = "score"


def _shares(codes: Any, n_bins: int) -> Any:
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=n_bins)
    return np.maximum(counts / max(len(codes), 1), _EPS)


def _is_numeric(values: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(pd.Series(values).infer_objects()))


def psi(expected: Any, actual: Any, *, bins: int = 10, categorical: bool | None = None) -> float:
    """Population stability index of ``actual`` against the reference ``expected``
    (``categorical`` None: categorical when the reference values are not numbers)."""
    if categorical is None:
        categorical = not _is_numeric(expected)
    ref = pd.Series(np.asarray(expected, dtype=object if categorical else np.float64))
    cur = pd.Series(np.asarray(actual, dtype=object if categorical else np.float64))
    if categorical:
        levels = {
            lvl: i for i, lvl in enumerate(sorted(set(ref.dropna()) | set(cur.dropna()), key=str))
        }
        n_bins = len(levels) + 1

        def code(s: pd.Series) -> Any:
            return s.map(levels).fillna(len(levels)).to_numpy()

    else:
        finite = ref.dropna().to_numpy(dtype=np.float64)
        if len(finite):
            qs = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
            edges = np.unique(qs)
        else:
            edges = np.array([], dtype=np.float64)
        n_bins = len(edges) + 2

        def code(s: pd.Series) -> Any:
            v = s.to_numpy(dtype=np.float64)
            out = np.searchsorted(edges, v, side="right")
            out[np.isnan(v)] = len(edges) + 1
            return out

    e = _shares(code(ref), n_bins)
    a = _shares(code(cur), n_bins)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True, slots=True)
class Drift:
    name: str
    psi: float
    flagged: bool  # psi > FLAG_ABOVE

    @property
    def level(self) -> str:
        if self.psi > FLAG_ABOVE:
            return "shift"
        return "watch" if self.psi > WATCH_ABOVE else "stable"


def psi_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: FeatureSet | Sequence[str],
    *,
    score_reference: Any = None,
    score_current: Any = None,
    bins: int = 10,
    threshold: float = FLAG_ABOVE,
) -> list[Drift]:
    """PSI of each feature (and of the score, named ``score``, when both are given)."""
    if isinstance(features, FeatureSet):
        names = features.names
        categorical: set[str] | None = set(features.categorical)
    else:
        names = list(features)
        categorical = None
    out = []
    for name in names:
        is_cat = None if categorical is None else name in categorical
        value = psi(reference[name], current[name], bins=bins, categorical=is_cat or None)
        out.append(Drift(name, value, value > threshold))
    if score_reference is not None and score_current is not None:
        value = psi(score_reference, score_current, bins=bins)
        out.append(Drift(SCORE, value, value > threshold))
    return out
