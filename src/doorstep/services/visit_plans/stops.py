"""A plan's stops: their statuses, and the ones a new plan keeps as they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from doorstep.domain.case import CaseState
from doorstep.store.models import PlanStop

PLANNED, DROPPED, STARTED, DONE, CANCELLED = "planned", "dropped", "started", "done", "cancelled"
FIXED = frozenset({STARTED, DONE})
"""Stops no edit or re-optimisation may change."""
AT_THE_DOOR = frozenset({CaseState.VISITING.value, CaseState.VISITED.value, CaseState.CLOSED.value})
"""Case states meaning the visit has begun, whatever the stop says."""


@dataclass(frozen=True)
class FixedStop:
    """A stop kept as it is (started or done before a replan)."""

    case_id: int
    point_id: int | None
    team_id: int
    seq: int
    status: str
    arrive_at: datetime | None
    start_at: datetime | None
    end_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    travel_m: int
    travel_seconds: int
    value: int


def fixed_of(s: PlanStop) -> FixedStop:
    """A routed stop, kept as it is."""
    assert s.team_id is not None
    assert s.seq is not None
    return FixedStop(
        s.case_id,
        s.contact_point_id,
        s.team_id,
        s.seq,
        s.status,
        s.arrive_at,
        s.start_at,
        s.end_at,
        s.window_start,
        s.window_end,
        s.travel_m,
        s.travel_seconds,
        s.value,
    )
