"""`doorstep plan`: plan a city's day as a saved draft, print it, optionally publish it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from doorstep.cli.common import console, fail, parse_day, ready_engine, settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.domain.ports import SystemClock
from doorstep.services import visit_plans
from doorstep.store.db import transaction


def plan(
    day: Annotated[str, typer.Option("--date", help="the day to plan, YYYY-MM-DD")],
    city: Annotated[str, typer.Option(help="the city (region) to plan, e.g. 北京市")],
    seconds: Annotated[
        float | None,
        typer.Option(help="solver seconds (default plan_seconds, at most plan_max_seconds)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="solver seed")] = 0,
    publish: Annotated[
        bool, typer.Option("--publish", help="publish the plan: schedule its cases")
    ] = False,
) -> None:
    """Plan a city's day for its verifier teams from the ready cases; saved as a draft."""
    config = settings()
    cfg = visit_plans.PlanConfig.from_settings(config)
    try:
        with transaction(ready_engine(config)) as session:
            result = visit_plans.plan_city_day(
                session, SYSTEM, parse_day(day), city, cfg, seconds=seconds, seed=seed
            )
            if publish:
                visit_plans.publish(
                    session,
                    SYSTEM,
                    result.plan.id,
                    cfg,
                    version=result.plan.version,
                    now=SystemClock().now(),
                )
            print_plan(result, cfg)
    except DoorstepError as exc:
        raise fail(exc.message) from None


def print_plan(result: visit_plans.DayPlan, cfg: visit_plans.PlanConfig) -> None:
    def clock(moment: datetime | None) -> str:
        return moment.astimezone(cfg.zone).strftime("%H:%M") if moment else "-"

    row = result.plan
    by_team = {r.team_id: r for r in result.routes}
    for team_id, route in by_team.items():
        stops = [s for s in result.stops if s.team_id == team_id]
        table = Table(
            title=f"team {team_id}: {len(stops)} visits, {route.distance_m / 1000:.1f} km, "
            f"leaves {clock(route.depart_at)}, back {clock(route.return_at)}"
        )
        for column in ("#", "case", "arrive", "start", "end", "km"):
            table.add_column(column)
        for stop in stops:
            table.add_row(
                str(stop.seq),
                str(stop.case_id),
                clock(stop.arrive_at),
                clock(stop.start_at),
                clock(stop.end_at),
                f"{stop.travel_m / 1000:.1f}",
            )
        console.print(table)
    dropped = [s for s in result.stops if s.team_id is None]
    reasons = sorted({s.drop_reason or "" for s in dropped})
    console.print(
        f"plan {row.id} ({row.state}) for {row.city} on {row.day}: "
        f"{len(result.stops) - len(dropped)} visits, {row.distance_m / 1000:.1f} km; "
        f"dropped {len(dropped)} ({', '.join(reasons) or '-'})"
    )
