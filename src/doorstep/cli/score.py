"""`doorstep score`: train, evaluate, apply, list and activate risk models."""

from __future__ import annotations

import os

# LightGBM's OpenMP threads spin while they wait by default; on a busy machine that makes
# training many times slower. Set before lightgbm is first imported (it loads lazily).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from doorstep.cli.common import (
    console,
    fail,
    parse_day,
    ready_engine,
    settings,
    split_list,
    working,
)
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.domain.ports import SystemClock
from doorstep.scoring.pipeline import TrainingConfig
from doorstep.services import scoring
from doorstep.store.db import transaction
from doorstep.store.models import ModelVersion

app = typer.Typer(help="Risk models: train, evaluate, apply, list, activate.", no_args_is_help=True)


class Kind(StrEnum):
    scorecard = "scorecard"
    challenger = "challenger"


class Output(StrEnum):
    table = "table"
    json = "json"


def _as_of(session: Session, given: str | None) -> date:
    if given:
        return parse_day(given)
    latest = scoring.latest_book_day(session)
    if latest is None:
        raise fail("no delinquency snapshots: give --as-of or run `doorstep batch delinquency`")
    return latest


@app.command("train")
def train(
    purpose: Annotated[str, typer.Option(help="visit_priority, hardship_vs_evasion, ...")],
    data: Annotated[
        Path | None, typer.Option(help="train from this CSV/Parquet file instead of the book")
    ] = None,
    target: Annotated[str | None, typer.Option(help="the file's 0/1 target column")] = None,
    exclude: Annotated[str | None, typer.Option(help="file columns to leave out, a,b,c")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="book date (default: latest snapshots)")
    ] = None,
    kind: Annotated[Kind, typer.Option(help="scorecard or challenger")] = Kind.scorecard,
    windows: Annotated[int, typer.Option(help="book: monthly windows before the as-of")] = 6,
    folds: Annotated[int, typer.Option(help="cross-validation folds for the metrics")] = 3,
    jobs: Annotated[int, typer.Option(help="threads")] = 1,
    seed: Annotated[int, typer.Option()] = 0,
    activate: Annotated[bool, typer.Option(help="make it the purpose's active model")] = False,
) -> None:
    """Train a model, measure it by cross-validation and register it (as a candidate)."""
    config = settings()
    try:
        training = TrainingConfig(kind=kind.value, folds=folds, n_jobs=jobs, seed=seed)
        with transaction(ready_engine(config)) as session, working("training") as say:
            if data is not None:
                if not target:
                    raise fail("--data needs --target")
                version = scoring.train_from_file(
                    session,
                    SYSTEM,
                    purpose,
                    data,
                    target,
                    config=training,
                    clock=SystemClock(),
                    exclude=split_list(exclude),
                    progress=say,
                )
            elif purpose == scoring.VISIT_PRIORITY:
                version = scoring.train_visit_priority(
                    session,
                    SYSTEM,
                    _as_of(session, as_of),
                    config=training,
                    waterfall=config.waterfall_rule,
                    buckets=config.bucket_scheme,
                    clock=SystemClock(),
                    windows=windows,
                    progress=say,
                )
            else:
                raise fail(f"{purpose} trains from a file: give --data and --target")
            if activate:
                scoring.activate(
                    session,
                    SYSTEM,
                    version.id,
                    now=SystemClock().now(),
                    reason="activated when trained",
                )
            print_version(version)
    except DoorstepError as exc:
        raise fail(exc.message) from None


def print_version(version: ModelVersion) -> None:
    m = version.metrics
    table = Table(
        title=f"{version.purpose} v{version.version} (#{version.id}, {version.kind}, "
        f"{version.status})"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("rows (events)", f"{m.get('rows', 0):,} ({m.get('events', 0):,})")
    for key in ("auc", "ks", "gini", "brier"):
        if m.get(key) is not None:
            table.add_row(
                key.upper() if key != "gini" else "Gini",
                f"{m[key]:.4f} ± {m.get(key + '_sd') or 0:.4f}",
            )
    oot = m.get("out_of_time")
    if oot and oot.get("auc") is not None:
        table.add_row("AUC out of time", f"{oot['auc']:.4f}")
    table.add_row("fingerprint", version.fingerprint[:16] + "…")
    table.add_row("source", version.source)
    top = list((m.get("importance") or {}).items())[:5]
    table.add_row("top features", ", ".join(name for name, _ in top))
    if m.get("excluded"):
        table.add_row("left out", ", ".join(f"{k} ({v})" for k, v in m["excluded"].items()))
    console.print(table)


@app.command("evaluate")
def evaluate(
    data: Annotated[Path, typer.Option(help="a CSV or Parquet file")],
    target: Annotated[str, typer.Option(help="its 0/1 target column")],
    exclude: Annotated[str | None, typer.Option(help="columns to leave out, a,b,c")] = None,
    folds: Annotated[int, typer.Option()] = 5,
    repeats: Annotated[int, typer.Option()] = 1,
    output: Annotated[Output, typer.Option("--format", help="table or json")] = Output.table,
    jobs: Annotated[int, typer.Option(help="threads")] = 1,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Cross-validate the full pipelines (binning, models, calibration inside each training
    fold) on any table with a binary target; AUC, KS, Gini, Brier mean ± sd per model."""
    try:
        with working("evaluating") as say:
            result = scoring.evaluate_file(
                data,
                target,
                exclude=split_list(exclude),
                folds=folds,
                repeats=repeats,
                config=TrainingConfig(n_jobs=jobs, seed=seed),
                progress=say,
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    ev = result.evaluation
    if output is Output.json:
        typer.echo(
            json.dumps(
                {**ev.as_dict(), "excluded": result.excluded, "features": result.features},
                default=float,
            )
        )
        return
    table = Table(
        title=f"{data.name}: {ev.rows:,} rows, {ev.events / ev.rows:.1%} events, "
        f"{ev.folds}-fold x {ev.repeats}"
    )
    table.add_column("model")
    for label in ("AUC", "KS", "Gini", "Brier", "s/fold"):
        table.add_column(label, justify="right")
    for model in ev.models:
        cells = [str(ev.summary(model, k)) for k in ("auc", "ks", "gini", "brier")]
        table.add_row(model, *cells, f"{ev.summary(model, 'seconds').mean:.1f}")
    console.print(table)
    if result.excluded:
        console.print("left out: " + ", ".join(f"{k} ({v})" for k, v in result.excluded.items()))


@app.command("apply")
def apply(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="as-of date (default: latest snapshots)")
    ] = None,
) -> None:
    """Score every past-due customer and open case with the active visit_priority model,
    store the reasons, and the day's population stability against training."""
    config = settings()
    try:
        with transaction(ready_engine(config)) as session, working("scoring") as say:
            day = _as_of(session, as_of)
            report = scoring.apply(
                session,
                SYSTEM,
                day,
                waterfall=config.waterfall_rule,
                buckets=config.bucket_scheme,
                clock=SystemClock(),
                progress=say,
            )
    except DoorstepError as exc:
        raise fail(exc.message) from None
    table = Table(title=f"visit_priority v{report.version} on {report.as_of}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("customers scored", f"{report.scored:,}")
    table.add_row("with reason codes", f"{report.with_reasons:,}")
    table.add_row("mean P(no self-cure)", f"{report.mean_probability:.3f}")
    worst = sorted(report.drift, key=lambda d: -d.psi)[:3]
    table.add_row("largest PSI", ", ".join(f"{d.name} {d.psi:.3f}" for d in worst))
    flagged = ", ".join(d.name for d in report.flagged) or "none"
    table.add_row("PSI > 0.25 (review the model)", flagged)
    console.print(table)


@app.command("list")
def list_models() -> None:
    """Every model version: purpose, version, kind, status, AUC, who trained it and when."""
    config = settings()
    with transaction(ready_engine(config)) as session:
        versions = scoring.list_models(session, SYSTEM)
        table = Table(title="model versions")
        table.add_column("id", justify="right")
        table.add_column("model", no_wrap=True)
        for column in ("kind", "status", "AUC", "rows", "trained", "fingerprint"):
            table.add_column(column)
        for v in versions:
            auc = v.metrics.get("auc")
            table.add_row(
                str(v.id),
                f"{v.purpose} v{v.version}",
                v.kind,
                v.status,
                "" if auc is None else f"{auc:.4f}",
                f"{v.metrics.get('rows', 0):,}",
                f"{v.trained_by} {v.trained_at:%Y-%m-%d %H:%M}",
                v.fingerprint[:12],
            )
    console.print(table)


@app.command("activate")
def activate(
    version_id: Annotated[int, typer.Argument(help="the model version's id (score list)")],
    reason: Annotated[str | None, typer.Option(help="why (kept in the audit trail)")] = None,
) -> None:
    """Make a version its purpose's active model (the previous one is retired; audited)."""
    config = settings()
    try:
        with transaction(ready_engine(config)) as session:
            version = scoring.activate(
                session, SYSTEM, version_id, now=SystemClock().now(), reason=reason
            )
            console.print(f"{version.purpose} v{version.version} (#{version.id}) is active")
    except DoorstepError as exc:
        raise fail(exc.message) from None
