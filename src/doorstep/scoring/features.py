"""Model inputs, in one place: declared features, the protected attributes refused as
inputs, and reusable feature engineering for behavioural credit data.

* `doorstep.scoring.declarations`: `Feature`, `FeatureSet`, `declare`, `Engineered`;
* `doorstep.scoring.protected`: `PROTECTED`, `protected_attribute`, `check_allowed`;
* `doorstep.scoring.engineering`: `safe_ratio`, `row_slope`, `cap_sentinels`,
  `debt_and_income`;
* `doorstep.scoring.statements`: `statement_history`.

A `FeatureSet` refuses protected attributes, and features derived from them, as model
inputs: they belong in the fairness report (`doorstep.scoring.fairness`), never in a score.
"""

from __future__ import annotations

from doorstep.scoring.declarations import Engineered, Feature, FeatureSet, declare
from doorstep.scoring.engineering import cap_sentinels, debt_and_income, row_slope, safe_ratio
from doorstep.scoring.protected import PROTECTED, check_allowed, protected_attribute
from doorstep.scoring.statements import statement_history

__all__ = [
    "PROTECTED",
    "Engineered",
    "Feature",
    "FeatureSet",
    "cap_sentinels",
    "check_allowed",
    "debt_and_income",
    "declare",
    "protected_attribute",
    "row_slope",
    "safe_ratio",
    "statement_history",
]
