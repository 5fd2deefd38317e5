"""Visit plans: plan a city's day, keep it as a draft, edit it, publish it, replan it.

* `run_plan` (draft.py): the city's ready cases (not on hold) and its teams -> a
  `PlanRequest` -> PyVRP -> the independent check (collect.py) -> saved as a *draft*.
* `move_stop` / `lock_stop` / `reoptimise` (edit.py): a locked stop stays on its team;
  the rest is planned again.
* `publish` (publish.py): cases go ready -> scheduled, each team gets its cases for the
  day; a new publication of the same city and day supersedes the old one.
* `replan` (replan.py): during the day, finished and started stops stay; the rest is
  planned again from each team's current position and time, as a new draft to publish.
* `plan_view` / `plans_for` / `plan_cities` (view.py): what the planning pages show.

How plans are made comes from `Settings` as a `PlanConfig` (config.py); who may touch
which plan, at which version, is access.py. The time comes from the caller (``now``).
"""

from __future__ import annotations

from doorstep.services.visit_plans.access import get_plan
from doorstep.services.visit_plans.config import PlanConfig
from doorstep.services.visit_plans.draft import DayPlan, plan_city_day, run_plan
from doorstep.services.visit_plans.edit import lock_stop, move_stop, reoptimise
from doorstep.services.visit_plans.publish import publish
from doorstep.services.visit_plans.replan import replan
from doorstep.services.visit_plans.view import (
    PlanView,
    RouteView,
    StopView,
    plan_cities,
    plan_view,
    plans_for,
)

__all__ = [
    "DayPlan",
    "PlanConfig",
    "PlanView",
    "RouteView",
    "StopView",
    "get_plan",
    "lock_stop",
    "move_stop",
    "plan_cities",
    "plan_city_day",
    "plan_view",
    "plans_for",
    "publish",
    "reoptimise",
    "replan",
    "run_plan",
]
