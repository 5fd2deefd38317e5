"""Fairness across groups of a protected attribute (which is never a model input).

For each group: its size, score distribution, and selection rate (the share selected, e.g.
for a visit). The adverse impact ratio (AIR) of a group is its selection rate divided by
the reference group's, by default the group with the highest rate (the "four-fifths
rule"): an AIR below 0.8 is warned about. When the selection is a burden (a home visit)
rather than a benefit, the same ratio shows the disparity from the other side: the
reference group is the one selected most often.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.domain.errors import InvalidValue

__all__ = ["AIR_WARN_BELOW", "FairnessReport", "GroupStats", "adverse_impact_ratios", "report"]

AIR_WARN_BELOW = 0.8


@dataclass(frozen=True, slots=True)
class GroupStats:
    group: str
    n: int
    selected: int
    selection_rate: float
    air: float  # NaN when the reference group's rate is 0
    score_mean: float = math.nan
    score_p10: float = math.nan
    score_p50: float = math.nan
    score_p90: float = math.nan

    @property
    def warned(self) -> bool:
        return self.air < AIR_WARN_BELOW  # NaN compares False


@dataclass(frozen=True, slots=True)
class FairnessReport:
    attribute: str
    reference: str
    groups: tuple[GroupStats, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def min_air(self) -> float:
        values = [g.air for g in self.groups if not math.isnan(g.air)]
        return min(values) if values else math.nan


def _groups_and_selected(groups: Any, selected: Any) -> tuple[pd.Series, Any]:
    g = pd.Series(np.asarray(groups, dtype=object)).fillna("(missing)").astype(str)
    s = np.asarray(selected)
    if s.shape != (len(g),):
        raise InvalidValue(
            "one selection flag per group value", message_zh="每个分组值需要一个选择标记"
        )
    return g, s.astype(bool)


def adverse_impact_ratios(
    groups: Any, selected: Any, *, reference: str | None = None
) -> tuple[str, dict[str, float], dict[str, float]]:
    """(reference group, selection rate per group, AIR per group)."""
    g, s = _groups_and_selected(groups, selected)
    rates = {str(k): float(v) for k, v in pd.Series(s).groupby(g.to_numpy()).mean().items()}
    if not rates:
        raise InvalidValue("no groups", message_zh="没有分组")
    if reference is None:
        reference = max(sorted(rates), key=lambda k: rates[k])
    elif reference not in rates:
        raise InvalidValue(
            f"reference group {reference!r} not present", message_zh=f"参照组 {reference!r} 不存在"
        )
    ref_rate = rates[reference]
    air = {k: (r / ref_rate if ref_rate > 0 else math.nan) for k, r in rates.items()}
    return reference, rates, air


def report(
    groups: Any,
    selected: Any,
    scores: Any = None,
    *,
    attribute: str = "group",
    reference: str | None = None,
    threshold: float = AIR_WARN_BELOW,
) -> FairnessReport:
    """Selection rates, AIR and score distribution per group; warnings below ``threshold``."""
    g, s = _groups_and_selected(groups, selected)
    reference, rates, air = adverse_impact_ratios(g, s, reference=reference)
    sc = None if scores is None else np.asarray(scores, dtype=np.float64)
    stats = []
    warnings = []
    for name in sorted(rates):
        mask = (g == name).to_numpy()
        quantiles = [math.nan] * 4
        if sc is not None:
            values = sc[mask]
            quantiles = [float(values.mean()), *map(float, np.quantile(values, [0.1, 0.5, 0.9]))]
        stat = GroupStats(
            name, int(mask.sum()), int(s[mask].sum()), rates[name], air[name], *quantiles
        )
        stats.append(stat)
        if stat.air < threshold:
            warnings.append(
                f"{attribute}={name}: selection rate {stat.selection_rate:.3f} is "
                f"{stat.air:.2f} of {reference}'s {rates[reference]:.3f} (below {threshold})"
            )
    return FairnessReport(attribute, reference, tuple(stats), tuple(warnings))
