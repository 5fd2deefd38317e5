"""Generated schedules and the loans whose schedule terms are new or changed."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import polars as pl
from sqlalchemy import Connection

from doorstep.domain.schedule import schedule_amounts
from doorstep.services.ingest.validate import LINE
from doorstep.services.ingest.write import table_of
from doorstep.store.models import (
    Loan,
)
from doorstep.store.repositories import staging

SCHEDULE_FIELDS = ("principal", "annual_rate", "term_months", "method", "first_due_on")
"""A change to any of these regenerates a generated schedule."""
SCHEDULE_TERMS = ["principal", "annual_rate", "term_months", "method"]
"""What a generated schedule's amounts depend on (its dates depend on the first due day)."""


def generated_schedules(loans: pl.DataFrame) -> pl.DataFrame:
    """Installments from the domain's schedule maths for loans that came without them.
    The amounts are computed once per distinct terms (a book repeats them a lot), then
    spread over the loans; each due day is the first one plus seq - 1 months, clamped to
    the month's end as `add_months` does."""
    distinct = loans.select(SCHEDULE_TERMS).unique().with_row_index("terms")
    columns: dict[str, list[int]] = {
        k: [] for k in ("terms", "seq", "principal_due", "interest_due")
    }
    for terms, principal, rate, months, method in distinct.iter_rows():
        monthly = schedule_amounts(principal, Decimal(rate), months, method)
        columns["terms"] += [terms] * months
        columns["seq"] += range(1, months + 1)
        columns["principal_due"] += (part for part, _ in monthly)
        columns["interest_due"] += (interest for _, interest in monthly)
    amounts = pl.DataFrame(
        columns,
        schema={
            "terms": pl.UInt32,
            "seq": pl.Int64,
            "principal_due": pl.Int64,
            "interest_due": pl.Int64,
        },
    )
    return (
        loans.select("loan_id", *SCHEDULE_TERMS, "first_due_on")
        .join(distinct, on=SCHEDULE_TERMS, how="left", maintain_order="left")
        .join(amounts, on="terms", how="left", maintain_order="left_right")  # seq order
        .select(
            "loan_id",
            "seq",
            pl.col("first_due_on")
            .dt.offset_by(pl.format("{}mo", pl.col("seq") - 1))
            .alias("due_on"),
            "principal_due",
            "interest_due",
            pl.lit(0, pl.Int64).alias("fee_due"),
        )
    )


def loans_needing_schedules(connection: Connection, loans: pl.DataFrame) -> list[str]:
    """Ids of the loans that are new or whose schedule terms changed."""
    if not loans.height:
        return []
    if staging.is_empty(connection, table_of(Loan)):  # a first load: all are new
        return cast(list[str], loans["loan_id"].to_list())
    stage = staging.create_stage(
        connection, table_of(Loan), [c for c in loans.columns if c != LINE]
    )
    staging.bulk_insert(connection, stage, loans)
    staging.index_stage(connection, stage, ["loan_id"], loans.height)
    needing = staging.new_or_changed_keys(
        connection, table_of(Loan), stage, key="loan_id", compare=SCHEDULE_FIELDS
    )
    staging.drop_stage(connection, stage)
    return needing
