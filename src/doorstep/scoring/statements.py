"""Features of a monthly statement history (cards, revolving lines, instalment loans).

`statement_history` reads one column per month, newest first, of the months past due at
each statement, the statement balance and the amount paid, and builds its features in
three groups: delays, payments against the bills, and (given a credit limit) utilisation.
Row-wise only, like the rest of `doorstep.scoring.engineering`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from doorstep.domain.errors import InvalidValue
from doorstep.scoring.declarations import Engineered, Feature
from doorstep.scoring.engineering import FloatArray, as_floats, row_slope, safe_ratio

__all__ = ["statement_history"]


@dataclass(frozen=True)
class _History:
    """The monthly matrices (one row per account, newest month first) and their columns."""

    status: FloatArray
    balance: FloatArray
    paid: FloatArray
    src_status: tuple[str, ...]
    src_balance: tuple[str, ...]
    src_paid: tuple[str, ...]

    @property
    def months(self) -> int:
        return len(self.src_status)


@dataclass
class _Columns:
    """The features as they are added: columns in order, each with its declaration."""

    rows: int
    prefix: str
    columns: dict[str, FloatArray] = field(default_factory=dict)
    declared: list[Feature] = field(default_factory=list)

    def add(
        self, name: str, values: Any, direction: int, en: str, zh: str, sources: tuple[str, ...]
    ) -> None:
        self.columns[self.prefix + name] = np.asarray(values, dtype=np.float64).reshape(self.rows)
        self.declared.append(Feature(self.prefix + name, direction, False, en, zh, sources))


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
    history = _read(data, status, balance, paid)
    out = _Columns(len(data), prefix)
    _add_delays(out, history, status_codes or {})
    _add_bill_payments(out, history)
    _add_amounts(out, history)
    if limit is not None:
        _add_utilisation(out, history, as_floats(data[limit]), limit)
    frame = pd.DataFrame(out.columns, index=data.index)
    return Engineered(frame, tuple(out.declared))


def _read(
    data: pd.DataFrame, status: Sequence[str], balance: Sequence[str], paid: Sequence[str]
) -> _History:
    months = len(status)
    if not (months == len(balance) == len(paid)) or months < 2:
        raise InvalidValue(
            "status, balance and paid need the same number (>= 2) of monthly columns",
            message_zh="status、balance、paid 需要相同数量（至少 2 个）的月度列",
        )
    return _History(
        as_floats(data[list(status)]),
        as_floats(data[list(balance)]),
        as_floats(data[list(paid)]),
        tuple(status),
        tuple(balance),
        tuple(paid),
    )


def _add_delays(
    out: _Columns, h: _History, status_codes: Mapping[int, tuple[str, str, str]]
) -> None:
    """How often, how long and how recently the account was late."""
    st, src = h.status, h.src_status
    late = st >= 1
    out.add("months_late", late.sum(1), 1, "months paid late", "逾期月数", src)
    recent = min(3, h.months)
    out.add(
        "months_late_recent",
        late[:, :recent].sum(1),
        1,
        f"months late in the last {recent}",
        f"近{recent}个月逾期月数",
        src,
    )
    out.add("max_delay", st.max(1), 0, "worst delay (months)", "最长逾期（月）", src)
    out.add(
        "delay_sum", np.clip(st, 0, None).sum(1), 1, "sum of monthly delays", "逾期月数累计", src
    )
    # the first month not late, newest first, is the length of the current streak
    streak = np.argmax(np.concatenate([~late, np.ones((out.rows, 1), bool)], axis=1), axis=1)
    out.add("late_streak", streak, 1, "consecutive recent months late", "连续逾期月数", src)
    out.add(
        "delay_change",
        st[:, 0] - st[:, 1],
        0,
        "change in delay since last month",
        "逾期较上月变化",
        src[:2],
    )
    for code, (name, en, zh) in status_codes.items():
        out.add(f"months_{name}", (st == code).sum(1), 0, en, zh, src)


def _add_bill_payments(out: _Columns, h: _History) -> None:
    """The share of each bill paid (month i's payment settles the bill of month i + 1)."""
    bal, pay, src_bal, src_pay = h.balance, h.paid, h.src_balance, h.src_paid
    months = h.months
    ratios = np.column_stack(
        [safe_ratio(pay[:, i], bal[:, i + 1], lower=0.0, upper=5.0) for i in range(months - 1)]
    )
    for i in range(months - 1):
        out.add(
            f"pay_ratio_{i + 1}",
            ratios[:, i],
            0,
            f"share of the bill paid, month {i + 1}",
            f"第{i + 1}月账单还款比例",
            (src_pay[i], src_bal[i + 1]),
        )
    out.add(
        "pay_ratio_total",
        safe_ratio(pay[:, :-1].sum(1), bal[:, 1:].sum(1), lower=0.0, upper=5.0),
        0,
        "share of bills paid over the history",
        "历史账单还款比例",
        src_pay[:-1] + src_bal[1:],
    )
    out.add(
        "months_short_paid",
        (pay[:, :-1] < bal[:, 1:]).sum(1),
        0,
        "months paying less than the bill",
        "未足额还款月数",
        src_pay[:-1] + src_bal[1:],
    )


def _add_amounts(out: _Columns, h: _History) -> None:
    """Levels and trends of the payments and the bills."""
    bal, pay, src_bal, src_pay = h.balance, h.paid, h.src_balance, h.src_paid
    out.add(
        "months_no_payment", (pay == 0).sum(1), 0, "months with no payment", "未还款月数", src_pay
    )
    half = h.months // 2
    out.add(
        "paid_trend",
        np.log1p(np.clip(pay[:, :half], 0, None).mean(1))
        - np.log1p(np.clip(pay[:, half:], 0, None).mean(1)),
        0,
        "recent payments vs earlier (log)",
        "近期还款额相对变化",
        src_pay,
    )
    out.add("paid_mean", pay.mean(1), 0, "average monthly payment", "月均还款额", src_pay)
    out.add("balance_mean", bal.mean(1), 0, "average bill", "月均账单额", src_bal)
    out.add(
        "balance_trend",
        row_slope(bal[:, ::-1]),
        0,
        "bill trend (per month)",
        "账单金额趋势",
        src_bal,
    )


def _add_utilisation(out: _Columns, h: _History, lim: FloatArray, limit: str) -> None:
    """Each bill as a share of the credit limit, and what is left of the limit."""
    bal, pay, src_bal, src_pay = h.balance, h.paid, h.src_balance, h.src_paid
    util = np.column_stack([safe_ratio(bal[:, i], lim) for i in range(h.months)])
    both = (*src_bal, limit)
    for i in range(h.months):
        out.add(
            f"utilisation_{i + 1}",
            util[:, i],
            0,
            f"utilisation, month {i + 1}",
            f"第{i + 1}月额度使用率",
            (src_bal[i], limit),
        )
    out.add(
        "utilisation_mean", np.nanmean(util, 1), 0, "average utilisation", "平均额度使用率", both
    )
    out.add("utilisation_max", np.nanmax(util, 1), 0, "highest utilisation", "最高额度使用率", both)
    out.add(
        "utilisation_trend",
        row_slope(util[:, ::-1]),
        0,
        "utilisation trend (per month)",
        "额度使用率趋势",
        both,
    )
    out.add(
        "available_credit",
        lim - bal[:, 0],
        0,
        "credit still available",
        "剩余可用额度",
        (src_bal[0], limit),
    )
    out.add(
        "unpaid_share",
        safe_ratio(bal[:, 1] - pay[:, 0], lim),
        0,
        "last bill left unpaid, share of limit",
        "上期未还金额占额度比例",
        (src_bal[1], src_pay[0], limit),
    )
