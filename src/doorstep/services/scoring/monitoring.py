"""Watching a model in use: the day's population stability (also merged over partitions
from their histograms) and the fairness report.

`fairness_report` compares score distributions and visit selection across gender and
age bands (adverse impact ratio, warned below 0.8); those attributes are read for this
report only, never as model inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.case import CaseState
from doorstep.scoring import fairness, monitoring
from doorstep.scoring.pipeline import Bundle
from doorstep.services.conduct import audit
from doorstep.services.scoring.common import require
from doorstep.store.models import ModelVersion
from doorstep.store.repositories import scoring as repo

VISIT_STATES = frozenset(
    {CaseState.READY, CaseState.SCHEDULED, CaseState.VISITING, CaseState.VISITED}
)
"""A customer is selected for a visit when their open case is in one of these."""

# --- population stability -----------------------------------------------------------------


def store_drift(
    session: Session,
    actor: Actor,
    version: ModelVersion,
    as_of: date,
    drift: list[monitoring.Drift],
    scored: int,
) -> None:
    """The day's population stability (replacing the day's earlier run) and the audit
    event of the run that scored ``scored`` customers."""
    repo.replace_drift(
        session,
        version.id,
        as_of,
        [
            {
                "model_version_id": version.id,
                "as_of": as_of,
                "name": d.name,
                "psi": float(d.psi),
                "flagged": bool(d.flagged),
                "rows": scored,
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
            "as_of": as_of.isoformat(),
            "scored": scored,
            "flagged": [d.name for d in drift if d.flagged],
        },
    )
    session.flush()


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


def histograms(bundle: Bundle, inputs: pd.DataFrame, probability: Any) -> dict[str, Any]:
    """One run's histograms of every model input and of the score (`histogram`)."""
    categorical = set(bundle.features.categorical)
    return {
        **{
            name: histogram(
                bundle.reference[name],
                inputs[name],
                categorical=_is_categorical(bundle.reference[name], name in categorical),
            )
            for name in bundle.features.names
        },
        monitoring.SCORE: histogram(bundle.reference_probability, probability, categorical=False),
    }


def merged_drift(bundle: Bundle, outcomes: Sequence[Mapping[str, Any]]) -> list[monitoring.Drift]:
    """The population stability of all partitions' rows together, from their histograms."""
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
    return monitoring.psi_report(
        bundle.reference,
        inputs,
        bundle.features,
        score_reference=bundle.reference_probability,
        score_current=merged(monitoring.SCORE, False).to_numpy(),
    )


# --- fairness ---------------------------------------------------------------------------------

AGE_BANDS = ((0, 29, "<30"), (30, 39, "30-39"), (40, 49, "40-49"), (50, 59, "50-59"))


def age_band(birth_year: int, on: date) -> str:
    """The band of the age reached in `on`'s year: only the birth year is stored."""
    age = on.year - birth_year
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
    require(actor, Permission.READ_MODELS)
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
