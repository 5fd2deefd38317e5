"""One national ID under two customer numbers: flagged at ingest, never merged.

Matching is by the keyed lookup hash of the normalised ID (IDs are encrypted at rest, so
the hash is the only way to compare them). The batch's customers are compared with each
other and with the stored customers as they will be once the batch is written (a stored
customer the batch sends again is compared by its new ID). Each customer sharing an ID
is linked to the group's first customer (stored ones first, then by file line), and
only pairs not linked before are reported: the same files twice flag nothing new.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Connection

from doorstep.services.ingest.validate import LINE
from doorstep.services.ingest.write import table_of
from doorstep.store.models import Customer
from doorstep.store.repositories import identity as repo
from doorstep.store.repositories import staging

FLAG_COLUMNS = ("file", "line", "column", "value", "customer_id", "other_customer_id", "reason")


@dataclass(frozen=True)
class IdentityFlag:
    """A file row whose national ID another customer number already has."""

    file: str
    line: int | None
    value: str  # the ID, masked
    customer_id: str
    other_customer_id: str
    other_line: int | None  # the other's line in this file; None: stored before

    @property
    def reason(self) -> str:
        where = "already stored" if self.other_line is None else f"line {self.other_line}"
        return f"same national ID as customer {self.other_customer_id} ({where}); not merged"

    def link(self, batch_id: int | None, now: datetime) -> dict[str, object]:
        low, high = sorted((self.customer_id, self.other_customer_id))
        return {
            "customer_id": low,
            "other_customer_id": high,
            "import_batch_id": batch_id,
            "file": self.file,
            "line": self.line,
            "found_at": now,
        }


MEMBERS = {"customer_id": pl.Utf8, "hash": pl.Utf8, "masked": pl.Utf8, LINE: pl.Int64}


def _members(connection: Connection, customers: pl.DataFrame) -> pl.DataFrame:
    """Every customer (batch or stored) whose ID hash occurs in the batch, as it will be
    stored: the batch's row wins over the stored one of the same customer."""
    batch = customers.select(
        "customer_id",
        pl.col("id_number_hash").alias("hash"),
        pl.col("id_number_masked").alias("masked"),
        LINE,
    ).unique("customer_id", keep="first")
    if staging.is_empty(connection, table_of(Customer)):  # a first load: the batch alone
        return batch.cast(MEMBERS)  # type: ignore[arg-type]
    hashes = batch["hash"].unique().to_list()
    stored = pl.DataFrame(
        repo.customers_by_id_hash(connection, hashes),
        schema={"customer_id": pl.Utf8, "hash": pl.Utf8},
        orient="row",
    ).join(batch.select("customer_id"), on="customer_id", how="anti")
    stored = stored.with_columns(
        pl.lit(None, pl.Utf8).alias("masked"), pl.lit(None, pl.Int64).alias(LINE)
    )
    return pl.concat([batch.cast(MEMBERS), stored.cast(MEMBERS)])  # type: ignore[arg-type]


def shared_ids(
    connection: Connection, customers: pl.DataFrame, file_name: str
) -> list[IdentityFlag]:
    """The batch rows (customers frame with `id_number_hash`, `id_number_masked`) whose ID
    another customer number has, each pair not linked before."""
    members = _members(connection, customers)
    shared = members.filter(pl.col("customer_id").n_unique().over("hash") > 1)
    if not shared.height:
        return []
    # stored customers first (no line), then by line: the first is each group's anchor;
    # a pair of two stored customers is no row of this file (linked when it came)
    ordered = shared.sort([pl.col(LINE).is_not_null(), LINE, "customer_id"], nulls_last=False)
    anchors = ordered.group_by("hash", maintain_order=True).first()
    pairs = ordered.join(
        anchors.select(
            "hash",
            pl.col("customer_id").alias("anchor"),
            pl.col(LINE).alias("anchor_line"),
            pl.col("masked").alias("anchor_masked"),
        ),
        on="hash",
    ).filter(pl.col("customer_id") != pl.col("anchor"), pl.col(LINE).is_not_null())
    known = repo.linked_pairs(connection, shared["customer_id"].unique().sort().to_list())
    flags = []
    for customer, line, masked, anchor, anchor_line in pairs.select(
        "customer_id", LINE, "masked", "anchor", "anchor_line"
    ).iter_rows():
        if tuple(sorted((customer, anchor))) in known:
            continue
        flags.append(IdentityFlag(file_name, line, masked or "", customer, anchor, anchor_line))
    return sorted(flags, key=lambda f: (f.line or 0, f.customer_id))


def record_links(
    connection: Connection, flags: Sequence[IdentityFlag], batch_id: int | None, now: datetime
) -> None:
    repo.add_links(connection, [flag.link(batch_id, now) for flag in flags])


def write_flag_report(flags: Sequence[IdentityFlag], folder: Path, now: datetime) -> Path:
    """The flagged rows as CSV beside the rejection reports (IDs masked: reports travel)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"ingest-flags-{stamp}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FLAG_COLUMNS)
        for f in flags:
            writer.writerow(
                [
                    f.file,
                    "" if f.line is None else f.line,
                    "id_number",
                    f.value,
                    f.customer_id,
                    f.other_customer_id,
                    f.reason,
                ]
            )
    return path
