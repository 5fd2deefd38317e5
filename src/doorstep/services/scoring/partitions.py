"""Applying ``visit_priority`` in partitions of whole customers on the workers.

Each partition's task (`apply_partition`) replaces its customers' scores of the day and
returns its figures with its inputs' histograms; once every partition reported, the
coordinator (`finish_partitioned`) drops the scores of customers gone from the book and
stores the day's population stability over all of them: the same report as `apply`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.allocation import Waterfall
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.ports import Clock
from doorstep.services.scoring.book import read_partition_book
from doorstep.services.scoring.common import require
from doorstep.services.scoring.monitoring import histograms, merged_drift, store_drift
from doorstep.services.scoring.registry import load
from doorstep.services.scoring.scores import (
    ApplyReport,
    ScoringRun,
    model_version,
    score,
    scoring_model,
)
from doorstep.store.repositories import book as book_repo
from doorstep.store.repositories import scoring as repo

SCORING_PARTITION_TASK = "doorstep.scoring_partition"
"""The scoring partition task's name, shared by the workers and whoever enqueues it."""


def apply_partition(
    session: Session,
    as_of: date,
    partition: int,
    partitions: int,
    model_version_id: int,
    *,
    waterfall: Waterfall,
    buckets: BucketScheme,
    clock: Clock,
) -> dict[str, Any]:
    """Score one partition's customers with the given version on ``as_of``, replacing
    that partition's scores of the day (a task delivered twice leaves the same rows);
    returns its figures and its inputs' histograms for `finish_partitioned`."""
    version, bundle = scoring_model(session, model_version_id)
    first, last = book_repo.slot_range(partition, partitions)
    repo.delete_partition_scores(session, version.id, as_of, first, last)
    data = read_partition_book(session, first, last)
    run = ScoringRun(version, bundle, as_of, waterfall, buckets, clock)
    scored = score(session, run, data) if data is not None else None
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
    repo.add_scores(session, scored.rows)
    figures.update(
        scored=len(scored.rows),
        with_reasons=scored.explained,
        probability_sum=float(np.sum(scored.probability)),
        histograms=histograms(bundle, scored.inputs, scored.probability),
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
    require(actor, Permission.RUN_BATCHES)
    version = model_version(session, model_version_id)
    bundle = load(version)
    repo.drop_scores_without_loans(session, version.id, as_of)
    report = ApplyReport(as_of, version.id, version.version)
    report.scored = sum(int(o["scored"]) for o in outcomes)
    report.with_reasons = sum(int(o["with_reasons"]) for o in outcomes)
    if not report.scored:
        return report
    report.mean_probability = sum(float(o["probability_sum"]) for o in outcomes) / report.scored
    report.drift = merged_drift(bundle, outcomes)
    store_drift(session, actor, version, as_of, report.drift, report.scored)
    return report
