"""Read one ingest file and check every row against its contract, column by column.

Checks are vectorised polars expressions; the few rules that live in the domain core
(national ID checksum, rates) are applied per value so there is one definition of them.
A row may collect several problems; every one is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from doorstep.domain.errors import InvalidValue
from doorstep.domain.identity import LANDLINE, MOBILE, id_birth_date, id_gender, id_number_problem
from doorstep.domain.money import parse_rate
from doorstep.services.ingest.contracts import Column, FileSpec, Kind

LINE = "_line"
PROBLEM_SCHEMA = pl.Schema(
    {
        "file": pl.Utf8(),
        "line": pl.Int64(),
        "column": pl.Utf8(),
        "value": pl.Utf8(),
        "reason": pl.Utf8(),
    }
)
MONEY_TEXT = r"^\d+(\.\d{1,2})?$"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    column: str
    value: str
    reason: str


def read_table(path: Path) -> pl.DataFrame:
    """Every column as text (Parquet too), blanks as null, with the file's line number."""
    if path.suffix.lower() == ".parquet":
        frame = pl.read_parquet(path)
        frame = frame.select(pl.all().cast(pl.Utf8))
        first_line = 1
    else:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
        first_line = 2  # line 1 is the header
    frame = frame.with_columns(pl.all().str.strip_chars().replace("", None))
    numbered = frame.with_row_index(LINE, offset=first_line).with_columns(
        pl.col(LINE).cast(pl.Int64)
    )
    if not frame.width:
        return numbered
    # A wholly blank line (trailing newlines, a spreadsheet's empty rows) is not a record.
    return numbered.filter(~pl.all_horizontal(pl.exclude(LINE).is_null()))


def _problems(
    frame: pl.DataFrame, mask: pl.Expr, column: str, reason: str | pl.Expr
) -> pl.DataFrame:
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    return frame.filter(mask).select(
        pl.lit(None, pl.Utf8).alias("file"),
        pl.col(LINE).alias("line"),
        pl.lit(column).alias("column"),
        pl.col(column).cast(pl.Utf8).fill_null("").alias("value"),
        reason_expr.alias("reason"),
    )


def _rate_problem(text: str, column: Column) -> str | None:
    try:
        parse_rate(text, max_places=column.rate_places, upper=Decimal(str(column.high)))
    except InvalidValue as exc:
        return exc.message
    return None


def _parse_instant(text: str, zone: ZoneInfo) -> datetime | None:
    """ISO 8601; a time without offset is read in the business time zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def check_column(
    frame: pl.DataFrame, column: Column, zone: ZoneInfo
) -> tuple[pl.Expr, list[pl.DataFrame]]:
    """(expression giving the typed value, problem frames) for one column."""
    name, value = column.name, pl.col(column.name)
    present = value.is_not_null()
    found: list[pl.DataFrame] = []
    if not column.nullable:
        found.append(_problems(frame, ~present, name, "required value is missing"))

    if column.kind is Kind.TEXT:
        typed = value
        found.append(
            _problems(
                frame,
                present & (value.str.len_chars() > column.max_length),
                name,
                f"longer than {column.max_length} characters",
            )
        )
        if column.choices:
            found.append(
                _problems(
                    frame,
                    present & ~value.is_in(column.choices),
                    name,
                    "must be one of: " + ", ".join(column.choices),
                )
            )
        if column.pattern:
            found.append(
                _problems(
                    frame,
                    present & ~value.str.contains(column.pattern),
                    name,
                    f"bad format ({column.pattern_hint})",
                )
            )
    elif column.kind is Kind.DATE:
        typed = value.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        found.append(_problems(frame, present & typed.is_null(), name, "not a date (YYYY-MM-DD)"))
    elif column.kind is Kind.DATETIME:
        typed = value.map_elements(
            lambda text: _parse_instant(text, zone), return_dtype=pl.Datetime("us", "UTC")
        )
        found.append(
            _problems(
                frame,
                present & typed.is_null(),
                name,
                "not a date-time (ISO 8601, e.g. 2025-03-02T10:15:00+08:00)",
            )
        )
    elif column.kind is Kind.MONEY:
        shape_ok = value.str.contains(MONEY_TEXT)
        whole = value.str.split_exact(".", 1).struct.field("field_0")
        part = value.str.split_exact(".", 1).struct.field("field_1").fill_null("")
        typed = pl.when(shape_ok).then(
            whole.cast(pl.Int64, strict=False) * 100
            + part.str.pad_end(2, "0").replace("00", "0").cast(pl.Int64, strict=False)
        )
        negative = value.str.starts_with("-")
        found.append(_problems(frame, present & negative, name, "must not be negative"))
        found.append(
            _problems(
                frame,
                present & ~negative & ~shape_ok,
                name,
                "not an amount in yuan with at most 2 decimals (e.g. 1234.56)",
            )
        )
        if column.low is not None:
            low = round(column.low * 100)
            found.append(
                _problems(
                    frame, shape_ok & (typed < low), name, f"must be at least {column.low:.2f}"
                )
            )
        if column.high is not None:
            high = round(column.high * 100)
            found.append(
                _problems(
                    frame, shape_ok & (typed > high), name, f"must be at most {column.high:.2f}"
                )
            )
    elif column.kind is Kind.RATE:
        typed = value
        reason = value.map_elements(lambda text: _rate_problem(text, column), return_dtype=pl.Utf8)
        found.append(_problems(frame, present & reason.is_not_null(), name, reason))
    elif column.kind is Kind.INT:
        typed = value.cast(pl.Int64, strict=False)
        found.append(_problems(frame, present & typed.is_null(), name, "not a whole number"))
        found.append(
            _problems(
                frame,
                typed.is_not_null() & ~typed.is_between(column.low, column.high),
                name,
                f"must be between {column.low:g} and {column.high:g}",
            )
        )
    else:  # FLOAT: coordinates, not money
        typed = value.cast(pl.Float64, strict=False)
        found.append(_problems(frame, present & typed.is_null(), name, "not a number"))
        found.append(
            _problems(
                frame,
                typed.is_not_null() & ~typed.is_between(column.low, column.high),
                name,
                f"must be between {column.low:g} and {column.high:g}",
            )
        )
    return typed.alias(name), found


def check_rows(frame: pl.DataFrame, spec: FileSpec) -> list[pl.DataFrame]:
    """Rules that look at several columns of a row (checked on the text values)."""
    found: list[pl.DataFrame] = []
    if spec.entity == "customers":
        id_reason = pl.col("id_number").map_elements(
            lambda v: id_number_problem(v), return_dtype=pl.Utf8
        )
        found.append(_problems(frame, id_reason.is_not_null(), "id_number", id_reason))
        id_ok = pl.col("id_number").map_elements(
            lambda v: id_number_problem(v) is None, return_dtype=pl.Boolean
        )
        birth = pl.col("id_number").map_elements(
            lambda v: str(id_birth_date(v)), return_dtype=pl.Utf8
        )
        found.append(
            _problems(
                frame,
                id_ok & pl.col("birth_date").is_not_null() & (birth != pl.col("birth_date")),
                "birth_date",
                "does not match the birth date in the national ID",
            )
        )
        sex = pl.col("id_number").map_elements(lambda v: id_gender(v), return_dtype=pl.Utf8)
        found.append(
            _problems(
                frame,
                id_ok & pl.col("gender").is_in(("M", "F")) & (sex != pl.col("gender")),
                "gender",
                "does not match the national ID (17th digit)",
            )
        )
    elif spec.entity == "contacts":
        value, kind = pl.col("value"), pl.col("kind")
        mobile = value.str.contains(MOBILE.pattern)
        landline = value.str.contains(LANDLINE.pattern)
        found.append(
            _problems(
                frame,
                kind.is_in(("mobile", "emergency")) & value.is_not_null() & ~mobile,
                "value",
                "not a mainland mobile number (11 digits starting 13-19)",
            )
        )
        found.append(
            _problems(
                frame,
                kind.is_in(("home", "work")) & value.is_not_null() & ~mobile & ~landline,
                "value",
                "not a phone number (landline 0xx-xxxxxxxx or mobile)",
            )
        )
        found.append(
            _problems(
                frame,
                (kind == "emergency") & pl.col("relation").is_null()
                if "relation" in frame.columns
                else kind == "emergency",
                "relation",
                "an emergency contact needs a relation",
            )
        )
    elif spec.entity == "loans":
        first, disbursed = (
            pl.col("first_due_on").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
            pl.col("disbursed_on").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        )
        found.append(
            _problems(
                frame,
                first.is_not_null() & disbursed.is_not_null() & (first <= disbursed),
                "first_due_on",
                "must be after disbursed_on",
            )
        )
    elif spec.entity == "addresses" and {"lat", "lng"} <= set(frame.columns):
        one_only = pl.col("lat").is_null() != pl.col("lng").is_null()
        found.append(_problems(frame, one_only, "lat", "lat and lng must be given together"))
    return found


def duplicate_keys(frame: pl.DataFrame, spec: FileSpec) -> pl.DataFrame:
    """Every row whose key repeats an earlier row of the same file (a missing key part is
    reported as missing, not as a repeat)."""
    key = list(spec.key)
    complete = pl.all_horizontal(pl.col(k).is_not_null() for k in key)
    repeated = complete & pl.struct(key).is_first_distinct().not_()
    # The first line is found before `_problems` filters the repeats out of the frame.
    first = frame.with_columns(pl.col(LINE).min().over(key).alias("_first_line"))
    return _problems(
        first,
        repeated,
        spec.key[-1],
        pl.lit("duplicate key (" + ", ".join(spec.key) + ") already on line ")
        + pl.col("_first_line").cast(pl.Utf8),
    )


def validate_file(
    path: Path, spec: FileSpec, zone: ZoneInfo
) -> tuple[pl.DataFrame | None, list[Problem]]:
    """(typed frame with the contract's columns, `extra` JSON and line; problems).

    The frame is returned even when rows have problems (their bad values are null), so
    the checks across files can still report every bad row; it is None only when the
    file cannot be read or lacks a required column."""
    try:
        frame = read_table(path)
    except (pl.exceptions.ComputeError, OSError, UnicodeDecodeError) as exc:
        return None, [Problem(path.name, None, "", "", f"cannot read file: {exc}")]
    missing = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    if missing:
        return None, [
            Problem(path.name, 1, name, "", "required column is missing") for name in missing
        ]
    for column in spec.columns:
        if column.name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Utf8).alias(column.name))

    zone_problems: list[pl.DataFrame] = []
    typed_columns = []
    for column in spec.columns:
        typed, found = check_column(frame, column, zone)
        typed_columns.append(typed)
        zone_problems.extend(found)
    zone_problems.extend(check_rows(frame, spec))
    zone_problems.append(duplicate_keys(frame, spec))
    problems = (
        pl.concat([p.cast(PROBLEM_SCHEMA) for p in zone_problems])
        .with_columns(pl.lit(path.name).alias("file"))
        .sort("line", "column")
    )
    known = {c.name for c in spec.columns} | {LINE}
    extra_names = [name for name in frame.columns if name not in known]
    extra = pl.struct(extra_names).struct.json_encode() if extra_names else pl.lit(None, pl.Utf8)
    typed_frame = frame.select(*typed_columns, extra.alias("extra"), pl.col(LINE))
    return typed_frame, [Problem(**row) for row in problems.iter_rows(named=True)]
