"""Reusable row-wise feature engineering for behavioural credit data.

Only row-wise transformations (no statistics of the whole frame), so they can run once
before cross-validation without leaking anything across folds. Each returns an
`Engineered` frame with the `Feature` declarations of its columns; dataset-specific
column names stay with the caller. The monthly statement history is in
`doorstep.scoring.statements`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.scoring.declarations import Engineered, Feature

__all__ = ["FloatArray", "as_floats", "cap_sentinels", "debt_and_income", "row_slope", "safe_ratio"]

FloatArray = npt.NDArray[np.float64]


def as_floats(data: Any) -> FloatArray:
    """The values as a float64 array (NaN stays NaN)."""
    return np.asarray(data, dtype=np.float64)


def safe_ratio(
    numerator: Any, denominator: Any, *, lower: float | None = None, upper: float | None = None
) -> FloatArray:
    """``numerator / denominator``, NaN where the denominator is not positive or missing,
    clipped to ``[lower, upper]`` when given."""
    num = as_floats(numerator)
    den = as_floats(denominator)
    ok = np.isfinite(den) & (den > 0)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=ok)
    if lower is not None or upper is not None:
        out = np.clip(out, lower, upper)
    return out


def row_slope(matrix: Any) -> FloatArray:
    """Least-squares slope of each row over equally spaced periods, oldest column first."""
    values = as_floats(matrix)
    n = values.shape[1]
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2
    centred = values - np.nanmean(values, axis=1, keepdims=True)
    return np.asarray(np.nansum(centred * t, axis=1) / float(np.sum(t * t)), dtype=np.float64)


def cap_sentinels(
    data: pd.DataFrame,
    columns: Sequence[str],
    *,
    codes: Sequence[float] = (96, 98),
    suffix: str = "_capped",
    flag: str = "sentinel_code",
    label_en: str = "a count held a reserved code",
    label_zh: str = "计数字段为保留代码",
) -> Engineered:
    """The columns (renamed with ``suffix``) with their reserved codes (e.g. 96/98 in
    past-due counts) turned into missing values, and a 0/1 ``flag`` of rows where any of
    them held one."""
    values = {c: as_floats(data[c]) for c in columns}
    hit = np.zeros(len(data), dtype=bool)
    cols: dict[str, FloatArray] = {}
    for c, v in values.items():
        is_code = np.isin(v, np.asarray(codes, dtype=np.float64))
        hit |= is_code
        cols[c + suffix] = np.where(is_code, np.nan, v)
    cols[flag] = hit.astype(np.float64)
    decl = tuple(Feature(c + suffix, 0, False, sources=(c,)) for c in columns)
    decl += (Feature(flag, 0, False, label_en, label_zh, tuple(columns)),)
    return Engineered(pd.DataFrame(cols, index=data.index), decl)


def debt_and_income(
    data: pd.DataFrame,
    *,
    debt_ratio: str,
    income: str,
    dependents: str | None = None,
    prefix: str = "",
) -> Engineered:
    """Debt-service features from a debt-to-income ratio and a monthly income.

    ``debt_amount`` = ratio × income where income is known; where it is missing the ratio
    column often holds an amount (a common data-entry convention), kept apart as
    ``debt_no_income``; ``debt_ratio_known`` is the ratio only where income is known.
    """
    ratio = as_floats(data[debt_ratio])
    inc = as_floats(data[income])
    known = np.isfinite(inc) & (inc > 0)
    cols: dict[str, FloatArray] = {
        f"{prefix}income_missing": (~np.isfinite(inc)).astype(np.float64),
        f"{prefix}debt_amount": np.where(known, ratio * inc, np.nan),
        f"{prefix}debt_no_income": np.where(known, np.nan, ratio),
        f"{prefix}debt_ratio_known": np.where(known, ratio, np.nan),
    }
    both = (debt_ratio, income)
    decl = [
        Feature(
            f"{prefix}income_missing", 0, False, "income not declared", "收入未申报", (income,)
        ),
        Feature(f"{prefix}debt_amount", 0, False, "monthly debt payments", "月度偿债金额", both),
        Feature(
            f"{prefix}debt_no_income", 0, False, "debt (income unknown)", "负债（收入未知）", both
        ),
        Feature(f"{prefix}debt_ratio_known", 0, False, "debt-to-income ratio", "债务收入比", both),
    ]
    if dependents is not None:
        dep = np.nan_to_num(as_floats(data[dependents]), nan=0.0)
        cols[f"{prefix}income_per_person"] = safe_ratio(inc, dep + 1)
        decl.append(
            Feature(
                f"{prefix}income_per_person",
                0,
                False,
                "income per household member",
                "家庭人均收入",
                (income, dependents),
            )
        )
    return Engineered(pd.DataFrame(cols, index=data.index), tuple(decl))
