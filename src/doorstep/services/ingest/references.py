"""Checks that need other files of the batch or the database: unknown parents, payments
before disbursement, given schedules that do not fit their loan."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Table

from doorstep.services.ingest.contracts import SPECS
from doorstep.services.ingest.validate import LINE, Problem
from doorstep.services.ingest.write import table_of
from doorstep.store.models import (
    Customer,
    Loan,
)
from doorstep.store.repositories import staging

# --- checks that need other files or the database -------------------------------------


@dataclass(frozen=True)
class _Parent:
    table: Table
    key: str
    schema: pl.Schema  # the key and the columns the checks need


PARENTS = {
    "customers": _Parent(table_of(Customer), "customer_id", pl.Schema({"customer_id": pl.Utf8()})),
    "loans": _Parent(
        table_of(Loan),
        "loan_id",
        pl.Schema(
            {
                "loan_id": pl.Utf8(),
                "principal": pl.Int64(),
                "term_months": pl.Int64(),
                "disbursed_on": pl.Date(),
            }
        ),
    ),
}


def _parents(
    connection: Connection, frames: dict[str, pl.DataFrame], entity: str, wanted: pl.Series
) -> pl.DataFrame:
    """The batch's rows of a parent entity, and the `wanted` keys it lacks from the database."""
    parent = PARENTS[entity]
    key, names = parent.key, parent.schema.names()
    batch = pl.DataFrame(schema=parent.schema)
    if entity in frames:
        batch = (
            frames[entity]
            .select(names)
            .filter(pl.col(key).is_not_null())
            .unique(key, keep="first", maintain_order=True)
        )
    outside = wanted.filter(~wanted.is_in(batch[key].implode())).sort().to_list()
    stored = staging.fetch_by_keys(connection, parent.table, key, outside, names)
    return pl.concat([batch, pl.DataFrame(stored, schema=parent.schema)])


def cross_file_problems(
    connection: Connection, frames: dict[str, pl.DataFrame], files: dict[str, Path]
) -> list[Problem]:
    """Unknown parents, payments before disbursement, given schedules that do not fit the
    loan. A parent whose file is in the batch but unreadable is not checked against."""
    wanted: dict[str, list[pl.Series]] = {}
    for entity, frame in frames.items():
        for column, parent in SPECS[entity].references.items():
            wanted.setdefault(parent, []).append(frame[column].drop_nulls().rename("key"))
    parents = {
        parent: _parents(connection, frames, parent, pl.concat(keys).unique())
        for parent, keys in wanted.items()
        if parent in frames or parent not in files
    }
    problems: list[Problem] = []
    for entity, frame in frames.items():
        for column, parent in SPECS[entity].references.items():
            if parent not in parents:
                continue
            known = parents[parent].select(pl.col(PARENTS[parent].key).alias(column))
            orphans = frame.filter(pl.col(column).is_not_null()).join(known, on=column, how="anti")
            problems += [
                Problem(files[entity].name, line, column, value, f"unknown {parent[:-1]} {value!r}")
                for line, value in orphans.select(LINE, column).iter_rows()
            ]
    loans = parents.get("loans")
    if "payments" in frames and loans is not None:
        early = (
            frames["payments"]
            .join(loans.select("loan_id", "disbursed_on"), on="loan_id")
            .filter(pl.col("paid_on") < pl.col("disbursed_on"))
        )
        problems += [
            Problem(
                files["payments"].name,
                line,
                "paid_on",
                str(day),
                f"before the loan was disbursed ({start})",
            )
            for line, day, start in early.select(LINE, "paid_on", "disbursed_on").iter_rows()
        ]
    if "installments" in frames and loans is not None:
        problems += _schedule_problems(frames["installments"], loans, files["installments"].name)
    return problems


def _schedule_problems(
    installments: pl.DataFrame, loans: pl.DataFrame, file_name: str
) -> list[Problem]:
    """A given schedule must be seq 1..term with principal parts summing to the principal.
    Schedules with a bad seq or principal part are left out: those rows are reported."""
    incomplete = installments.filter(pl.col("seq").is_null() | pl.col("principal_due").is_null())
    summary = (
        installments.filter(~pl.col("loan_id").is_in(incomplete["loan_id"].implode()))
        .group_by("loan_id")
        .agg(
            pl.len().alias("rows"),
            pl.col("seq").min().alias("first"),
            pl.col("seq").max().alias("last"),
            pl.col("principal_due").sum().alias("principal_sum"),
            pl.col(LINE).min().alias(LINE),
        )
        .join(loans.select("loan_id", "principal", "term_months"), on="loan_id")
    )
    bad = summary.filter(
        (pl.col("rows") != pl.col("term_months"))
        | (pl.col("first") != 1)
        | (pl.col("last") != pl.col("rows"))
    )
    problems = [
        Problem(
            file_name, line, "seq", str(rows), f"schedule of loan {loan} must have seq 1..{term}"
        )
        for loan, rows, term, line in bad.select("loan_id", "rows", "term_months", LINE).iter_rows()
    ]
    unbalanced = summary.filter(pl.col("principal_sum") != pl.col("principal"))
    problems += [
        Problem(
            file_name,
            line,
            "principal_due",
            str(total),
            f"principal parts of loan {loan} sum to {total} fen, the loan is {principal} fen",
        )
        for loan, total, principal, line in unbalanced.select(
            "loan_id", "principal_sum", "principal", LINE
        ).iter_rows()
    ]
    return problems
