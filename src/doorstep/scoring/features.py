"""Model inputs: declared features, the protected attributes refused as inputs, and reusable
feature engineering for behavioural credit data.

A `Feature` names one model input and declares what the models may assume about it: the
risk direction (``+1``: a larger value means a larger probability of default, ``-1``: a
smaller one, ``0``: not declared), whether it is categorical, its labels in en and zh_CN
(for reason codes) and the raw columns it derives from. A `FeatureSet` refuses protected
attributes, and features derived from them, as model inputs: they belong in the fairness
report (`doorstep.scoring.fairness`), never in a score.

The engineering helpers are row-wise transformations only (no statistics of the whole
frame), so they can run once before cross-validation without leaking anything across
folds. Each returns an `Engineered` frame together with the `Feature` declarations of its
columns; dataset-specific column names stay with the caller.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.domain.errors import InvalidValue, ProtectedFeatureError, ScoringInputError

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

FloatArray = npt.NDArray[np.float64]

# --- protected attributes -----------------------------------------------------------------

PROTECTED: Mapping[str, str] = {
    "sex": "sex/gender",
    "age": "age",
    "marital_status": "marital status",
    "ethnicity": "ethnicity",
    "household_registration": "household-registration region",
    "national_id": "national ID (encodes birth date, sex and registration region)",
}
"""The protected attributes, by key, with a human description."""

# Words that make a column protected wherever they appear in its name.
_WORDS: Mapping[str, str] = {
    "sex": "sex",
    "gender": "sex",
    "marriage": "marital_status",
    "marital": "marital_status",
    "married": "marital_status",
    "spouse": "marital_status",
    "ethnicity": "ethnicity",
    "ethnic": "ethnicity",
    "race": "ethnicity",
    "minzu": "ethnicity",
    "hukou": "household_registration",
    "birth": "age",
    "birthday": "age",
    "birthdate": "age",
    "dob": "age",
}
# Whole names (lower case, separators removed) that are protected.
_NAMES: Mapping[str, str] = {
    "age": "age",
    "ages": "age",
    "ageyears": "age",
    "ageband": "age",
    "agegroup": "age",
    "agebucket": "age",
    "yearofbirth": "age",
    "nation": "ethnicity",
    "nationality": "ethnicity",
    "householdregistration": "household_registration",
    "householdregion": "household_registration",
    "householdaddress": "household_registration",
    "registrationregion": "household_registration",
    "registeredresidence": "household_registration",
    "idnumber": "national_id",
    "idno": "national_id",
    "idcard": "national_id",
    "nationalid": "national_id",
    "residentid": "national_id",
}
# The person-words after which "age" is the person's age ("borrower_age", "CustomerAge").
_AGE_OWNERS = frozenset(
    {"borrower", "customer", "applicant", "client", "holder", "cardholder", "person", "debtor"}
)
# With "household": the household-registration place, not the household's size or income.
_HOUSEHOLD = frozenset(
    {"registration", "registered", "register", "region", "address", "province", "city", "origin"}
)
# Chinese names: a protected attribute wherever the fragment appears.
_ZH: Mapping[str, str] = {
    "性别": "sex",
    "年龄": "age",
    "出生": "age",
    "生日": "age",
    "婚": "marital_status",
    "配偶": "marital_status",
    "民族": "ethnicity",
    "种族": "ethnicity",
    "户籍": "household_registration",
    "户口": "household_registration",
    "身份证": "national_id",
}
_TOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_|$)|[A-Z]?[a-z]+|\d+")


def _tokens(name: str) -> list[str]:
    ascii_part = unicodedata.normalize("NFKC", name)
    return [t.lower() for t in _TOKEN.findall(ascii_part)]


def protected_attribute(name: str) -> str | None:
    """The protected attribute key (see `PROTECTED`) that a column name denotes, or None.

    Recognises English names in any case and separator style (``SEX``, ``MaritalStatus``,
    ``borrower_age``, ``household-registration region``) and Chinese names (``性别``,
    ``婚姻状况``, ``户籍所在地``). "age" alone, first (``age_at_application``) or after a
    person word is protected; ``account_age`` or ``usage`` are not.
    """
    for fragment, key in _ZH.items():
        if fragment in name:
            return key
    tokens = _tokens(name)
    if not tokens:
        return None
    joined = "".join(tokens)
    if joined in _NAMES:
        return _NAMES[joined]
    for token in tokens:
        if token in _WORDS:
            return _WORDS[token]
    if "household" in tokens and _HOUSEHOLD & set(tokens):
        return "household_registration"
    if tokens[0] == "age":
        return "age"
    if len(tokens) >= 2 and tokens[-1] == "age" and tokens[-2] in _AGE_OWNERS:
        return "age"
    return None


def check_allowed(names: Iterable[str], sources: Mapping[str, Iterable[str]] | None = None) -> None:
    """Raise `ProtectedFeatureError` if any name, or any source a name derives from, is
    a protected attribute."""
    offending: dict[str, str] = {}
    sources = sources or {}
    for name in names:
        key = protected_attribute(name)
        if key is not None:
            offending[name] = PROTECTED[key]
            continue
        for source in sources.get(name, ()):
            key = protected_attribute(source)
            if key is not None:
                offending[name] = f"derived from {source!r}: {PROTECTED[key]}"
                break
    if offending:
        raise ProtectedFeatureError(offending)


# --- declarations -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Feature:
    """One model input. ``direction``: +1 riskier as it grows, -1 safer, 0 undeclared."""

    name: str
    direction: int = 0
    categorical: bool = False
    label_en: str = ""
    label_zh: str = ""
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidValue("a feature needs a name", message_zh="特征名称不能为空")
        if self.direction not in (-1, 0, 1):
            raise InvalidValue(
                f"feature {self.name!r}: direction must be -1, 0 or +1",
                message_zh=f"特征 {self.name!r}：方向只能是 -1、0 或 +1",
            )
        if self.categorical and self.direction:
            raise InvalidValue(
                f"feature {self.name!r}: a categorical feature has no direction",
                message_zh=f"特征 {self.name!r}：分类特征不能声明方向",
            )

    def label(self, locale: str = "en") -> str:
        """The feature's name for people: zh_CN or en, falling back to the column name."""
        if locale.lower().startswith("zh"):
            return self.label_zh or self.label_en or self.name
        return self.label_en or self.name


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """An ordered set of model inputs; building one refuses protected attributes."""

    features: tuple[Feature, ...]
    _index: dict[str, Feature] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        features = tuple(self.features)
        object.__setattr__(self, "features", features)
        if not features:
            raise InvalidValue("a feature set needs features", message_zh="特征集不能为空")
        names = [f.name for f in features]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise InvalidValue(
                f"duplicated features: {', '.join(duplicated)}",
                message_zh=f"特征重复：{', '.join(duplicated)}",
            )
        check_allowed(names, {f.name: f.sources for f in features})
        object.__setattr__(self, "_index", {f.name: f for f in features})

    @classmethod
    def of(cls, *items: Feature | str | Iterable[Feature | str]) -> FeatureSet:
        """Build from `Feature`s and plain names (undeclared direction, numeric)."""
        flat: list[Feature] = []
        for item in items:
            if isinstance(item, Feature | str):
                flat.append(item if isinstance(item, Feature) else Feature(item))
            else:
                flat.extend(f if isinstance(f, Feature) else Feature(f) for f in item)
        return cls(tuple(flat))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.categorical]

    def __iter__(self) -> Iterator[Feature]:
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> Feature:
        return self._index[name]

    def label(self, name: str, locale: str = "en") -> str:
        return self._index[name].label(locale)

    def without(self, *names: str) -> FeatureSet:
        drop = set(names)
        return FeatureSet(tuple(f for f in self.features if f.name not in drop))

    def frame(self, data: Any) -> pd.DataFrame:
        """The model's input columns of ``data`` (pandas, or polars converted), in order.

        Raises `ScoringInputError` naming every missing column.
        """
        if not isinstance(data, pd.DataFrame):
            to_pandas = getattr(data, "to_pandas", None)
            if to_pandas is None:
                raise ScoringInputError(["expected a pandas or polars DataFrame"])
            data = to_pandas()
        missing = [n for n in self.names if n not in data.columns]
        if missing:
            raise ScoringInputError([f"missing column {n!r}" for n in missing])
        return data[self.names]


def declare(
    features: Iterable[Feature | str],
    *,
    directions: Mapping[str, int] | None = None,
    labels: Mapping[str, tuple[str, str]] | None = None,
    categorical: Iterable[str] = (),
) -> tuple[Feature, ...]:
    """The features with directions, ``(label_en, label_zh)`` labels and the categorical
    flag set where given (names not mentioned are kept as they are)."""
    directions = directions or {}
    labels = labels or {}
    cats = set(categorical)
    out = []
    for item in features:
        f = item if isinstance(item, Feature) else Feature(item)
        en, zh = labels.get(f.name, (f.label_en, f.label_zh))
        out.append(
            replace(
                f,
                direction=0 if f.name in cats else directions.get(f.name, f.direction),
                categorical=f.categorical or f.name in cats,
                label_en=en,
                label_zh=zh,
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Engineered:
    """New columns (same index as the input) and their declarations."""

    frame: pd.DataFrame
    features: tuple[Feature, ...]

    def __add__(self, other: Engineered) -> Engineered:
        return Engineered(
            pd.concat([self.frame, other.frame], axis=1), self.features + other.features
        )


# --- engineering helpers ------------------------------------------------------------------


def _values(data: Any) -> FloatArray:
    return np.asarray(data, dtype=np.float64)


def safe_ratio(
    numerator: Any, denominator: Any, *, lower: float | None = None, upper: float | None = None
) -> FloatArray:
    """``numerator / denominator``, NaN where the denominator is not positive or missing,
    clipped to ``[lower, upper]`` when given."""
    num = _values(numerator)
    den = _values(denominator)
    ok = np.isfinite(den) & (den > 0)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=ok)
    if lower is not None or upper is not None:
        out = np.clip(out, lower, upper)
    return out


def row_slope(matrix: Any) -> FloatArray:
    """Least-squares slope of each row over equally spaced periods, oldest column first."""
    values = _values(matrix)
    n = values.shape[1]
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2
    centred = values - np.nanmean(values, axis=1, keepdims=True)
    return np.asarray(np.nansum(centred * t, axis=1) / float(np.sum(t * t)), dtype=np.float64)


def statement_history(
    data: pd.DataFrame,
    *,
    status: Sequence[str],
    balance: Sequence[str],
    paid: Sequence[str],
    limit: str | None = None,
    status_codes: Mapping[int, tuple[str, str, str]] | None = None,
    prefix: str = "",
) -> Engineered:
    """Features of a monthly statement history (cards, revolving lines, instalment loans).

    ``status``, ``balance`` and ``paid`` list one column per month, **newest first**:
    the months past due at each statement (<= 0: not late), the statement balance, and the
    amount paid in that month (which settles the *previous* statement, ``balance[i + 1]``).
    ``limit`` (the credit limit) adds utilisation features. ``status_codes`` maps special
    status values to ``(name, label_en, label_zh)`` to count months holding them.
    """
    n_rows = len(data)
    months = len(status)
    if not (months == len(balance) == len(paid)) or months < 2:
        raise InvalidValue(
            "status, balance and paid need the same number (>= 2) of monthly columns",
            message_zh="status、balance、paid 需要相同数量（至少 2 个）的月度列",
        )
    st = _values(data[list(status)])
    bal = _values(data[list(balance)])
    pay = _values(data[list(paid)])
    src_status, src_bal, src_pay = tuple(status), tuple(balance), tuple(paid)
    cols: dict[str, FloatArray] = {}
    decl: list[Feature] = []

    def add(
        name: str, values: Any, direction: int, en: str, zh: str, sources: tuple[str, ...]
    ) -> None:
        cols[prefix + name] = np.asarray(values, dtype=np.float64).reshape(n_rows)
        decl.append(Feature(prefix + name, direction, False, en, zh, sources))

    late = st >= 1
    add("months_late", late.sum(1), 1, "months paid late", "逾期月数", src_status)
    recent = min(3, months)
    add(
        "months_late_recent",
        late[:, :recent].sum(1),
        1,
        f"months late in the last {recent}",
        f"近{recent}个月逾期月数",
        src_status,
    )
    add("max_delay", st.max(1), 0, "worst delay (months)", "最长逾期（月）", src_status)
    add(
        "delay_sum",
        np.clip(st, 0, None).sum(1),
        1,
        "sum of monthly delays",
        "逾期月数累计",
        src_status,
    )
    streak = np.argmax(np.concatenate([~late, np.ones((n_rows, 1), bool)], axis=1), axis=1)
    add("late_streak", streak, 1, "consecutive recent months late", "连续逾期月数", src_status)
    add(
        "delay_change",
        st[:, 0] - st[:, 1],
        0,
        "change in delay since last month",
        "逾期较上月变化",
        src_status[:2],
    )
    for code, (name, en, zh) in (status_codes or {}).items():
        add(f"months_{name}", (st == code).sum(1), 0, en, zh, src_status)

    ratios = np.column_stack(
        [safe_ratio(pay[:, i], bal[:, i + 1], lower=0.0, upper=5.0) for i in range(months - 1)]
    )
    for i in range(months - 1):
        add(
            f"pay_ratio_{i + 1}",
            ratios[:, i],
            0,
            f"share of the bill paid, month {i + 1}",
            f"第{i + 1}月账单还款比例",
            (src_pay[i], src_bal[i + 1]),
        )
    add(
        "pay_ratio_total",
        safe_ratio(pay[:, :-1].sum(1), bal[:, 1:].sum(1), lower=0.0, upper=5.0),
        0,
        "share of bills paid over the history",
        "历史账单还款比例",
        src_pay[:-1] + src_bal[1:],
    )
    add(
        "months_short_paid",
        (pay[:, :-1] < bal[:, 1:]).sum(1),
        0,
        "months paying less than the bill",
        "未足额还款月数",
        src_pay[:-1] + src_bal[1:],
    )
    add("months_no_payment", (pay == 0).sum(1), 0, "months with no payment", "未还款月数", src_pay)
    half = months // 2
    add(
        "paid_trend",
        np.log1p(np.clip(pay[:, :half], 0, None).mean(1))
        - np.log1p(np.clip(pay[:, half:], 0, None).mean(1)),
        0,
        "recent payments vs earlier (log)",
        "近期还款额相对变化",
        src_pay,
    )
    add("paid_mean", pay.mean(1), 0, "average monthly payment", "月均还款额", src_pay)
    add("balance_mean", bal.mean(1), 0, "average bill", "月均账单额", src_bal)
    add(
        "balance_trend",
        row_slope(bal[:, ::-1]),
        0,
        "bill trend (per month)",
        "账单金额趋势",
        src_bal,
    )
    if limit is not None:
        lim = _values(data[limit])
        util = np.column_stack([safe_ratio(bal[:, i], lim) for i in range(months)])
        src_lim = (limit,)
        for i in range(months):
            add(
                f"utilisation_{i + 1}",
                util[:, i],
                0,
                f"utilisation, month {i + 1}",
                f"第{i + 1}月额度使用率",
                (src_bal[i], limit),
            )
        add(
            "utilisation_mean",
            np.nanmean(util, 1),
            0,
            "average utilisation",
            "平均额度使用率",
            src_bal + src_lim,
        )
        add(
            "utilisation_max",
            np.nanmax(util, 1),
            0,
            "highest utilisation",
            "最高额度使用率",
            src_bal + src_lim,
        )
        add(
            "utilisation_trend",
            row_slope(util[:, ::-1]),
            0,
            "utilisation trend (per month)",
            "额度使用率趋势",
            src_bal + src_lim,
        )
        add(
            "available_credit",
            lim - bal[:, 0],
            0,
            "credit still available",
            "剩余可用额度",
            (src_bal[0], limit),
        )
        add(
            "unpaid_share",
            safe_ratio(bal[:, 1] - pay[:, 0], lim),
            0,
            "last bill left unpaid, share of limit",
            "上期未还金额占额度比例",
            (src_bal[1], src_pay[0], limit),
        )
    frame = pd.DataFrame(cols, index=data.index)
    return Engineered(frame, tuple(decl))


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
    values = {c: _values(data[c]) for c in columns}
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
    ratio = _values(data[debt_ratio])
    inc = _values(data[income])
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
        dep = np.nan_to_num(_values(data[dependents]), nan=0.0)
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
