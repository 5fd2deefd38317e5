"""Shaping personal data for the tables: ciphertext, keyed hash and masked form."""

from __future__ import annotations

import polars as pl

from doorstep.domain.contact import initial_confidence
from doorstep.domain.identity import mask_id_number
from doorstep.domain.ports import Cipher, KeyedHasher
from doorstep.services.conduct.personal_data import mask_contact, position_text
from doorstep.services.ingest.validate import LINE


def _protect(frame: pl.DataFrame, column: str, cipher: Cipher, hasher: KeyedHasher) -> pl.DataFrame:
    """Replace a clear column by its ciphertext and add its keyed hash."""
    return frame.with_columns(
        pl.col(column).map_elements(hasher.digest, return_dtype=pl.Utf8).alias(f"{column}_hash"),
        pl.col(column).map_elements(cipher.encrypt, return_dtype=pl.Utf8),
    )


def customer_rows(frame: pl.DataFrame, cipher: Cipher, hasher: KeyedHasher) -> pl.DataFrame:
    """The birth year is kept, not the date: the date is the ID's digits 7-14 that the
    masked form hides (validation has checked the file's date against the ID)."""
    masked = frame.with_columns(
        pl.col("id_number").str.to_uppercase(),
    ).with_columns(
        pl.col("id_number")
        .map_elements(mask_id_number, return_dtype=pl.Utf8)
        .alias("id_number_masked"),
        pl.col("id_number").str.slice(6, 4).cast(pl.Int16).alias("birth_year"),
    )
    return _protect(masked.drop("birth_date", strict=False), "id_number", cipher, hasher)


def _positions(frame: pl.DataFrame, cipher: Cipher, hasher: KeyedHasher) -> list[pl.Series]:
    """The sealed 'lat,lng' of each row and its keyed hash (None without a position)."""
    texts: list[str | None] = [None] * frame.height
    if {"lat", "lng"} <= set(frame.columns):
        texts = [
            None if lat is None or lng is None else position_text(float(lat), float(lng))
            for lat, lng in zip(frame["lat"].to_list(), frame["lng"].to_list(), strict=True)
        ]
    return [
        pl.Series("position", [None if t is None else cipher.encrypt(t) for t in texts], pl.Utf8),
        pl.Series(
            "position_hash", [None if t is None else hasher.digest(t) for t in texts], pl.Utf8
        ),
    ]


def _masked(frame: pl.DataFrame, channel: str, value: str) -> pl.Expr:
    """What a page shows of a phone (138****5678) or an address (its region only)."""
    region = [c for c in ("province", "city", "district") if c in frame.columns]
    return pl.struct(value, *region).map_elements(
        lambda r: mask_contact(
            channel, r[value], r.get("province"), r.get("city"), r.get("district")
        ),
        return_dtype=pl.Utf8,
    )


def contact_point_rows(
    frames: dict[str, pl.DataFrame], cipher: Cipher, hasher: KeyedHasher
) -> pl.DataFrame | None:
    parts = []
    for entity, channel, value in (
        ("contacts", "phone", "value"),
        ("addresses", "address", "text"),
    ):
        if entity not in frames:
            continue
        frame = frames[entity]
        located = ["province", "city", "district"]
        frame = frame.with_columns(*_positions(frame, cipher, hasher))
        parts.append(
            frame.select(
                "customer_id",
                pl.lit(channel).alias("channel"),
                "kind",
                pl.col(value).map_elements(cipher.encrypt, return_dtype=pl.Utf8).alias("value"),
                pl.col(value).map_elements(hasher.digest, return_dtype=pl.Utf8).alias("value_hash"),
                _masked(frame, channel, value).alias("value_masked"),
                (
                    pl.col("relation") if "relation" in frame.columns else pl.lit(None, pl.Utf8)
                ).alias("relation"),
                *((pl.col(c) if c in frame.columns else pl.lit(None)).alias(c) for c in located),
                "position",
                "position_hash",
                "source",
                "observed_at",
                "status",
                pl.struct("source", "status")
                .map_elements(
                    lambda r: initial_confidence(r["source"], r["status"] or "unverified"),
                    return_dtype=pl.Float64,
                )
                .alias("confidence"),
                "extra",
                LINE,
            ).with_columns(
                pl.col("province").cast(pl.Utf8),
                pl.col("city").cast(pl.Utf8),
                pl.col("district").cast(pl.Utf8),
            )
        )
    return pl.concat(parts) if parts else None
