"""Ingest a lender's files: validate every row, then upsert the batch idempotently.

A batch with any bad row is rejected whole: every problem (file, line, column, value,
reason) is reported and saved as CSV, and nothing is written. A good batch is applied in
one transaction: new rows are inserted, changed rows updated with their before and after
kept in `ingest_changes`, unchanged rows left alone, so the same files twice change nothing.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, Table, insert
from sqlalchemy.orm import Session

from doorstep.domain.contact import initial_confidence
from doorstep.domain.errors import IngestRejected
from doorstep.domain.identity import mask_id_number
from doorstep.domain.ports import Cipher, KeyedHasher
from doorstep.domain.schedule import schedule_amounts
from doorstep.services.conduct.personal_data import mask_contact
from doorstep.services.ingest.contracts import ORDER, SPECS
from doorstep.services.ingest.validate import LINE, Problem, validate_file
from doorstep.store.models import (
    Base,
    ContactPoint,
    Customer,
    ImportBatch,
    Installment,
    Loan,
    Payment,
)
from doorstep.store.models.ingest import IngestChange
from doorstep.store.models.loan import partition_slot
from doorstep.store.repositories import book, staging

Progress = Callable[[str, int, int], None]
SUFFIXES = (".csv", ".parquet")
SCHEDULE_FIELDS = ("principal", "annual_rate", "term_months", "method", "first_due_on")


@dataclass
class IngestReport:
    batch_id: int | None
    files: list[dict[str, Any]]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c["inserted"] or c["updated"] or c["deleted"] for c in self.counts.values())


class BatchRejected(IngestRejected):
    def __init__(self, problems: list[Problem], report_path: Path | None) -> None:
        super().__init__(len(problems), str(report_path) if report_path else None)
        self.problems = problems


def discover(paths: Sequence[Path]) -> tuple[dict[str, Path], list[Problem]]:
    """Map entity -> file from folders and files; a file is named after its entity."""
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    candidates: list[Path] = []
    for path in paths:
        if path.is_dir():
            candidates += sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        elif path.exists():
            candidates.append(path)
        else:
            problems.append(Problem(str(path), None, "", "", "no such file or folder"))
    for path in candidates:
        entity = path.stem.lower()
        if entity not in SPECS:
            if path.parent not in paths:  # named explicitly: say why it is not read
                problems.append(
                    Problem(
                        path.name,
                        None,
                        "",
                        "",
                        "unknown file name; expected " + ", ".join(f"{e}.csv" for e in ORDER),
                    )
                )
            continue
        if entity in found:
            problems.append(Problem(path.name, None, "", "", f"a second {entity} file"))
            continue
        found[entity] = path
    if not found and not problems:
        problems.append(Problem("", None, "", "", "no ingest files found"))
    return found, problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


SENSITIVE = {("customers", "id_number"), ("contacts", "value"), ("addresses", "text")}


def _masked_problem(problem: Problem, files: dict[str, Path]) -> Problem:
    """Reports are files that travel: they show personal data masked, like the pages."""
    entity = next((e for e, p in files.items() if p.name == problem.file), None)
    if (entity, problem.column) not in SENSITIVE or not problem.value:
        return problem
    value = problem.value
    masked = (
        mask_id_number(value)
        if problem.column == "id_number"
        else mask_contact("address" if entity == "addresses" else "phone", value)
    )
    return replace(problem, value=masked)


def write_problem_report(problems: Sequence[Problem], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"ingest-rejected-{stamp}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "column", "value", "reason"])
        for p in problems:
            writer.writerow([p.file, "" if p.line is None else p.line, p.column, p.value, p.reason])
    return path


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# --- checks that need other files or the database -------------------------------------


@dataclass(frozen=True)
class _Parent:
    table: Table
    key: str
    schema: pl.Schema  # the key and the columns the checks need


PARENTS = {
    "customers": _Parent(_table(Customer), "customer_id", pl.Schema({"customer_id": pl.Utf8()})),
    "loans": _Parent(
        _table(Loan),
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


# --- shaping the batch for the tables -------------------------------------------------


def _protect(frame: pl.DataFrame, column: str, cipher: Cipher, hasher: KeyedHasher) -> pl.DataFrame:
    """Replace a clear column by its ciphertext and add its keyed hash."""
    return frame.with_columns(
        pl.col(column).map_elements(hasher.digest, return_dtype=pl.Utf8).alias(f"{column}_hash"),
        pl.col(column).map_elements(cipher.encrypt, return_dtype=pl.Utf8),
    )


def _customers(frame: pl.DataFrame, cipher: Cipher, hasher: KeyedHasher) -> pl.DataFrame:
    masked = frame.with_columns(
        pl.col("id_number").str.to_uppercase(),
    ).with_columns(
        pl.col("id_number")
        .map_elements(mask_id_number, return_dtype=pl.Utf8)
        .alias("id_number_masked")
    )
    return _protect(masked, "id_number", cipher, hasher)


def _masked(frame: pl.DataFrame, channel: str, value: str) -> pl.Expr:
    """What a page shows of a phone (138****5678) or an address (its region only)."""
    region = [c for c in ("province", "city", "district") if c in frame.columns]
    return pl.struct(value, *region).map_elements(
        lambda r: mask_contact(
            channel, r[value], r.get("province"), r.get("city"), r.get("district")
        ),
        return_dtype=pl.Utf8,
    )


def _contact_points(
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
        located = ["province", "city", "district", "lat", "lng"]
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
                pl.col("lat").cast(pl.Float64),
                pl.col("lng").cast(pl.Float64),
                pl.col("province").cast(pl.Utf8),
                pl.col("city").cast(pl.Utf8),
                pl.col("district").cast(pl.Utf8),
            )
        )
    return pl.concat(parts) if parts else None


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
        _table(Customer),
        ("customer_id",),
        ("name", "id_number_hash", "id_number_masked", "gender", "birth_date", "employer", "extra"),
        carry=("id_number",),
    ),
    "contact_points": TablePlan(
        _table(ContactPoint),
        ("customer_id", "channel", "kind", "value_hash", "source"),
        (
            "relation",
            "province",
            "city",
            "district",
            "lat",
            "lng",
            "observed_at",
            "status",
            "extra",
        ),
        keep_when_null=("status",),
        insert_defaults={"status": "unverified"},
    ),
    "loans": TablePlan(
        _table(Loan),
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
        _table(Installment),
        ("loan_id", "seq"),
        ("due_on", "principal_due", "interest_due", "fee_due", "partition_slot"),
    ),
    "payments": TablePlan(
        _table(Payment),
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


def _upsert(
    connection: Connection, plan: TablePlan, name: str, frame: pl.DataFrame, now: datetime
) -> staging.UpsertResult:
    """The batch of one table through a stage, compared with what is stored."""
    stage = staging.create_stage(connection, plan.table, [c for c in frame.columns if c != LINE])
    try:
        staging.bulk_insert(connection, stage, frame)
        staging.index_stage(connection, stage, plan.key, frame.height)
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


def _apply(
    connection: Connection,
    name: str,
    frame: pl.DataFrame,
    now: datetime,
    changes: list[IngestChange],
    counts: dict[str, dict[str, int]],
) -> staging.UpsertResult:
    plan = PLANS[name]
    if staging.copies_straight(connection, plan.table):
        result = staging.insert_all(
            connection, plan.table, frame, now=now, insert_defaults=plan.insert_defaults
        )
    else:
        result = _upsert(connection, plan, name, frame, now)
    counts[name] = {
        "inserted": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "deleted": result.deleted,
    }
    changes += [
        IngestChange(entity=name, entity_key=k, before=b, after=a)
        for k, b, a in result.changes or []
    ]
    return result


def _new_or_changed_terms(connection: Connection, loans: pl.DataFrame) -> list[str]:
    """Ids of the loans that are new or whose schedule terms changed."""
    if not loans.height:
        return []
    if staging.is_empty(connection, _table(Loan)):  # a first load: all are new
        return cast(list[str], loans["loan_id"].to_list())
    stage = staging.create_stage(connection, _table(Loan), [c for c in loans.columns if c != LINE])
    staging.bulk_insert(connection, stage, loans)
    staging.index_stage(connection, stage, ["loan_id"], loans.height)
    needing = staging.new_or_changed_keys(
        connection, _table(Loan), stage, key="loan_id", compare=SCHEDULE_FIELDS
    )
    staging.drop_stage(connection, stage)
    return needing


def ingest_files(
    session: Session,
    paths: Sequence[Path],
    *,
    zone: ZoneInfo,
    reports_dir: Path,
    cipher: Cipher,
    hasher: KeyedHasher,
    actor: str = "cli",
    progress: Progress | None = None,
) -> IngestReport:
    """Validate and apply one batch; raises BatchRejected with every problem found."""
    started = datetime.now(UTC)
    notify = progress or (lambda stage, done, total: None)
    files, problems = discover(paths)
    frames: dict[str, pl.DataFrame] = {}
    for done, entity in enumerate(e for e in ORDER if e in files):
        notify(f"validate {files[entity].name}", done, len(files))
        frame, found = validate_file(files[entity], SPECS[entity], zone)
        problems += found
        if frame is not None:
            frames[entity] = frame
    connection = session.connection()
    problems += cross_file_problems(connection, frames, files)
    if problems:
        problems = [_masked_problem(p, files) for p in problems]
        raise BatchRejected(problems, write_problem_report(problems, reports_dir))

    file_info = [
        {"entity": e, "name": p.name, "sha256": _sha256(p), "rows": frames[e].height}
        for e, p in files.items()
    ]
    report = IngestReport(batch_id=None, files=file_info)
    changes: list[IngestChange] = []
    steps = ["customers", "contact_points", "loans", "installments", "payments"]

    def step(name: str, frame: pl.DataFrame | None) -> None:
        notify(f"write {name}", steps.index(name), len(steps))
        if frame is not None and frame.height:
            _apply(connection, name, frame, started, changes, report.counts)

    customers = frames.get("customers")
    step("customers", _customers(customers, cipher, hasher) if customers is not None else None)
    step("contact_points", _contact_points(frames, cipher, hasher))
    schedules = []
    batch_slots = pl.DataFrame(schema={"loan_id": pl.Utf8, "partition_slot": pl.Int16})
    if "loans" in frames:
        loans = frames["loans"]
        with_schedule = pl.Series(
            frames["installments"]["loan_id"] if "installments" in frames else [], dtype=pl.Utf8
        )
        needing = _new_or_changed_terms(
            connection, loans.filter(~pl.col("loan_id").is_in(with_schedule.implode()))
        )
        # A loan keeps its stored schedule and source unless one comes with it, or it is new
        # or its terms changed (then it is generated); null keeps the stored source.
        loans = loans.with_columns(
            pl.when(pl.col("loan_id").is_in(with_schedule.implode()))
            .then(pl.lit("file"))
            .when(pl.col("loan_id").is_in(pl.Series(needing, dtype=pl.Utf8).implode()))
            .then(pl.lit("generated"))
            .otherwise(pl.lit(None, pl.Utf8))
            .alias("schedule_source")
        )
        # in slot order too, like their installments and payments (see `in_slot_order`)
        loans = with_partition_slots(loans).sort(["partition_slot", "loan_id"])
        # a stored loan whose slot changes takes its rows along (ON UPDATE CASCADE)
        step("loans", loans)
        batch_slots = loans.select("loan_id", "partition_slot")
        todo = loans.filter(pl.col("schedule_source") == "generated")
        if todo.height:
            notify("build schedules", 0, todo.height)
            schedules.append(
                generated_schedules(todo).with_columns(pl.lit(None, pl.Int64).alias(LINE))
            )
    if "installments" in frames:
        given = frames["installments"].with_columns(pl.col("fee_due").fill_null(0))
        schedules.append(
            given.select(
                "loan_id", "seq", "due_on", "principal_due", "interest_due", "fee_due", LINE
            )
        )
    if schedules:
        step("installments", in_slot_order(connection, pl.concat(schedules), batch_slots))
    if "payments" in frames:
        step("payments", in_slot_order(connection, frames["payments"], batch_slots))
    notify("done", len(steps), len(steps))

    if report.changed:
        batch = ImportBatch(
            started_at=started,
            finished_at=datetime.now(UTC),
            files=file_info,
            counts=report.counts,
            actor=actor,
        )
        session.add(batch)
        session.flush()
        for change in changes:
            change.batch_id = batch.id
        if changes:
            session.execute(
                insert(_table(IngestChange)),
                [
                    {
                        "batch_id": batch.id,
                        "entity": c.entity,
                        "entity_key": c.entity_key,
                        "before": c.before,
                        "after": c.after,
                    }
                    for c in changes
                ],
            )
        report.batch_id = batch.id
    return report
