"""Risk scoring use cases: train, register, activate, apply, monitor, fairness.

* `training`: ``visit_priority`` from the book itself, any purpose from a file, and the
  cross-validated evaluation of a file;
* `registry`: versions registered as candidates, one active per purpose, loaded back;
* `book`: the book as frames, read once per run (whole, or one partition);
* `scores`: the day scored with the active ``visit_priority`` model;
* `partitions`: the same in partitions of whole customers on the workers;
* `monitoring`: the day's population stability and the fairness report;
* `view`: what the analyst's model page shows; `advice`: hardship or evasion.

Services flush, never commit; the time comes from the caller (a `Clock` or ``now``).
"""

from __future__ import annotations

from doorstep.services.scoring.advice import hardship_advice
from doorstep.services.scoring.book import (
    BookData,
    amounts_due,
    latest_book_day,
    read_book,
    read_partition_book,
)
from doorstep.services.scoring.common import HARDSHIP, PURPOSES, VISIT_PRIORITY, Progress
from doorstep.services.scoring.monitoring import (
    AGE_BANDS,
    VISIT_STATES,
    FairnessView,
    age_band,
    fairness_report,
    histogram,
)
from doorstep.services.scoring.partitions import (
    SCORING_PARTITION_TASK,
    apply_partition,
    finish_partitioned,
)
from doorstep.services.scoring.registry import activate, get_model, list_models, load, register
from doorstep.services.scoring.scores import (
    NO_COST,
    ApplyReport,
    apply,
    reasons_json,
    to_basis_points,
    visit_probabilities,
)
from doorstep.services.scoring.training import (
    FileEvaluation,
    TrainingSet,
    evaluate_file,
    train_from_file,
    train_visit_priority,
    visit_priority_training_set,
)
from doorstep.services.scoring.view import ModelView, model_view

__all__ = [
    "AGE_BANDS",
    "HARDSHIP",
    "NO_COST",
    "PURPOSES",
    "SCORING_PARTITION_TASK",
    "VISIT_PRIORITY",
    "VISIT_STATES",
    "ApplyReport",
    "BookData",
    "FairnessView",
    "FileEvaluation",
    "ModelView",
    "Progress",
    "TrainingSet",
    "activate",
    "age_band",
    "amounts_due",
    "apply",
    "apply_partition",
    "evaluate_file",
    "fairness_report",
    "finish_partitioned",
    "get_model",
    "hardship_advice",
    "histogram",
    "latest_book_day",
    "list_models",
    "load",
    "model_view",
    "read_book",
    "read_partition_book",
    "reasons_json",
    "register",
    "to_basis_points",
    "train_from_file",
    "train_visit_priority",
    "visit_priority_training_set",
    "visit_probabilities",
]
