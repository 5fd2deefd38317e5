"""Hardship or evasion: advice to the manager on whether a default is willful."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy.orm import Session

from doorstep.domain import hardship
from doorstep.services.scoring.common import HARDSHIP
from doorstep.services.scoring.registry import load
from doorstep.services.scoring.scores import reasons_json, to_basis_points
from doorstep.store.repositories import scoring as repo


def hardship_advice(session: Session, facts: hardship.InterviewFacts) -> dict[str, Any]:
    """Advice on whether a default is willful, for the manager (never an action).

    The active ``hardship_vs_evasion`` model when there is one whose inputs are all
    columns of `doorstep.domain.hardship.interview_row` (trained with `doorstep score
    train --purpose hardship_vs_evasion --data verdicts.csv --target willful`), else the
    transparent rule set. JSON-ready: source, probability, leaning, reasons (en, zh_CN).
    """
    version = repo.active_version(session, HARDSHIP)
    row = hardship.interview_row(facts)
    if version is None or not set(version.features) <= set(row):
        return hardship.assess(facts).as_dict()
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
