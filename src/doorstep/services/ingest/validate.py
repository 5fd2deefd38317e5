"""Read one ingest file and check every row against its contract, column by column.

Checks are vectorised polars expressions, evaluated together in one pass over the file;
the few rules that live in the domain core (national ID checksum, rates, ISO times) are
applied in Python so there is one definition of them, once per distinct value (rates,
times) or once per row (IDs). A row may collect several problems; every one is reported.
"""

from __future__ import annotations

from collections.abc import Callable
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
NUL = "\x00"
NO_NUL = "contains a NUL character (U+0000), which no text may hold"


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


@dataclass(frozen=True)
class Check:
    """Rows where `mask` holds have a problem in `column`, said by `reason` (text, or an
    expression over the whole file)."""

    mask: pl.Expr
    column: str
    reason: str | pl.Expr


def typed_name(name: str) -> str:
    """Where the typed value of a column is kept beside its text while checking (a NUL
    in the name: no file's header can clash with it)."""
    return f"\0typed:{name}"


def _each_distinct(expr: pl.Expr, function: Callable[[str], object], dtype: pl.DataType) -> pl.Expr:
    """`function` (a domain rule, in Python) of each non-null value, called once per
    distinct value: a file has millions of rows but few distinct rates or times."""

    def apply(values: pl.Series) -> pl.Series:
        distinct = values.drop_nulls().unique()
        results = pl.Series([function(v) for v in distinct.to_list()], dtype=dtype)
        return values.replace_strict(distinct, results, default=None, return_dtype=dtype)

    return expr.map_batches(apply, return_dtype=dtype)


def _problems(frame: pl.DataFrame, mask: pl.Series, check: Check) -> pl.DataFrame:
    """The problem rows of one check; its reason is worked out on the whole file."""
    reason = pl.lit(check.reason) if isinstance(check.reason, str) else check.reason
    return frame.select(
        pl.lit(None, pl.Utf8).alias("file"),
        pl.col(LINE).alias("line"),
        pl.lit(check.column).alias("column"),
        pl.col(check.column)
        .cast(pl.Utf8)
        .fill_null("")
        .str.replace_all(NUL, r"\x00", literal=True)
        .alias("value"),
        reason.alias("reason"),
    ).filter(mask)


def find_problems(frame: pl.DataFrame, checks: list[Check]) -> pl.DataFrame:
    """Every check's problem rows, in the order of the checks. The masks are evaluated
    together in one pass; only the checks that found something build their rows."""
    masks = frame.select(
        check.mask.fill_null(False).alias(str(n)) for n, check in enumerate(checks)
    )
    hits = masks.select(pl.all().any()).row(0) if checks else ()
    found = [
        _problems(frame, masks.to_series(n), check)
        for n, (check, hit) in enumerate(zip(checks, hits, strict=True))
        if hit
    ]
    return pl.concat(
        [pl.DataFrame(schema=PROBLEM_SCHEMA), *(f.cast(PROBLEM_SCHEMA) for f in found)]
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


def _money(value: pl.Expr, shape_ok: pl.Expr) -> pl.Expr:
    """Yuan text with at most 2 decimals as integer fen (null when not that shape)."""
    whole = value.str.split_exact(".", 1).struct.field("field_0")
    part = value.str.split_exact(".", 1).struct.field("field_1").fill_null("")
    return pl.when(shape_ok).then(
        whole.cast(pl.Int64, strict=False) * 100
        + part.str.pad_end(2, "0").replace("00", "0").cast(pl.Int64, strict=False)
    )


@dataclass(frozen=True)
class _Cell:
    """What a column's checks look at: the text as read, its typed value (read from
    `typed_name(column)`, where the caller puts it once) and whether it was given."""

    column: Column
    value: pl.Expr
    typed: pl.Expr
    present: pl.Expr
    zone: ZoneInfo

    def check(self, mask: pl.Expr, reason: str | pl.Expr) -> Check:
        return Check(mask, self.column.name, reason)

    def in_range(self) -> Check:
        low, high = self.column.low, self.column.high
        return self.check(
            self.typed.is_not_null() & ~self.typed.is_between(low, high),
            f"must be between {low:g} and {high:g}",
        )


def _text(c: _Cell) -> tuple[pl.Expr, list[Check]]:
    column, value, present = c.column, c.value, c.present
    found = [
        c.check(
            present & (value.str.len_chars() > column.max_length),
            f"longer than {column.max_length} characters",
        )
    ]
    if column.choices:
        found.append(
            c.check(
                present & ~value.is_in(column.choices),
                "must be one of: " + ", ".join(column.choices),
            )
        )
    if column.pattern:
        found.append(
            c.check(
                present & ~value.str.contains(column.pattern), f"bad format ({column.pattern_hint})"
            )
        )
    return value, found


def _date(c: _Cell) -> tuple[pl.Expr, list[Check]]:
    expr = c.value.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    return expr, [c.check(c.present & c.typed.is_null(), "not a date (YYYY-MM-DD)")]


def _datetime(c: _Cell) -> tuple[pl.Expr, list[Check]]:
    zone = c.zone
    expr = _each_distinct(
        c.value, lambda text: _parse_instant(text, zone), pl.Datetime("us", "UTC")
    )
    reason = "not a date-time (ISO 8601, e.g. 2025-03-02T10:15:00+08:00)"
    return expr, [c.check(c.present & c.typed.is_null(), reason)]


def _money_column(c: _Cell) -> tuple[pl.Expr, list[Check]]:
    column, value, typed, present = c.column, c.value, c.typed, c.present
    shape_ok = value.str.contains(MONEY_TEXT)
    negative = value.str.starts_with("-")
    found = [
        c.check(present & negative, "must not be negative"),
        c.check(
            present & ~negative & ~shape_ok,
            "not an amount in yuan with at most 2 decimals (e.g. 1234.56)",
        ),
    ]
    if column.low is not None:
        low = round(column.low * 100)
        found.append(c.check(shape_ok & (typed < low), f"must be at least {column.low:.2f}"))
    if column.high is not None:
        high = round(column.high * 100)
        found.append(c.check(shape_ok & (typed > high), f"must be at most {column.high:.2f}"))
    return _money(value, shape_ok), found


def _rate(c: _Cell) -> tuple[pl.Expr, list[Check]]:
    column = c.column
    reason = _each_distinct(c.value, lambda text: _rate_problem(text, column), pl.Utf8())
    return c.value, [c.check(c.present & reason.is_not_null(), reason)]


def _int(c: _Cell) -> tuple[pl.Expr, list[Check]]:
    expr = c.value.cast(pl.Int64, strict=False)
    return expr, [c.check(c.present & c.typed.is_null(), "not a whole number"), c.in_range()]


def _float(c: _Cell) -> tuple[pl.Expr, list[Check]]:  # coordinates, not money
    expr = c.value.cast(pl.Float64, strict=False)
    return expr, [c.check(c.present & c.typed.is_null(), "not a number"), c.in_range()]


_BY_KIND: dict[Kind, Callable[[_Cell], tuple[pl.Expr, list[Check]]]] = {
    Kind.TEXT: _text,
    Kind.DATE: _date,
    Kind.DATETIME: _datetime,
    Kind.MONEY: _money_column,
    Kind.RATE: _rate,
    Kind.INT: _int,
    Kind.FLOAT: _float,
}


def check_column(column: Column, zone: ZoneInfo) -> tuple[pl.Expr, list[Check]]:
    """(expression giving the typed value, checks) for one column. The checks read the
    typed value from `typed_name(column)`, where the caller puts it once."""
    value = pl.col(column.name)
    cell = _Cell(column, value, pl.col(typed_name(column.name)), value.is_not_null(), zone)
    expr, found = _BY_KIND[column.kind](cell)
    if not column.nullable:
        found.insert(0, cell.check(~cell.present, "required value is missing"))
    return expr, found


ID_FACTS = "\0id_facts"
ID_FACTS_TYPE = pl.Struct({"problem": pl.Utf8(), "birth": pl.Utf8(), "sex": pl.Utf8()})


def _id_facts(ids: pl.Series) -> pl.Series:
    """(problem, birth date, sex) of each national ID, by the domain's one definition of
    them, in one call per ID; birth date and sex only of the valid ones."""
    problems: list[str | None] = []
    births: list[str | None] = []
    sexes: list[str | None] = []
    for value in ids.to_list():
        problem = None if value is None else id_number_problem(value)
        valid = value is not None and problem is None
        problems.append(problem)
        births.append(str(id_birth_date(value)) if valid else None)
        sexes.append(id_gender(value) if valid else None)
    facts = pl.DataFrame(
        {"problem": problems, "birth": births, "sex": sexes}, schema=ID_FACTS_TYPE.to_schema()
    )
    return facts.to_struct(ID_FACTS)


def _customer_rows(frame: pl.DataFrame) -> tuple[list[pl.Expr], list[Check]]:
    """The national ID is valid and agrees with the stated birth date and gender."""
    helpers = [
        pl.col("id_number").map_batches(_id_facts, return_dtype=ID_FACTS_TYPE).alias(ID_FACTS)
    ]
    facts = pl.col(ID_FACTS).struct
    id_reason = facts.field("problem")
    id_ok = pl.col("id_number").is_not_null() & id_reason.is_null()
    return helpers, [
        Check(id_reason.is_not_null(), "id_number", id_reason),
        Check(
            id_ok
            & pl.col("birth_date").is_not_null()
            & (facts.field("birth") != pl.col("birth_date")),
            "birth_date",
            "does not match the birth date in the national ID",
        ),
        Check(
            id_ok & pl.col("gender").is_in(("M", "F")) & (facts.field("sex") != pl.col("gender")),
            "gender",
            "does not match the national ID (17th digit)",
        ),
    ]


def _contact_rows(frame: pl.DataFrame) -> tuple[list[pl.Expr], list[Check]]:
    """A phone of its kind's shape; an emergency contact with its relation."""
    value, kind = pl.col("value"), pl.col("kind")
    mobile = value.str.contains(MOBILE.pattern)
    landline = value.str.contains(LANDLINE.pattern)
    no_relation = (
        (kind == "emergency") & pl.col("relation").is_null()
        if "relation" in frame.columns
        else kind == "emergency"
    )
    return [], [
        Check(
            kind.is_in(("mobile", "emergency")) & value.is_not_null() & ~mobile,
            "value",
            "not a mainland mobile number (11 digits starting 13-19)",
        ),
        Check(
            kind.is_in(("home", "work")) & value.is_not_null() & ~mobile & ~landline,
            "value",
            "not a phone number (landline 0xx-xxxxxxxx or mobile)",
        ),
        Check(no_relation, "relation", "an emergency contact needs a relation"),
    ]


def _loan_rows(frame: pl.DataFrame) -> tuple[list[pl.Expr], list[Check]]:
    first = pl.col("first_due_on").str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    disbursed = pl.col("disbursed_on").str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    late_enough = first.is_not_null() & disbursed.is_not_null() & (first <= disbursed)
    return [], [Check(late_enough, "first_due_on", "must be after disbursed_on")]


def _address_rows(frame: pl.DataFrame) -> tuple[list[pl.Expr], list[Check]]:
    if not {"lat", "lng"} <= set(frame.columns):
        return [], []
    one_only = pl.col("lat").is_null() != pl.col("lng").is_null()
    return [], [Check(one_only, "lat", "lat and lng must be given together")]


_ROW_RULES: dict[str, Callable[[pl.DataFrame], tuple[list[pl.Expr], list[Check]]]] = {
    "customers": _customer_rows,
    "contacts": _contact_rows,
    "loans": _loan_rows,
    "addresses": _address_rows,
}


def check_rows(frame: pl.DataFrame, spec: FileSpec) -> tuple[list[pl.Expr], list[Check]]:
    """Rules that look at several columns of a row (checked on the text values): the
    columns they need worked out first, and the checks."""
    rules = _ROW_RULES.get(spec.entity)
    return rules(frame) if rules else ([], [])


def duplicate_keys(frame: pl.DataFrame, spec: FileSpec) -> list[Check]:
    """Every row whose key repeats an earlier row of the same file (a missing key part is
    reported as missing, not as a repeat). Keys whose hashes all differ all differ: then
    the costlier search for the first of each key is not needed."""
    key = list(spec.key)
    if frame.select(pl.struct(key).hash().n_unique()).item() == frame.height:
        return []
    complete = pl.all_horizontal(pl.col(k).is_not_null() for k in key)
    repeated = complete & pl.struct(key).is_first_distinct().not_()
    first_line = pl.col(LINE).min().over(key).cast(pl.Utf8)
    reason = pl.lit("duplicate key (" + ", ".join(spec.key) + ") already on line ") + first_line
    return [Check(repeated, spec.key[-1], reason)]


def nul_checks(frame: pl.DataFrame) -> list[Check]:
    """Every text cell, the contract's columns and the extra ones alike, without NUL:
    PostgreSQL's text and JSON cannot hold it."""
    return [
        Check(pl.col(name).str.contains(NUL, literal=True), name, NO_NUL)
        for name, dtype in frame.schema.items()
        if name != LINE and dtype == pl.Utf8
    ]


def _nul_in_header(path: Path, names: list[str]) -> Problem:
    name = next(n for n in names if NUL in n).replace(NUL, r"\x00")
    return Problem(path.name, 1, name, "", "the column name " + NO_NUL)


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
    if any(NUL in name for name in frame.columns):
        return None, [_nul_in_header(path, frame.columns)]
    missing = [c.name for c in spec.columns if c.required and c.name not in frame.columns]
    if missing:
        return None, [
            Problem(path.name, 1, name, "", "required column is missing") for name in missing
        ]
    for column in spec.columns:
        if column.name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Utf8).alias(column.name))

    typed_columns, checks = [], []
    for column in spec.columns:
        typed, found = check_column(column, zone)
        typed_columns.append(typed.alias(typed_name(column.name)))
        checks += found
    helpers, found = check_rows(frame, spec)
    checks += [*found, *duplicate_keys(frame, spec), *nul_checks(frame)]
    checked = frame.with_columns(*typed_columns, *helpers)
    problems = (
        find_problems(checked, checks)
        .with_columns(pl.lit(path.name).alias("file"))
        .sort("line", "column", maintain_order=True)
    )
    known = {c.name for c in spec.columns} | {LINE}
    extra_names = [name for name in frame.columns if name not in known]
    extra = pl.struct(extra_names).struct.json_encode() if extra_names else pl.lit(None, pl.Utf8)
    typed_frame = checked.select(
        *(pl.col(typed_name(c.name)).alias(c.name) for c in spec.columns),
        extra.alias("extra"),
        pl.col(LINE),
    )
    return typed_frame, [Problem(**row) for row in problems.iter_rows(named=True)]
