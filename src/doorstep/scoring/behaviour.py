"""The ``visit_priority`` purpose: a customer's behaviour up to an as-of date, as features,
and whether they cured in the 30 days after it, as the label.

Everything here is computed from frames the store reads (no database access): the loans,
their installments and payments, contact points and attempts, promises to pay, and the
per-loan delinquency snapshots of the as-of date and of the three 30-day steps before it
(computed by the delinquency kernel, so the figures are the batch's own). Only facts
dated on or before the as-of date are used: payments by ``paid_on``, contact points by
``observed_at``, attempts by ``attempted_at``, promises by ``judged_on``, loans by
``disbursed_on``. (A contact point's status and trust are its current ones: for a
training date in the past they may hold a later call's finding; the demo has none.)

Protected attributes never appear: gender and birth date are not read, and the
household-registration address (``kind = household``) is left out of address trust.

Label: the population on a date is the customers past due on it (worst DPD > 0); the
event (1) is *not cured*: still past due 30 days later (the replay of the later as-of
date), whatever happened in between.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import polars as pl

from doorstep.scoring.features import Feature, FeatureSet

__all__ = [
    "HISTORY_STEPS",
    "HORIZON_DAYS",
    "STEP_DAYS",
    "VISIT_PRIORITY",
    "BookFrames",
    "customer_delinquency",
    "features",
    "history_days",
    "labels",
    "visit_priority_features",
]

VISIT_PRIORITY = "visit_priority"
HORIZON_DAYS = 30  # the label: still past due this many days after the as-of date
STEP_DAYS = 30  # DPD history is read at as-of - 30, - 60, - 90
HISTORY_STEPS = 3
GRACE_DAYS, HALF_LIFE_DAYS = 90, 365  # as domain.contact.effective_confidence

_F = Feature
FEATURES: tuple[Feature, ...] = (
    _F("max_dpd", 1, False, "days past due", "逾期天数", ("delinquency.dpd",)),
    _F("overdue_yuan", 0, False, "overdue amount (yuan)", "逾期金额（元）",
       ("delinquency.overdue",)),
    _F("outstanding_yuan", 0, False, "outstanding principal (yuan)", "剩余本金（元）",
       ("delinquency.outstanding_principal",)),
    _F("overdue_share", 0, False, "overdue share of the balance", "逾期金额占剩余本金比例",
       ("delinquency.overdue", "delinquency.outstanding_principal")),
    _F("loans_past_due", 0, False, "loans past due", "逾期贷款笔数", ("delinquency.dpd",)),
    _F("loans_open", 0, False, "loans open", "在贷笔数", ("loans.loan_id",)),
    _F("paid_down_share", 0, False, "share of principal repaid", "已还本金比例",
       ("loans.principal", "delinquency.outstanding_principal")),
    _F("annual_rate", 0, False, "highest annual rate", "最高年利率", ("loans.annual_rate",)),
    _F("months_on_book", 0, False, "months since the first loan", "首笔贷款至今月数",
       ("loans.disbursed_on",)),
    _F("dpd_30_days_ago", 0, False, "days past due 30 days earlier", "30天前逾期天数",
       ("delinquency.dpd",)),
    _F("dpd_change_30", 0, False, "change in DPD over 30 days", "近30天逾期天数变化",
       ("delinquency.dpd",)),
    _F("overdue_steps_90", 0, False, "past due at the last three month steps",
       "近三个月逾期次数", ("delinquency.dpd",)),
    _F("installments_paid_late", 0, False, "installments paid late, then settled",
       "曾逾期后还清的期数", ("installments.due_on", "payments.paid_on")),
    _F("max_days_late_settled", 0, False, "longest delay of a settled installment",
       "已还清期数的最长逾期天数", ("installments.due_on", "payments.paid_on")),
    _F("mean_days_late_12m", 0, False, "average delay, last 12 months", "近12个月平均逾期天数",
       ("installments.due_on", "payments.paid_on")),
    _F("late_trend", 0, False, "delay of the last 3 installments vs the 3 before",
       "近3期与前3期逾期天数之差", ("installments.due_on", "payments.paid_on")),
    _F("days_since_payment", 1, False, "days since the last payment", "距上次还款天数",
       ("payments.paid_on",)),
    _F("paid_90_ratio", 0, False, "paid vs due, last 90 days", "近90天实还/应还",
       ("payments.amount", "installments.amount_due")),
    _F("payments_trend", 0, False, "payments, last 90 days vs the 90 before (log)",
       "近90天还款额相对前90天变化", ("payments.amount",)),
    _F("partial_payments_180", 0, False, "partial payments, last 180 days",
       "近180天部分还款次数", ("payments.amount", "installments.amount_due")),
    _F("manual_payment_share", 0, False, "share of payments not by auto-debit",
       "非自动扣款还款占比", ("payments.channel",)),
    _F("phones_valid", 0, False, "phones not found invalid", "有效电话数",
       ("contact_points.status",)),
    _F("phones_invalid", 0, False, "phones found invalid", "无效电话数",
       ("contact_points.status",)),
    _F("phone_confidence", 0, False, "best phone trust", "电话最高可信度",
       ("contact_points.confidence",)),
    _F("address_confidence", 0, False, "best address trust", "地址最高可信度",
       ("contact_points.confidence",)),
    _F("residence_addresses", 0, False, "residence addresses on file", "居住地址条数",
       ("contact_points.kind",)),
    _F("attempts_90", 0, False, "contact attempts, last 90 days", "近90天联系次数",
       ("contact_attempts.attempted_at",)),
    _F("reached_share", 0, False, "share of contact attempts that reached",
       "联系接通率", ("contact_attempts.result",)),
    _F("promises_kept", 0, False, "promises to pay kept", "履行的还款承诺数",
       ("promises_to_pay.status",)),
    _F("promises_broken", 0, False, "promises to pay broken", "未履行的还款承诺数",
       ("promises_to_pay.status",)),
)  # fmt: skip


def visit_priority_features() -> FeatureSet:
    """The declared inputs of ``visit_priority`` (refuses protected attributes)."""
    return FeatureSet(FEATURES)


@dataclass(frozen=True)
class BookFrames:
    """The book as the store reads it (see `doorstep.store.repositories.scoring`)."""

    loans: pl.DataFrame  # loan_id, customer_id, principal, annual_rate, term_months, disbursed_on
    installments: pl.DataFrame  # loan_id, due_on, amount_due
    payments: pl.DataFrame  # loan_id, paid_on, amount, channel
    contacts: pl.DataFrame  # point_id, customer_id, channel, kind, source, status, confidence,
    #                         observed_at
    attempts: pl.DataFrame  # customer_id, channel, result, attempted_at
    promises: pl.DataFrame  # customer_id, status, due_on, judged_on


def history_days(as_of: date) -> list[date]:
    """The as-of date and the DPD-history dates before it, newest first."""
    return [as_of - timedelta(days=STEP_DAYS * k) for k in range(HISTORY_STEPS + 1)]


def customer_delinquency(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Per customer: worst DPD, overdue total, outstanding principal (fen), loans past due
    and open, from per-loan snapshots (with customer_id)."""
    overdue = (
        pl.col("overdue_principal")
        + pl.col("overdue_interest")
        + pl.col("overdue_fee")
        + pl.col("overdue_penalty")
    )
    return snapshots.group_by("customer_id").agg(
        pl.col("dpd").max().alias("max_dpd"),
        overdue.sum().alias("overdue"),
        pl.col("outstanding_principal").sum().alias("outstanding"),
        (pl.col("dpd") > 0).sum().alias("loans_past_due"),
        ((pl.col("outstanding_principal") > 0) | (overdue > 0)).sum().alias("loans_open"),
    )


def labels(now: pl.DataFrame, later: pl.DataFrame) -> pl.DataFrame:
    """customer_id, not_cured (0/1) for the customers past due in ``now`` (per-customer
    delinquency frames of the as-of date and of 30 days later)."""
    past_due = now.filter(pl.col("max_dpd") > 0).select("customer_id").sort("customer_id")
    return (
        past_due.join(later.select("customer_id", "max_dpd"), on="customer_id", how="left")
        .select(
            "customer_id",
            (pl.col("max_dpd").fill_null(0) > 0).cast(pl.Int64).alias("not_cured"),
        )
        .sort("customer_id")
    )


def _days(expr: pl.Expr, as_of: date) -> pl.Expr:
    return (pl.lit(as_of) - expr).dt.total_days()


def _settlement(book: BookFrames, as_of: date) -> pl.DataFrame:
    """Per installment due by ``as_of``: the day the loan's payments (in date order) first
    covered it and everything before it, and its delay in days (to ``as_of`` if still
    unpaid). Penalty is ignored: a behavioural measure, not the ledger."""
    inst = (
        book.installments.filter(pl.col("due_on") <= as_of)
        .sort("loan_id", "due_on")
        .with_columns(pl.col("amount_due").cum_sum().over("loan_id").alias("cum_due"))
    )
    pays = (
        book.payments.filter(pl.col("paid_on") <= as_of)
        .sort("loan_id", "paid_on")
        .with_columns(pl.col("amount").cum_sum().over("loan_id").alias("cum_paid"))
        .select("loan_id", "cum_paid", "paid_on")
    )
    settled = inst.sort("cum_due").join_asof(
        pays.sort("cum_paid"),
        left_on="cum_due",
        right_on="cum_paid",
        by="loan_id",
        strategy="forward",
        check_sortedness=False,
    )
    return settled.with_columns(
        pl.col("paid_on").is_not_null().alias("settled"),
        pl.when(pl.col("paid_on").is_not_null())
        .then((pl.col("paid_on") - pl.col("due_on")).dt.total_days())
        .otherwise(_days(pl.col("due_on"), as_of))
        .clip(lower_bound=0)
        .alias("days_late"),
    ).sort("loan_id", "due_on")


def _effective(confidence: pl.Expr, observed: pl.Expr, as_of: date) -> pl.Expr:
    age = (pl.lit(_end_of(as_of)) - observed).dt.total_seconds() / 86400.0
    excess = pl.max_horizontal(age - GRACE_DAYS, pl.lit(0.0))
    return confidence * (pl.lit(0.5) ** (excess / HALF_LIFE_DAYS))


def _end_of(as_of: date) -> datetime:
    """The last instant of the as-of date: timestamps up to it count as known then."""
    return datetime.combine(as_of, time.max, tzinfo=UTC)


def features(
    book: BookFrames,
    delinquency: Mapping[date, pl.DataFrame],
    as_of: date,
    customers: Sequence[str],
) -> pd.DataFrame:
    """One row per customer in ``customers`` (the index, in that order) with the
    ``visit_priority`` features on ``as_of``. ``delinquency`` holds the per-customer
    frames (`customer_delinquency`) of every day in `history_days`."""
    people = pl.DataFrame({"customer_id": list(customers)}, schema={"customer_id": pl.Utf8})
    loans = book.loans.filter(pl.col("disbursed_on") <= as_of)
    owner = loans.select("loan_id", "customer_id")
    parts = [
        *_delinquency_history(delinquency, as_of),
        _loan_terms(loans),
        *_payment_timing(book, as_of, owner),
        *_payments(book, as_of, owner),
        *_contactability(book, as_of),
    ]
    frame = people
    for part in parts:  # one row per customer in each part
        frame = frame.join(part, on="customer_id", how="left")
    f = frame.to_pandas().set_index("customer_id")
    out = pd.DataFrame(index=f.index)
    _standing_columns(out, f, as_of)
    _behaviour_columns(out, f, as_of)
    names = [feature.name for feature in FEATURES]
    # joins need not keep the row order: put the rows back in the order asked for
    result = out[names].astype("float64").loc[list(customers)]
    result = result.replace([math.inf, -math.inf], np.nan)
    result.index.name = "customer_id"
    return result


def _delinquency_history(
    delinquency: Mapping[date, pl.DataFrame], as_of: date
) -> list[pl.DataFrame]:
    """The as-of date's per-customer delinquency, then the worst DPD of each earlier step
    (``dpd_1`` 30 days before, ``dpd_2``, ``dpd_3``)."""
    days = history_days(as_of)
    earlier = [
        delinquency[d].select("customer_id", pl.col("max_dpd").alias(f"dpd_{k}"))
        for k, d in enumerate(days[1:], start=1)
    ]
    return [delinquency[as_of], *earlier]


def _loan_terms(loans: pl.DataFrame) -> pl.DataFrame:
    """Principal lent, highest rate and first disbursement of the loans out by then."""
    return loans.group_by("customer_id").agg(
        pl.col("principal").sum().alias("principal"),
        pl.col("annual_rate").max().alias("annual_rate"),
        pl.col("disbursed_on").min().alias("first_disbursed"),
    )


def _payment_timing(book: BookFrames, as_of: date, owner: pl.DataFrame) -> list[pl.DataFrame]:
    """How late installments were settled: counts and delays, and the trend of the
    last three installments' delay against the three before (worst loan)."""
    settled = _settlement(book, as_of).join(owner, on="loan_id", how="inner")
    last12 = as_of - timedelta(days=365)
    timing = settled.group_by("customer_id").agg(
        (pl.col("settled") & (pl.col("days_late") > 0)).sum().alias("installments_paid_late"),
        pl.col("days_late").filter(pl.col("settled")).max().alias("max_days_late_settled"),
        pl.col("days_late").filter(pl.col("due_on") > last12).mean().alias("mean_days_late_12m"),
    )
    recent = settled.sort("due_on", descending=True).group_by("loan_id", maintain_order=True)
    trend = (
        recent.agg(
            pl.col("days_late").head(3).mean().alias("last3"),
            pl.col("days_late").slice(3, 3).mean().alias("prev3"),
        )
        .join(owner, on="loan_id")
        .group_by("customer_id")
        .agg((pl.col("last3") - pl.col("prev3")).max().alias("late_trend"))
    )
    return [timing, trend]


def _payments(book: BookFrames, as_of: date, owner: pl.DataFrame) -> list[pl.DataFrame]:
    """Payments up to the as-of date (last one, amounts by 90-day period, partial and
    manual ones) and the amount due in the last 90 days."""
    pays = book.payments.filter(pl.col("paid_on") <= as_of).join(owner, on="loan_id")
    regular = book.installments.group_by("loan_id").agg(
        pl.col("amount_due").median().alias("regular")
    )
    pays = pays.join(regular, on="loan_id", how="left")
    age = _days(pl.col("paid_on"), as_of)
    paid = pays.group_by("customer_id").agg(
        pl.col("paid_on").max().alias("last_paid"),
        pl.col("amount").filter(age < 90).sum().alias("paid_90"),
        pl.col("amount").filter((age >= 90) & (age < 180)).sum().alias("paid_prev_90"),
        ((pl.col("amount") < 0.9 * pl.col("regular")) & (age < 180))
        .sum()
        .alias("partial_payments_180"),
        (pl.col("channel") != "auto_debit").filter(age < 365).mean().alias("manual_payment_share"),
    )
    due = (
        book.installments.filter(
            (pl.col("due_on") <= as_of) & (pl.col("due_on") > as_of - timedelta(days=90))
        )
        .join(owner, on="loan_id")
        .group_by("customer_id")
        .agg(pl.col("amount_due").sum().alias("due_90"))
    )
    return [paid, due]


def _contactability(book: BookFrames, as_of: date) -> list[pl.DataFrame]:
    """Phones and addresses (valid ones, their trust decayed to the as-of date), contact
    attempts and promises to pay judged by then."""
    end = _end_of(as_of)
    points = book.contacts.filter(pl.col("observed_at") <= end).with_columns(
        _effective(pl.col("confidence"), pl.col("observed_at"), as_of).alias("trust")
    )
    valid = pl.col("status") != "invalid"
    phone, address = pl.col("channel") == "phone", pl.col("channel") == "address"
    reach = points.group_by("customer_id").agg(
        (phone & valid).sum().alias("phones_valid"),
        (phone & ~valid).sum().alias("phones_invalid"),
        pl.col("trust").filter(phone & valid).max().alias("phone_confidence"),
        pl.col("trust")
        .filter(address & valid & (pl.col("kind") != "household"))
        .max()
        .alias("address_confidence"),
        (address & (pl.col("kind") == "residence")).sum().alias("residence_addresses"),
    )
    tries = book.attempts.filter(pl.col("attempted_at") <= end)
    tried_age = (pl.lit(end) - pl.col("attempted_at")).dt.total_days()
    attempts = tries.group_by("customer_id").agg(
        (tried_age < 90).sum().alias("attempts_90"),
        pl.col("result").is_in(["reached", "confirmed"]).mean().alias("reached_share"),
    )
    judged = book.promises.filter(
        pl.col("judged_on").is_not_null() & (pl.col("judged_on") <= as_of)
    )
    promises = judged.group_by("customer_id").agg(
        pl.col("status").is_in(["kept", "partly_kept"]).sum().alias("promises_kept"),
        (pl.col("status") == "broken").sum().alias("promises_broken"),
    )
    return [reach, attempts, promises]


def _number(f: pd.DataFrame, column: str, fill: float | None = 0.0) -> pd.Series:
    """A joined column as floats, missing (a customer without such rows) as ``fill``."""
    values = f[column].astype("float64")
    return values.fillna(fill) if fill is not None else values


def _standing_columns(out: pd.DataFrame, f: pd.DataFrame, as_of: date) -> None:
    """Where the customer stands: delinquency now and 30-90 days before, and the loans."""
    overdue, outstanding = _number(f, "overdue"), _number(f, "outstanding")
    out["max_dpd"] = _number(f, "max_dpd")
    out["overdue_yuan"] = overdue / 100.0
    out["outstanding_yuan"] = outstanding / 100.0
    out["overdue_share"] = (overdue / outstanding.where(outstanding > 0)).clip(0, 5)
    out["loans_past_due"] = _number(f, "loans_past_due")
    out["loans_open"] = _number(f, "loans_open")
    principal = _number(f, "principal", None)
    out["paid_down_share"] = (1.0 - outstanding / principal.where(principal > 0)).clip(0, 1)
    out["annual_rate"] = _number(f, "annual_rate", None)
    first = pd.to_datetime(f["first_disbursed"])
    out["months_on_book"] = (pd.Timestamp(as_of) - first).dt.days / 30.44
    out["dpd_30_days_ago"] = _number(f, "dpd_1")
    out["dpd_change_30"] = out["max_dpd"] - out["dpd_30_days_ago"]
    out["overdue_steps_90"] = sum((_number(f, f"dpd_{k}") > 0).astype("float64") for k in (1, 2, 3))


def _behaviour_columns(out: pd.DataFrame, f: pd.DataFrame, as_of: date) -> None:
    """How the customer has behaved: paying, and being reachable."""
    out["installments_paid_late"] = _number(f, "installments_paid_late")
    out["max_days_late_settled"] = _number(f, "max_days_late_settled")
    out["mean_days_late_12m"] = _number(f, "mean_days_late_12m", None)
    out["late_trend"] = _number(f, "late_trend", None)
    first = pd.to_datetime(f["first_disbursed"])
    last_paid = pd.to_datetime(f["last_paid"])
    since = (pd.Timestamp(as_of) - last_paid).dt.days.astype("float64")
    since_start = (pd.Timestamp(as_of) - first).dt.days.astype("float64")
    out["days_since_payment"] = since.fillna(since_start)
    due_90 = _number(f, "due_90")
    out["paid_90_ratio"] = (_number(f, "paid_90") / due_90.where(due_90 > 0)).clip(0, 5)
    out["payments_trend"] = np.log1p(_number(f, "paid_90") / 100.0) - np.log1p(
        _number(f, "paid_prev_90") / 100.0
    )
    out["partial_payments_180"] = _number(f, "partial_payments_180")
    out["manual_payment_share"] = _number(f, "manual_payment_share", None)
    for name in (
        "phones_valid",
        "phones_invalid",
        "phone_confidence",
        "address_confidence",
        "residence_addresses",
        "attempts_90",
    ):
        out[name] = _number(f, name)
    out["reached_share"] = _number(f, "reached_share", None)
    out["promises_kept"] = _number(f, "promises_kept")
    out["promises_broken"] = _number(f, "promises_broken")
