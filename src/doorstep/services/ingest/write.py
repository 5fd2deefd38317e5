"""Writing one table of a good batch: each table's upsert plan, partition-slot order,
and the stage-compare-upsert itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import polars as pl
from sqlalchemy import Connection, Table

from doorstep.services.ingest.validate import LINE
from doorstep.store.models import (
    Base,
    ContactPoint,
    Customer,
    Installment,
    Loan,
    Payment,
)
from doorstep.store.models.ingest import IngestChange
from doorstep.store.models.loan import partition_slot
from doorstep.store.repositories import book, staging


def table_of(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


@dataclass(frozen=True)
class TablePlan:
    table: Table
    key: tuple[str, ...]
    compare: tuple[str, ...]
    keep_when_null: tuple[str, ...] = ()
    insert_defaults: dict[str, Any] = field(default_factory=dict)
    carry: tuple[str, ...] = ()


PLANS = {
    "customers": TablePlan(
        table_of(Customer),
        ("customer_id",),
        ("name", "id_number_hash", "id_number_masked", "gender", "birth_year", "employer", "extra"),
        carry=("id_number",),
    ),
    "contact_points": TablePlan(
        table_of(ContactPoint),
        ("customer_id", "channel", "kind", "value_hash", "source"),
        (
            "relation",
            "province",
            "city",
            "district",
            "position_hash",
            "observed_at",
            "status",
            "extra",
        ),
        keep_when_null=("status",),
        insert_defaults={"status": "unverified"},
        carry=("position",),
    ),
    "loans": TablePlan(
        table_of(Loan),
        ("loan_id",),
        (
            "customer_id",
            "product",
            "principal",
            "annual_rate",
            "term_months",
            "method",
            "disbursed_on",
            "first_due_on",
            "penalty_rate_daily",
            "schedule_source",
            "extra",
            "partition_slot",
        ),
        keep_when_null=("schedule_source",),
    ),
    "installments": TablePlan(
        table_of(Installment),
        ("loan_id", "seq"),
        ("due_on", "principal_due", "interest_due", "fee_due", "partition_slot"),
    ),
    "payments": TablePlan(
        table_of(Payment),
        ("payment_id",),
        ("loan_id", "paid_on", "amount", "channel", "extra", "partition_slot"),
    ),
}


def with_partition_slots(loans: pl.DataFrame) -> pl.DataFrame:
    """The loans with their partition slot (`partition_slot` of the customer id), each
    distinct customer's computed once."""
    customers = loans["customer_id"].unique()
    slots = pl.Series([partition_slot(c) for c in customers.to_list()], dtype=pl.Int16)
    return loans.with_columns(
        pl.col("customer_id")
        .replace_strict(customers, slots, return_dtype=pl.Int16)
        .alias("partition_slot")
    )


def in_slot_order(
    connection: Connection, frame: pl.DataFrame, batch_slots: pl.DataFrame
) -> pl.DataFrame:
    """Rows of loans (installments, payments) with their loan's partition slot, from
    this batch's loans or else as stored, sorted by slot then loan: a first load then
    writes each partition's rows next to each other in the table, so a partition reads
    a few runs of pages instead of rows scattered over the whole table."""
    ids = frame["loan_id"].unique()
    stored = book.stored_slots(
        connection, ids.filter(~ids.is_in(batch_slots["loan_id"].implode())).to_list()
    )
    slots = pl.concat([batch_slots, stored])
    return frame.join(slots, on="loan_id", how="left").sort(
        ["partition_slot", "loan_id"], maintain_order=True
    )


Inspect = Callable[[Connection, Table | None], None]
"""Looks at a table's batch before it is written: given its stage, compared with the
stored rows; None when the batch is copied straight into an empty table (all new)."""


def _upsert(
    connection: Connection,
    plan: TablePlan,
    name: str,
    frame: pl.DataFrame,
    now: datetime,
    inspect: Inspect | None,
) -> staging.UpsertResult:
    """The batch of one table through a stage, compared with what is stored."""
    stage = staging.create_stage(connection, plan.table, [c for c in frame.columns if c != LINE])
    try:
        staging.bulk_insert(connection, stage, frame)
        staging.index_stage(connection, stage, plan.key, frame.height)
        if inspect is not None:
            inspect(connection, stage)
        # Trimmed before the upsert: the rows it removes are neither updated nor inserted,
        # and it then reads only the rows stored before this batch.
        deleted = (
            staging.delete_missing_children(
                connection, plan.table, stage, parent="loan_id", key=plan.key
            )
            if name == "installments"
            else 0
        )
        result = staging.upsert_from_stage(
            connection,
            plan.table,
            stage,
            key=plan.key,
            compare=plan.compare,
            keep_when_null=plan.keep_when_null,
            insert_defaults=plan.insert_defaults,
            now=now,
            carry=plan.carry,
        )
    finally:
        staging.drop_stage(connection, stage)
    result.deleted = deleted
    return result


def write_table(
    connection: Connection,
    name: str,
    frame: pl.DataFrame,
    now: datetime,
    changes: list[IngestChange],
    counts: dict[str, dict[str, int]],
    seal: Callable[[dict[str, Any]], str],
    inspect: Inspect | None = None,
) -> staging.UpsertResult:
    """Write one table; the before/after of each changed row go to `changes` sealed (they
    hold names, birth years, regions: personal data)."""
    plan = PLANS[name]
    if staging.copies_straight(connection, plan.table):
        if inspect is not None:
            inspect(connection, None)
        result = staging.insert_all(
            connection, plan.table, frame, now=now, insert_defaults=plan.insert_defaults
        )
    else:
        result = _upsert(connection, plan, name, frame, now, inspect)
    counts[name] = {
        "inserted": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "deleted": result.deleted,
    }
    changes += [
        IngestChange(entity=name, entity_key=k, before=seal(b), after=seal(a))
        for k, b, a in result.changes or []
    ]
    return result
