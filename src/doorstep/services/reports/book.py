"""Summaries of the book for operators."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from doorstep.compute.addresses import best_address_region
from doorstep.store.repositories import book


def overdue_by_city(session: Session, as_of: date) -> list[dict[str, Any]]:
    connection = session.connection()
    snapshots = book.read_snapshots(connection, as_of)
    region = best_address_region(book.read_addresses(connection))
    joined = snapshots.join(region, on="customer_id", how="left").with_columns(
        pl.col("city").fill_null("(unknown)"),
        (
            pl.col("overdue_principal")
            + pl.col("overdue_interest")
            + pl.col("overdue_fee")
            + pl.col("overdue_penalty")
        ).alias("overdue"),
    )
    summary = (
        joined.group_by("city")
        .agg(
            pl.len().alias("loans"),
            (pl.col("dpd") > 0).sum().alias("overdue_loans"),
            pl.col("overdue").sum().alias("overdue"),
            (pl.col("bucket") == "M1").sum().alias("m1"),
            (pl.col("bucket") == "M2").sum().alias("m2"),
            (pl.col("dpd") > 60).sum().alias("m3_plus"),
        )
        .sort("loans", descending=True)
    )
    return summary.to_dicts()
