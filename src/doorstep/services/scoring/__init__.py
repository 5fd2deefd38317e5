"""Risk scoring use cases: train, register, activate, apply, monitor, fairness.

* `train_visit_priority` builds the ``visit_priority`` training set from the book itself:
  for each of the last ``windows`` 30-day steps before the as-of date, the customers past
  due on that day, their behaviour up to it (`doorstep.scoring.behaviour`), and whether
  they were still past due 30 days later (the delinquency replay of the later day).
* `train_from_file` trains any purpose (e.g. ``hardship_vs_evasion`` once verdicts are
  labelled) from a CSV/Parquet file with a binary target, through the same pipeline.
* `register` stores a trained bundle as a new version (status ``candidate``); `activate`
  makes it the purpose's one ``active`` version (the previous one is retired) and writes
  an audit event; old versions stay loadable.
* `apply` scores, with the active ``visit_priority`` model, every customer past due on
  the as-of date and every open case's customer, storing probability (basis points),
  points and reason codes (en, zh_CN), then stores the day's population stability.
* `fairness` compares score distributions and visit selection across gender and age
  bands (adverse impact ratio, warned below 0.8); those attributes are read for this
  report only.

Services flush, never commit.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import polars as pl
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.orm import Session

from doorstep.domain import hardship
from doorstep.domain.access import Actor, Permission
from doorstep.domain.allocation import Waterfall
from doorstep.domain.case import CaseState
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.errors import Forbidden, InvalidValue, NotEnoughData, NotFound
from doorstep.scoring import behaviour, fairness, monitoring
from doorstep.scoring.base import Reason
from doorstep.scoring.pipeline import Bundle, TrainingConfig, prepare_table, read_table, train
from doorstep.scoring.registry import ModelCard, dump_model, fingerprint, load_model
from doorstep.services.batch.delinquency import compute_range
from doorstep.services.conduct import audit
from doorstep.store.models import Loan, ModelVersion, Score
from doorstep.store.repositories import book as book_repo
from doorstep.store.repositories import scoring as repo

VISIT_PRIORITY = behaviour.VISIT_PRIORITY
HARDSHIP = "hardship_vs_evasion"
PURPOSES = (VISIT_PRIORITY, HARDSHIP)
VISIT_STATES = frozenset(
    {CaseState.READY, CaseState.SCHEDULED, CaseState.VISITING, CaseState.VISITED}
)
Progress = Callable[[str], None]


def _require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(
            f"your role cannot {permission.value.replace('_', ' ')}",
            message_zh="您的角色无权执行此操作",
        )


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


# --- the book as frames ---------------------------------------------------------------------


@dataclass
class BookData:
    """The book read once: behaviour frames and the delinquency kernel's inputs."""

    frames: behaviour.BookFrames
    kernel: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]  # as book.range_frames gives them
    disbursed: pl.DataFrame  # loan_id, disbursed_on
    _days: dict[date, pl.DataFrame] = field(default_factory=dict)

    def delinquency(self, day: date, waterfall: Waterfall, buckets: BucketScheme) -> pl.DataFrame:
        """Per-customer delinquency on ``day`` (loans disbursed by then), computed once."""
        if day not in self._days:
            loans, installments, payments = self.kernel
            alive = self.disbursed.filter(pl.col("disbursed_on") <= day).select("loan_id")
            current = loans.join(alive, on="loan_id", how="semi", maintain_order="left")
            if current.height == 0:
                self._days[day] = behaviour.customer_delinquency(
                    pl.DataFrame(
                        schema={
                            "customer_id": pl.Utf8,
                            "dpd": pl.Int64,
                            "overdue_principal": pl.Int64,
                            "overdue_interest": pl.Int64,
                            "overdue_fee": pl.Int64,
                            "overdue_penalty": pl.Int64,
                            "outstanding_principal": pl.Int64,
                        }
                    )
                )
            else:
                snap = compute_range(current, installments, payments, day, waterfall, buckets)
                self._days[day] = behaviour.customer_delinquency(snap)
        return self._days[day]

    def history(
        self, as_of: date, waterfall: Waterfall, buckets: BucketScheme
    ) -> dict[date, pl.DataFrame]:
        return {d: self.delinquency(d, waterfall, buckets) for d in behaviour.history_days(as_of)}


def amounts_due(installments: pl.DataFrame) -> pl.DataFrame:
    """The behaviour frame's installments (loan_id, due_on, amount_due) from the kernel's,
    which hold every installment already: the book's biggest table is read once."""
    return installments.select(
        "loan_id",
        "due_on",
        (pl.col("principal_due") + pl.col("interest_due") + pl.col("fee_due")).alias("amount_due"),
    )


def _slot_parts(
    connection: Connection, first: int, last: int
) -> list[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]]:
    """(loans, installments, payments) of the slots first..last, about 100,000 loans at
    a time (each a range of the tables' slot indexes)."""
    return [
        book_repo.range_frames(book_repo.fetch_slots(connection, a, b))
        for a, b, _ in book_repo.slot_chunks(connection, first, last, 100_000)
    ]


def read_book(session: Session) -> BookData:
    connection = session.connection()
    parts = _slot_parts(connection, *book_repo.slot_range(0, 1))  # all slots
    if not parts:
        raise NotEnoughData("the book holds no loans", message_zh="账簿中没有贷款")
    # in loan order whatever the chunks (training and its fingerprint see the same rows)
    loans = pl.concat([p[0] for p in parts]).sort("loan_id")
    installments = pl.concat([p[1] for p in parts]).sort("loan_id", maintain_order=True)
    payments = pl.concat([p[2] for p in parts]).sort("loan_id", maintain_order=True)
    frames = behaviour.BookFrames(
        loans=repo.read_loans(connection),
        installments=amounts_due(installments),
        payments=repo.read_payments(connection),
        contacts=repo.read_contact_points(connection),
        attempts=repo.read_attempts(connection),
        promises=repo.read_promises(connection),
    )
    return BookData(
        frames, (loans, installments, payments), frames.loans.select("loan_id", "disbursed_on")
    )


# --- training ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSet:
    frame: pd.DataFrame  # features, one row per (customer, window)
    target: Any  # 0/1
    customers: list[str]
    days: list[date]  # the window's as-of date of each row
    windows: list[date]


def visit_priority_training_set(
    session: Session,
    as_of: date,
    *,
    windows: int,
    waterfall: Waterfall,
    buckets: BucketScheme,
    data: BookData | None = None,
    progress: Progress | None = None,
) -> TrainingSet:
    """Rows for every customer past due on as_of - 30k (k = 1..windows), labelled by
    whether they were still past due 30 days later (outcomes known by ``as_of``)."""
    if windows < 1:
        raise InvalidValue("windows >= 1", message_zh="训练窗口数需 ≥ 1")
    data = data or read_book(session)
    frames, targets, customers, days = [], [], [], []
    horizon = timedelta(days=behaviour.HORIZON_DAYS)
    used = []
    for k in range(1, windows + 1):
        day = as_of - timedelta(days=behaviour.STEP_DAYS * k)
        later = day + horizon
        if later > as_of:
            continue
        history = data.history(day, waterfall, buckets)
        outcome = behaviour.labels(history[day], data.delinquency(later, waterfall, buckets))
        if outcome.height == 0:
            continue
        ids = outcome["customer_id"].to_list()
        frames.append(behaviour.features(data.frames, history, day, ids))
        targets.append(outcome["not_cured"].to_numpy())
        customers += ids
        days += [day] * len(ids)
        used.append(day)
        _say(progress, f"window {day}: {len(ids):,} customers past due")
    if not frames:
        raise NotEnoughData(
            f"no customer past due in the {windows} windows before {as_of}",
            message_zh=f"{as_of} 之前的 {windows} 个窗口内没有逾期客户",
        )
    frame = pd.concat(frames).reset_index(drop=True)
    target = np.concatenate(targets).astype(np.int64)
    if len(np.unique(target)) < 2 or min(int(target.sum()), int((1 - target).sum())) < 10:
        raise NotEnoughData(
            f"{len(target)} rows with {int(target.sum())} not cured: both outcomes need at "
            "least 10 rows to train",
            message_zh=f"{len(target)} 行中未结清 {int(target.sum())} 行：两类结果各需至少 10 行",
        )
    return TrainingSet(frame, target, customers, days, used)


def train_visit_priority(
    session: Session,
    actor: Actor,
    as_of: date,
    *,
    config: TrainingConfig,
    waterfall: Waterfall,
    buckets: BucketScheme,
    windows: int = 6,
    progress: Progress | None = None,
) -> ModelVersion:
    """Train ``visit_priority`` from the book and register it (as a candidate)."""
    _require(actor, Permission.TRAIN_MODELS)
    features = behaviour.visit_priority_features()
    data = visit_priority_training_set(
        session, as_of, windows=windows, waterfall=waterfall, buckets=buckets, progress=progress
    )
    dates = np.array(data.days, dtype="datetime64[D]") if len(data.windows) > 1 else None
    bundle, metrics = train(
        VISIT_PRIORITY, data.frame, data.target, features, config, dates=dates, progress=progress
    )
    metrics["windows"] = [d.isoformat() for d in data.windows]
    return register(
        session,
        actor,
        bundle,
        metrics,
        fingerprint(data.frame, data.target, features.names),
        source=f"book as of {as_of}, {len(data.windows)} windows",
        params={"as_of": as_of.isoformat(), "windows": windows, **_params(config)},
    )


def train_from_file(
    session: Session,
    actor: Actor,
    purpose: str,
    path: Path,
    target: str,
    *,
    config: TrainingConfig,
    exclude: Sequence[str] = (),
    progress: Progress | None = None,
) -> ModelVersion:
    """Train ``purpose`` from a CSV/Parquet file with a 0/1 ``target`` and register it."""
    _require(actor, Permission.TRAIN_MODELS)
    if not purpose or len(purpose) > 32 or not purpose.replace("_", "").isalnum():
        raise InvalidValue(
            f"purpose {purpose!r}: letters, digits and _ (at most 32)",
            message_zh=f"用途 {purpose!r}：只能包含字母、数字和下划线（最多 32 个）",
        )
    prepared = prepare_table(read_table(path), target, exclude)
    bundle, metrics = train(
        purpose, prepared.frame, prepared.target, prepared.features, config, progress=progress
    )
    metrics["excluded"] = prepared.excluded
    return register(
        session,
        actor,
        bundle,
        metrics,
        fingerprint(prepared.frame, prepared.target, prepared.features.names),
        source=f"file {path.name}, target {target}"[:200],
        params={"target": target, "exclude": list(exclude), **_params(config)},
    )


def _params(config: TrainingConfig) -> dict[str, Any]:
    return {
        "kind": config.kind,
        "calibration": config.calibration,
        "calibration_folds": config.calibration_folds,
        "folds": config.folds,
        "seed": config.seed,
    }


def register(
    session: Session,
    actor: Actor,
    bundle: Bundle,
    metrics: dict[str, Any],
    data_fingerprint: str,
    *,
    source: str,
    params: dict[str, Any] | None = None,
) -> ModelVersion:
    """Store a trained bundle as the purpose's next version, status ``candidate``."""
    _require(actor, Permission.TRAIN_MODELS)
    blob = dump_model(bundle)
    now = datetime.now(UTC)
    number = repo.next_version(session, bundle.purpose)
    flat = {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))
    }
    card = ModelCard(
        name=bundle.purpose,
        version=str(number),
        fingerprint=data_fingerprint,
        features=tuple(bundle.features.names),
        metrics=flat,
        trained_by=actor.username,
        trained_at=now,
        kind=bundle.kind,
        params=params or {},
        notes=source,
    )
    version = repo.add_version(
        session,
        ModelVersion(
            purpose=bundle.purpose,
            version=number,
            kind=bundle.kind,
            status=repo.CANDIDATE,
            fingerprint=data_fingerprint,
            features=list(bundle.features.names),
            metrics=_json_safe(metrics),
            card=card.to_dict(),
            source=source,
            trained_by=actor.username,
            trained_at=now,
            blob=blob,
            blob_sha256=hashlib.sha256(blob).hexdigest(),
        ),
    )
    audit.record(
        session,
        actor,
        "model.register",
        "model_version",
        version.id,
        {
            "purpose": version.purpose,
            "version": number,
            "kind": version.kind,
            "fingerprint": data_fingerprint,
            "auc": round(float(metrics.get("auc", math.nan)), 6)
            if math.isfinite(float(metrics.get("auc", math.nan)))
            else None,
        },
    )
    return version


def _json_safe(value: Any) -> Any:
    """NaN and infinities as None (JSON has none), numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def activate(
    session: Session, actor: Actor, version_id: int, *, reason: str | None = None
) -> ModelVersion:
    """Make a version its purpose's one active model; the previous one is retired."""
    _require(actor, Permission.TRAIN_MODELS)
    version = repo.get_version(session, version_id)
    if version is None:
        raise NotFound(f"no model version {version_id}", message_zh=f"没有模型版本 {version_id}")
    if version.status == repo.ACTIVE:
        return version
    now = datetime.now(UTC)
    previous = repo.retire_active(session, version.purpose, now)
    version.status, version.activated_at, version.retired_at = repo.ACTIVE, now, None
    session.flush()
    audit.record(
        session,
        actor,
        "model.activate",
        "model_version",
        version.id,
        {
            "purpose": version.purpose,
            "version": version.version,
            "fingerprint": version.fingerprint,
            "retired": previous,
        },
        reason=reason,
    )
    return version


def load(version: ModelVersion) -> Bundle:
    """The bundle of a stored version (its bytes checked against their SHA-256)."""
    if hashlib.sha256(version.blob).hexdigest() != version.blob_sha256:
        raise InvalidValue(
            f"model version {version.id}: stored bytes do not match their SHA-256",
            message_zh=f"模型版本 {version.id}：存储的数据与其 SHA-256 不符",
        )
    bundle: Bundle = load_model(version.blob)
    return bundle


def list_models(session: Session, actor: Actor) -> list[ModelVersion]:
    _require(actor, Permission.READ_MODELS)
    return repo.list_versions(session)


def get_model(session: Session, actor: Actor, version_id: int) -> ModelVersion:
    _require(actor, Permission.READ_MODELS)
    version = repo.get_version(session, version_id)
    if version is None:
        raise NotFound(f"no model version {version_id}", message_zh=f"没有模型版本 {version_id}")
    return version


# --- applying and monitoring ---------------------------------------------------------------


@dataclass
class ApplyReport:
    as_of: date
    model_version_id: int
    version: int
    scored: int = 0
    with_reasons: int = 0
    mean_probability: float = math.nan
    drift: list[monitoring.Drift] = field(default_factory=list)

    @property
    def flagged(self) -> list[monitoring.Drift]:
        return [d for d in self.drift if d.flagged]


NO_COST = {
    "feature": None,
    "en": "no feature costs this account anything: every value is at its best",
    "zh_CN": "没有任何特征拉低评分：各项取值均处于最优区间",
    "impact": 0.0,
}


def reasons_json(reasons: tuple[Reason, ...]) -> list[dict[str, Any]]:
    """The reason codes as stored (largest cost first); an account that nothing costs
    says so, so every stored score carries its reasons."""
    if not reasons:
        return [dict(NO_COST)]
    return [
        {"feature": r.feature, "en": r.label_en, "zh_CN": r.label_zh, "impact": round(r.impact, 4)}
        for r in reasons
    ]


def to_basis_points(probability: float) -> int:
    """A probability as whole basis points (0..10,000), rounded half up."""
    return max(0, min(10_000, math.floor(float(probability) * 10_000 + 0.5)))


def _active_bundle(session: Session, model_version_id: int | None = None) -> ModelVersion:
    """The active ``visit_priority`` version (or the given one), checked to be scorable."""
    version = (
        repo.active_version(session, VISIT_PRIORITY)
        if model_version_id is None
        else repo.get_version(session, model_version_id)
    )
    if version is None:
        raise NotFound(
            "no active visit_priority model: train one and activate it",
            message_zh="没有启用的 visit_priority 模型：请先训练并启用",
        )
    return version


def _check_features(version: ModelVersion, bundle: Bundle) -> None:
    foreign = set(bundle.features.names) - set(behaviour.visit_priority_features().names)
    if foreign:
        raise InvalidValue(
            f"the active visit_priority model (v{version.version}) was not trained on the "
            f"book's features (it needs {sorted(foreign)[:5]}): train one from the book",
            message_zh=f"启用中的 visit_priority 模型（v{version.version}）"
            "并非基于账簿特征训练：请从账簿训练",
        )


@dataclass
class _Scored:
    """One run's scores before they are stored (the whole book, or one partition)."""

    customers: list[str]
    rows: list[dict[str, Any]]
    inputs: pd.DataFrame
    probability: Any  # numpy array, one per customer
    explained: int


def _score(
    session: Session,
    version: ModelVersion,
    bundle: Bundle,
    data: BookData,
    as_of: date,
    waterfall: Waterfall,
    buckets: BucketScheme,
    progress: Progress | None,
) -> _Scored:
    """Score every customer of `data` past due on `as_of` or with an open case."""
    history = data.history(as_of, waterfall, buckets)
    cases = repo.cases_by_customer(session)
    past_due = history[as_of].filter(pl.col("max_dpd") > 0)["customer_id"].to_list()
    known = set(data.frames.loans["customer_id"].to_list())
    customers = sorted(set(past_due) | (set(cases) & known))
    if not customers:
        return _Scored([], [], pd.DataFrame(), np.array([], dtype=np.float64), 0)
    _say(progress, f"scoring {len(customers):,} customers on {as_of}")
    frame = behaviour.features(data.frames, history, as_of, customers)
    inputs = bundle.features.frame(frame).reset_index(drop=True)
    probability = bundle.probability(inputs)
    points = bundle.points(inputs)
    reasons = bundle.reasons(inputs)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    explained = 0
    for i, customer in enumerate(customers):
        case = cases.get(customer)
        explained += bool(reasons[i])
        rows.append(
            {
                "model_version_id": version.id,
                "purpose": VISIT_PRIORITY,
                "as_of": as_of,
                "customer_id": customer,
                "case_id": case[0] if case else None,
                "probability_bp": to_basis_points(probability[i]),
                "points": round(float(points[i])) if math.isfinite(points[i]) else 0,
                "reasons": reasons_json(reasons[i]),
                "scored_at": now,
            }
        )
    return _Scored(customers, rows, inputs, probability, explained)


def _store_drift(
    session: Session,
    actor: Actor,
    version: ModelVersion,
    report: ApplyReport,
    drift: list[monitoring.Drift],
    rows: int,
) -> None:
    """The day's population stability and the audit event of the run."""
    report.drift = drift
    repo.replace_drift(
        session,
        version.id,
        report.as_of,
        [
            {
                "model_version_id": version.id,
                "as_of": report.as_of,
                "name": d.name,
                "psi": float(d.psi),
                "flagged": bool(d.flagged),
                "rows": rows,
            }
            for d in drift
        ],
    )
    audit.record(
        session,
        actor,
        "model.apply",
        "model_version",
        version.id,
        {
            "as_of": report.as_of.isoformat(),
            "scored": report.scored,
            "flagged": [d.name for d in report.flagged],
        },
    )
    session.flush()


def apply(
    session: Session,
    actor: Actor,
    as_of: date,
    *,
    waterfall: Waterfall,
    buckets: BucketScheme,
    data: BookData | None = None,
    progress: Progress | None = None,
) -> ApplyReport:
    """Score with the active ``visit_priority`` model on ``as_of`` (replacing that day's
    earlier run) and store the day's population stability against training."""
    _require(actor, Permission.RUN_BATCHES)
    version = _active_bundle(session)
    bundle = load(version)
    _check_features(version, bundle)
    data = data or read_book(session)
    scored = _score(session, version, bundle, data, as_of, waterfall, buckets, progress)
    report = ApplyReport(as_of, version.id, version.version)
    if not scored.customers:
        repo.replace_scores(session, version.id, as_of, [])
        return report
    report.scored = repo.replace_scores(session, version.id, as_of, scored.rows)
    report.with_reasons = scored.explained
    report.mean_probability = float(np.mean(scored.probability))
    drift = monitoring.psi_report(
        bundle.reference,
        scored.inputs,
        bundle.features,
        score_reference=bundle.reference_probability,
        score_current=scored.probability,
    )
    _store_drift(session, actor, version, report, drift, len(scored.customers))
    return report


# --- applying in partitions ----------------------------------------------------------------

SCORING_PARTITION_TASK = "doorstep.scoring_partition"
"""The scoring partition task's name, shared by the workers and whoever enqueues it."""


def read_partition_book(session: Session, first: int, last: int) -> BookData | None:
    """The book of the customers whose loans' slots are in first..last (a partition holds
    whole customers); None when it has no loan."""
    connection = session.connection()
    parts = _slot_parts(connection, first, last)
    if not parts:
        return None
    loans = pl.concat([p[0] for p in parts])
    installments = pl.concat([p[1] for p in parts])
    slots = (first, last)  # each read limited to the partition's customers in the database
    frames = behaviour.BookFrames(
        loans=repo.read_loans(connection, slots),
        installments=amounts_due(installments),
        payments=repo.read_payments(connection, slots),
        contacts=repo.read_contact_points(connection, slots),
        attempts=repo.read_attempts(connection, slots),
        promises=repo.read_promises(connection, slots),
    )
    kernel = (loans, installments, pl.concat([p[2] for p in parts]))
    return BookData(frames, kernel, frames.loans.select("loan_id", "disbursed_on"))


def _is_categorical(reference: Any, declared: bool) -> bool:
    """As `monitoring.psi` decides: declared, or a reference that is not numbers."""
    return declared or not pd.api.types.is_numeric_dtype(pd.Series(reference).infer_objects())


def _edges(reference: Any) -> Any:
    """The reference's decile edges, as `monitoring.psi` cuts them."""
    finite = pd.Series(np.asarray(reference, dtype=np.float64)).dropna().to_numpy()
    if not len(finite):
        return np.array([], dtype=np.float64)
    return np.unique(np.quantile(finite, np.linspace(0, 1, 11)[1:-1]))


def histogram(reference: Any, current: Any, *, categorical: bool) -> list[list[Any]]:
    """[value, count] pairs standing for `current` in PSI against `reference`: one value
    per bin (numbers) or level (categories), None for missing. Partitions' histograms
    concatenated and expanded give the PSI of all their rows together."""
    if categorical:
        values = pd.Series(np.asarray(current, dtype=object))
        missing = int(values.isna().sum())
        counts = values.dropna().value_counts(sort=False)
        pairs = [
            [level.item() if isinstance(level, np.generic) else level, int(n)]
            for level, n in counts.items()
        ]
        return pairs + ([[None, missing]] if missing else [])
    edges = _edges(reference)
    numbers = np.asarray(current, dtype=np.float64)
    codes = np.searchsorted(edges, numbers, side="right")
    codes[np.isnan(numbers)] = len(edges) + 1
    counts = np.bincount(codes, minlength=len(edges) + 2)
    # a value in each bin: below the first edge, each edge, then missing
    first = float(edges[0]) - 1.0 if len(edges) else 0.0
    standing = [first, *(float(e) for e in edges), None]
    return [[standing[k], int(n)] for k, n in enumerate(counts) if n]


def _expand(pairs: list[list[Any]], categorical: bool) -> Any:
    values = [value for value, n in pairs for _ in range(int(n))]
    if categorical:
        return pd.Series(values, dtype=object)
    return pd.Series([np.nan if v is None else v for v in values], dtype=np.float64)


def apply_partition(
    session: Session,
    as_of: date,
    partition: int,
    partitions: int,
    model_version_id: int,
    *,
    waterfall: Waterfall,
    buckets: BucketScheme,
) -> dict[str, Any]:
    """Score one partition's customers with the given version on ``as_of``, replacing
    that partition's scores of the day (a task delivered twice leaves the same rows);
    returns its figures and its inputs' histograms for `finish_partitioned`."""
    version = _active_bundle(session, model_version_id)
    bundle = load(version)
    _check_features(version, bundle)
    first, last = book_repo.slot_range(partition, partitions)
    in_partition = select(Loan.customer_id).where(Loan.partition_slot.between(first, last))
    session.execute(
        delete(Score).where(
            Score.model_version_id == version.id,
            Score.as_of == as_of,
            Score.customer_id.in_(in_partition),
        )
    )
    data = read_partition_book(session, first, last)
    scored = (
        _score(session, version, bundle, data, as_of, waterfall, buckets, None)
        if data is not None
        else None
    )
    figures: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "partition": partition,
        "model_version_id": version.id,
        "scored": 0,
        "with_reasons": 0,
        "probability_sum": 0.0,
        "histograms": {},
    }
    if scored is None or not scored.customers:
        return figures
    session.execute(insert(Score), scored.rows)
    categorical = set(bundle.features.categorical)
    figures.update(
        scored=len(scored.rows),
        with_reasons=scored.explained,
        probability_sum=float(np.sum(scored.probability)),
        histograms={
            **{
                name: histogram(
                    bundle.reference[name],
                    scored.inputs[name],
                    categorical=_is_categorical(bundle.reference[name], name in categorical),
                )
                for name in bundle.features.names
            },
            monitoring.SCORE: histogram(
                bundle.reference_probability, scored.probability, categorical=False
            ),
        },
    )
    return figures


def finish_partitioned(
    session: Session,
    actor: Actor,
    as_of: date,
    model_version_id: int,
    outcomes: Sequence[Mapping[str, Any]],
) -> ApplyReport:
    """The coordinator's part, once every partition reported: scores of customers no
    longer in the book dropped, the day's population stability over all partitions'
    inputs, the audit event; the same report as `apply` on the whole book."""
    _require(actor, Permission.RUN_BATCHES)
    version = _active_bundle(session, model_version_id)
    bundle = load(version)
    session.execute(
        delete(Score).where(
            Score.model_version_id == version.id,
            Score.as_of == as_of,
            Score.customer_id.not_in(select(Loan.customer_id)),
        )
    )
    report = ApplyReport(as_of, version.id, version.version)
    report.scored = sum(int(o["scored"]) for o in outcomes)
    report.with_reasons = sum(int(o["with_reasons"]) for o in outcomes)
    if not report.scored:
        return report
    report.mean_probability = sum(float(o["probability_sum"]) for o in outcomes) / report.scored
    categorical = set(bundle.features.categorical)

    def merged(name: str, is_categorical: bool) -> Any:
        pairs = [pair for o in outcomes for pair in o["histograms"].get(name, [])]
        return _expand(pairs, is_categorical)

    inputs = pd.DataFrame(
        {
            name: merged(
                name, _is_categorical(bundle.reference[name], name in categorical)
            ).to_numpy()
            for name in bundle.features.names
        }
    )
    drift = monitoring.psi_report(
        bundle.reference,
        inputs,
        bundle.features,
        score_reference=bundle.reference_probability,
        score_current=merged(monitoring.SCORE, False).to_numpy(),
    )
    _store_drift(session, actor, version, report, drift, report.scored)
    return report


def visit_probabilities(session: Session, as_of: date) -> dict[str, int] | None:
    """customer_id -> P(no self-cure) in basis points from the active ``visit_priority``
    model on ``as_of``; None when there is no active model or it has no scores that day."""
    version = repo.active_version(session, VISIT_PRIORITY)
    if version is None:
        return None
    found = repo.probabilities_on(session, version.id, as_of)
    return found or None


# --- fairness ------------------------------------------------------------------------------

AGE_BANDS = ((0, 29, "<30"), (30, 39, "30-39"), (40, 49, "40-49"), (50, 59, "50-59"))


def age_band(born: date, on: date) -> str:
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    for low, high, name in AGE_BANDS:
        if low <= age <= high:
            return name
    return "60+"


@dataclass(frozen=True)
class FairnessView:
    as_of: date
    scored: int
    selected: int
    reports: tuple[fairness.FairnessReport, ...]

    @property
    def warnings(self) -> list[str]:
        return [w for r in self.reports for w in r.warnings]


def fairness_report(
    session: Session, actor: Actor, version_id: int, as_of: date | None = None
) -> FairnessView | None:
    """Score distribution and visit selection (a case ready for a visit or beyond) by
    gender and age band among the customers the version scored on ``as_of`` (default:
    its latest scored day); None when it has scored nobody."""
    _require(actor, Permission.READ_MODELS)
    days = repo.scored_days(session, version_id)
    if not days:
        return None
    day = as_of or days[0]
    scores = repo.scores_on(session, version_id, day)
    if not scores:
        return None
    groups = repo.fairness_groups(session, [s.customer_id for s in scores])
    cases = repo.cases_by_customer(session)
    visit_states = {s.value for s in VISIT_STATES}
    selected = [s.customer_id in cases and cases[s.customer_id][1] in visit_states for s in scores]
    probability = [s.probability_bp / 10_000 for s in scores]
    gender = [groups.get(s.customer_id, ("?", day))[0] for s in scores]
    ages = [
        age_band(groups[s.customer_id][1], day) if s.customer_id in groups else "?" for s in scores
    ]
    reports = (
        fairness.report(gender, selected, probability, attribute="gender"),
        fairness.report(ages, selected, probability, attribute="age band"),
    )
    return FairnessView(day, len(scores), sum(selected), reports)


@dataclass(frozen=True)
class ModelView:
    """What the analyst page shows of one version."""

    version: ModelVersion
    drift_day: date | None
    drift: list[Any]
    fairness: FairnessView | None
    scored_days: list[date]


def model_view(session: Session, actor: Actor, version_id: int) -> ModelView:
    version = get_model(session, actor, version_id)
    drift_days = repo.drift_days(session, version.id)
    day = drift_days[0] if drift_days else None
    drift = repo.drift_on(session, version.id, day) if day else []
    return ModelView(
        version,
        day,
        drift,
        fairness_report(session, actor, version.id),
        repo.scored_days(session, version.id),
    )


def latest_book_day(session: Session) -> date | None:
    """The latest delinquency snapshot date (the default as-of of training and scoring)."""
    return repo.latest_snapshot_day(session.connection())


# --- evaluation of any file -----------------------------------------------------------------


@dataclass(frozen=True)
class FileEvaluation:
    evaluation: Any  # doorstep.scoring.evaluate.Evaluation
    excluded: dict[str, str]
    features: list[str]


def evaluate_file(
    path: Path,
    target: str,
    *,
    exclude: Sequence[str] = (),
    folds: int = 5,
    repeats: int = 1,
    config: TrainingConfig | None = None,
    progress: Progress | None = None,
) -> FileEvaluation:
    """Cross-validate the scorecard, the monotone LightGBM (both calibrated, everything
    refitted inside each training fold) and a library-defaults LightGBM on a table with a
    0/1 target. Protected attributes and identifier-like columns are left out."""
    from doorstep.scoring.evaluate import evaluate
    from doorstep.scoring.pipeline import candidates

    config = config or TrainingConfig()
    prepared = prepare_table(read_table(path), target, exclude)
    ev = evaluate(
        prepared.frame,
        prepared.target,
        candidates(prepared.features, config),
        folds=folds,
        repeats=repeats,
        seed=config.seed,
        calibration_folds=config.calibration_folds,
        progress=progress,
    )
    return FileEvaluation(ev, prepared.excluded, prepared.features.names)


# --- hardship or evasion ------------------------------------------------------------------


def hardship_advice(session: Session, facts: hardship.InterviewFacts) -> dict[str, Any]:
    """Advice on whether a default is willful, for the manager (never an action).

    The active ``hardship_vs_evasion`` model when there is one whose inputs are all
    columns of `doorstep.domain.hardship.interview_row` (trained with `doorstep score
    train --purpose hardship_vs_evasion --data verdicts.csv --target willful`), else the
    transparent rule set. JSON-ready: source, probability, leaning, reasons (en, zh_CN).
    """
    version = repo.active_version(session, HARDSHIP)
    row = hardship.interview_row(facts)
    if version is not None and set(version.features) <= set(row):
        bundle = load(version)
        frame = pd.DataFrame([{name: row[name] for name in version.features}])
        for feature in bundle.features:
            if not feature.categorical:
                frame[feature.name] = pd.to_numeric(frame[feature.name]).astype("float64")
        probability = float(bundle.probability(frame)[0])
        bp = to_basis_points(probability)
        return {
            "source": f"model {version.purpose} v{version.version}",
            "model_version_id": version.id,
            "probability": bp / 10_000,
            "leaning": hardship.leaning_of(Fraction(bp, 10_000)),
            "reasons": [
                {"code": r["feature"], "en": r["en"], "zh_CN": r["zh_CN"]}
                for r in reasons_json(bundle.reasons(frame)[0])
            ],
            "advice_only": True,
        }
    return hardship.assess(facts).as_dict()
