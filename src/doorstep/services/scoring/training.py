"""Training: ``visit_priority`` from the book itself, any purpose from a file, and the
cross-validated evaluation of a file's candidate models.

For each of the last ``windows`` 30-day steps before the as-of date, the customers past
due on that day, their behaviour up to it (`doorstep.scoring.behaviour`), and whether
they were still past due 30 days later (the delinquency replay of the later day).
A trained model is registered as a candidate (`registry.register`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.allocation import Waterfall
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.errors import InvalidValue, NotEnoughData
from doorstep.domain.ports import Clock
from doorstep.scoring import behaviour
from doorstep.scoring.evaluate import Evaluation, evaluate
from doorstep.scoring.pipeline import (
    TrainingConfig,
    candidates,
    prepare_table,
    read_table,
    train,
)
from doorstep.scoring.registry import fingerprint
from doorstep.services.scoring.book import BookData, read_book
from doorstep.services.scoring.common import VISIT_PRIORITY, Progress, require, say
from doorstep.services.scoring.registry import register
from doorstep.store.models import ModelVersion


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
        say(progress, f"window {day}: {len(ids):,} customers past due")
    if not frames:
        raise NotEnoughData(
            f"no customer past due in the {windows} windows before {as_of}",
            message_zh=f"{as_of} 之前的 {windows} 个窗口内没有逾期客户",
        )
    frame = pd.concat(frames).reset_index(drop=True)
    target = np.concatenate(targets).astype(np.int64)
    _check_both_outcomes(target)
    return TrainingSet(frame, target, customers, days, used)


def _check_both_outcomes(target: Any) -> None:
    """Both outcomes need at least 10 rows for the folds and the calibration."""
    if len(np.unique(target)) < 2 or min(int(target.sum()), int((1 - target).sum())) < 10:
        raise NotEnoughData(
            f"{len(target)} rows with {int(target.sum())} not cured: both outcomes need at "
            "least 10 rows to train",
            message_zh=f"{len(target)} 行中未结清 {int(target.sum())} 行：两类结果各需至少 10 行",
        )


def train_visit_priority(
    session: Session,
    actor: Actor,
    as_of: date,
    *,
    config: TrainingConfig,
    waterfall: Waterfall,
    buckets: BucketScheme,
    clock: Clock,
    windows: int = 6,
    progress: Progress | None = None,
) -> ModelVersion:
    """Train ``visit_priority`` from the book and register it (as a candidate), stamped
    with the clock's time when training ends."""
    require(actor, Permission.TRAIN_MODELS)
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
        now=clock.now(),
    )


def train_from_file(
    session: Session,
    actor: Actor,
    purpose: str,
    path: Path,
    target: str,
    *,
    config: TrainingConfig,
    clock: Clock,
    exclude: Sequence[str] = (),
    progress: Progress | None = None,
) -> ModelVersion:
    """Train ``purpose`` from a CSV/Parquet file with a 0/1 ``target`` and register it,
    stamped with the clock's time when training ends."""
    require(actor, Permission.TRAIN_MODELS)
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
        now=clock.now(),
    )


def _params(config: TrainingConfig) -> dict[str, Any]:
    return {
        "kind": config.kind,
        "calibration": config.calibration,
        "calibration_folds": config.calibration_folds,
        "folds": config.folds,
        "seed": config.seed,
    }


@dataclass(frozen=True)
class FileEvaluation:
    evaluation: Evaluation
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
