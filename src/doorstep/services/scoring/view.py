"""What the analyst's model page shows of one version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.services.scoring.monitoring import FairnessView, fairness_report
from doorstep.services.scoring.registry import get_model
from doorstep.store.models import ModelVersion
from doorstep.store.repositories import scoring as repo


@dataclass(frozen=True)
class ModelView:
    """What the analyst page shows of one version."""

    version: ModelVersion
    drift_day: date | None
    drift: list[Any]
    fairness: FairnessView | None
    scored_days: list[date]


def model_view(session: Session, actor: Actor, version_id: int) -> ModelView:
    """The version, its latest day's population stability, its fairness report on its
    latest scored day, and the days it scored."""
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
