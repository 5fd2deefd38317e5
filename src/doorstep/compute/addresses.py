"""Which of a customer's addresses places them: for the case's city and district (the
selection's region rule, the planner's team) and the book summary by city."""

from __future__ import annotations

import polars as pl


def best_address_region(addresses: pl.DataFrame) -> pl.DataFrame:
    """One (customer_id, city, district) per customer: the most trusted valid residence,
    else the most trusted valid address of any kind."""
    return (
        addresses.filter(pl.col("status") != "invalid")
        .sort(
            [pl.col("kind") == "residence", "confidence", "observed_at"],
            descending=True,
        )
        .unique("customer_id", keep="first", maintain_order=True)
        .select("customer_id", "city", "district")
    )
