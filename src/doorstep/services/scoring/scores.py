"""Applying ``visit_priority``: every customer past due on the as-of date and every open
case's customer scored with the active model, storing probability (basis points), points
and reason codes (en, zh_CN), then the day's population stability.

The whole book in one run here (`apply`); in partitions on the workers see `partitions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import polars as pl
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.allocation import Waterfall
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.errors import InvalidValue, NotFound
from doorstep.domain.ports import Clock
from doorstep.scoring import behaviour, monitoring
from doorstep.scoring.base import Reason
from doorstep.scoring.pipeline import Bundle
from doorstep.services.scoring.book import BookData, read_book
from doorstep.services.scoring.common import VISIT_PRIORITY, Progress, require, say
from doorstep.services.scoring.monitoring import store_drift
from doorstep.services.scoring.registry import load
from doorstep.store.models import ModelVersion
from doorstep.store.repositories import scoring as repo


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


def model_version(session: Session, model_version_id: int | None = None) -> ModelVersion:
    """The active ``visit_priority`` version, or the given one."""
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


def scoring_model(
    session: Session, model_version_id: int | None = None
) -> tuple[ModelVersion, Bundle]:
    """`model_version` and its bundle, checked to be scorable from the book's features."""
    version = model_version(session, model_version_id)
    bundle = load(version)
    foreign = set(bundle.features.names) - set(behaviour.visit_priority_features().names)
    if foreign:
        raise InvalidValue(
            f"the active visit_priority model (v{version.version}) was not trained on the "
            f"book's features (it needs {sorted(foreign)[:5]}): train one from the book",
            message_zh=f"启用中的 visit_priority 模型（v{version.version}）"
            "并非基于账簿特征训练：请从账簿训练",
        )
    return version, bundle


@dataclass
class Scored:
    """One run's scores before they are stored (the whole book, or one partition)."""

    customers: list[str]
    rows: list[dict[str, Any]]
    inputs: pd.DataFrame
    probability: Any  # numpy array, one per customer
    explained: int


@dataclass(frozen=True)
class ScoringRun:
    """What a run scores with and on: the model, the day, the delinquency rules, the
    clock that stamps the scores."""

    version: ModelVersion
    bundle: Bundle
    as_of: date
    waterfall: Waterfall
    buckets: BucketScheme
    clock: Clock


def score(
    session: Session, run: ScoringRun, data: BookData, progress: Progress | None = None
) -> Scored:
    """Score every customer of `data` past due on the run's day or with an open case."""
    as_of, bundle = run.as_of, run.bundle
    history = data.history(as_of, run.waterfall, run.buckets)
    cases = repo.cases_by_customer(session)
    past_due = history[as_of].filter(pl.col("max_dpd") > 0)["customer_id"].to_list()
    known = set(data.frames.loans["customer_id"].to_list())
    customers = sorted(set(past_due) | (set(cases) & known))
    if not customers:
        return Scored([], [], pd.DataFrame(), np.array([], dtype=np.float64), 0)
    say(progress, f"scoring {len(customers):,} customers on {as_of}")
    frame = behaviour.features(data.frames, history, as_of, customers)
    inputs = bundle.features.frame(frame).reset_index(drop=True)
    probability = bundle.probability(inputs)
    points = bundle.points(inputs)
    reasons = bundle.reasons(inputs)
    now = run.clock.now()
    rows: list[dict[str, Any]] = []
    explained = 0
    for i, customer in enumerate(customers):
        case = cases.get(customer)
        explained += bool(reasons[i])
        rows.append(
            {
                "model_version_id": run.version.id,
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
    return Scored(customers, rows, inputs, probability, explained)


def apply(
    session: Session,
    actor: Actor,
    as_of: date,
    *,
    waterfall: Waterfall,
    buckets: BucketScheme,
    clock: Clock,
    data: BookData | None = None,
    progress: Progress | None = None,
) -> ApplyReport:
    """Score with the active ``visit_priority`` model on ``as_of`` (replacing that day's
    earlier run) and store the day's population stability against training."""
    require(actor, Permission.RUN_BATCHES)
    version, bundle = scoring_model(session)
    data = data or read_book(session)
    run = ScoringRun(version, bundle, as_of, waterfall, buckets, clock)
    scored = score(session, run, data, progress)
    report = ApplyReport(as_of, version.id, version.version)
    if not scored.customers:
        repo.replace_scores(session, version.id, as_of, [])
        return report
    report.scored = repo.replace_scores(session, version.id, as_of, scored.rows)
    report.with_reasons = scored.explained
    report.mean_probability = float(np.mean(scored.probability))
    report.drift = monitoring.psi_report(
        bundle.reference,
        scored.inputs,
        bundle.features,
        score_reference=bundle.reference_probability,
        score_current=scored.probability,
    )
    store_drift(session, actor, version, as_of, report.drift, report.scored)
    return report


def visit_probabilities(session: Session, as_of: date) -> dict[str, int] | None:
    """customer_id -> P(no self-cure) in basis points from the active ``visit_priority``
    model on ``as_of``; None when there is no active model or it has no scores that day."""
    version = repo.active_version(session, VISIT_PRIORITY)
    if version is None:
        return None
    found = repo.probabilities_on(session, version.id, as_of)
    return found or None
