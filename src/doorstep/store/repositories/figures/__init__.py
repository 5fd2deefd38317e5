"""The dashboard's daily aggregates: written set-based by the batch, read by the pages.

One module per family of figures: `book` (overdue loans per bucket, rolls), `field`
(visits, verdicts, flags), `outcomes` (cure and recovery 30 days on, against the
holdout) and `cases` (live counts of cases and promises)."""

from doorstep.store.repositories.figures._shared import Cities
from doorstep.store.repositories.figures.book import (
    book_cities,
    book_series,
    latest_day,
    latest_rolls,
    write_book_figures,
    write_roll_figures,
)
from doorstep.store.repositories.figures.cases import cases_by_state_and_opening, promise_statuses
from doorstep.store.repositories.figures.field import (
    FIELD_WINDOW_DAYS,
    FieldFigures,
    TeamFigures,
    field_figures,
    write_field_figures,
)
from doorstep.store.repositories.figures.outcomes import (
    Cohort,
    outcomes_since,
    roll_up_outcomes,
    write_visit_outcomes,
)

__all__ = [
    "FIELD_WINDOW_DAYS",
    "Cities",
    "Cohort",
    "FieldFigures",
    "TeamFigures",
    "book_cities",
    "book_series",
    "cases_by_state_and_opening",
    "field_figures",
    "latest_day",
    "latest_rolls",
    "outcomes_since",
    "promise_statuses",
    "roll_up_outcomes",
    "write_book_figures",
    "write_field_figures",
    "write_roll_figures",
    "write_visit_outcomes",
]
