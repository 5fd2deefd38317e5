"""What the planning pages show: the recent plans, the cities to plan, and a plan as
routes per team, dropped visits and map data."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.services.visit_plans.access import get_plan, may_plan
from doorstep.services.visit_plans.config import PlanConfig
from doorstep.store.models import PlanRoute, PlanStop, Team, VisitPlan
from doorstep.store.repositories import plans as repo

COLOURS = ("#1f5fbf", "#c2410c", "#15803d", "#7c3aed", "#be123c", "#0e7490", "#a16207")


@dataclass(frozen=True)
class StopView:
    id: int
    case_id: int
    seq: int | None
    team_id: int | None
    arrive: str
    start: str
    end: str
    window: str
    travel_km: float
    value: int
    locked: bool
    status: str
    reason: str | None
    lat: float | None
    lng: float | None
    district: str | None
    bucket: str | None


@dataclass(frozen=True)
class RouteView:
    team_id: int
    team: str
    colour: str
    stops: list[StopView]
    km: float
    drive_min: int
    service_min: int
    wait_min: int
    utilisation: int  # per cent of the shift spent driving or at the door
    depart: str
    back: str


@dataclass(frozen=True)
class PlanView:
    plan: VisitPlan
    routes: list[RouteView]
    dropped: list[StopView]
    teams: list[tuple[int, str]]
    map: dict[str, Any]


def plans_for(session: Session, actor: Actor) -> list[VisitPlan]:
    """The latest plans of the actor's regions."""
    may_plan(actor)
    return repo.recent_plans(session, actor.regions)


def plan_cities(session: Session, actor: Actor) -> list[str]:
    """Cities the actor may plan: their regions, or every city with a team."""
    if actor.regions is not None:
        return sorted(actor.regions)
    return sorted({t.city for t in repo.all_teams(session) if t.city})


def plan_view(session: Session, actor: Actor, plan_id: int, cfg: PlanConfig) -> PlanView:
    """A plan as the planning page shows it: routes per team, dropped visits, map data."""
    row = get_plan(session, actor, plan_id)
    rows = repo.stops(session, row.id)
    team_rows = repo.teams_of_city(session, row.city)
    routes = {r.team_id: r for r in repo.routes(session, row.id)}
    points = repo.points_by_id(session, {s.contact_point_id for s in rows if s.contact_point_id})
    where = cfg.positions(points)
    facts = repo.cases_by_id(session, {s.case_id for s in rows})

    def clock(moment: datetime | None) -> str:
        return moment.astimezone(cfg.zone).strftime("%H:%M") if moment else ""

    def view(s: PlanStop) -> StopView:
        point = where.get(s.contact_point_id) if s.contact_point_id else None
        case = facts.get(s.case_id)
        return StopView(
            s.id, s.case_id, s.seq, s.team_id, clock(s.arrive_at), clock(s.start_at),
            clock(s.end_at),
            f"{clock(s.window_start)}–{clock(s.window_end)}" if s.window_start else "",
            round(s.travel_m / 1000, 1), s.value, s.locked, s.status, s.drop_reason,
            point[0] if point else None, point[1] if point else None,
            case.district if case else None, case.bucket if case else None,
        )  # fmt: skip

    out: list[RouteView] = []
    for n, team in enumerate(team_rows):
        mine = [view(s) for s in rows if s.team_id == team.id]
        if mine:
            colour = COLOURS[n % len(COLOURS)]
            out.append(_route_view(team, colour, mine, routes.get(team.id), clock))
    dropped = [view(s) for s in rows if s.team_id is None]
    teams = [(t.id, t.name) for t in team_rows]
    return PlanView(row, out, dropped, teams, _map(team_rows, out, dropped))


def _route_view(
    team: Team,
    colour: str,
    stops: list[StopView],
    route: PlanRoute | None,
    clock: Callable[[datetime | None], str],
) -> RouteView:
    """A team's day: its stops, how far it drives, and how much of its shift is work."""
    shift = max(1, (team.shift_end_minute - team.shift_start_minute) * 60)
    drive = route.drive_seconds if route else 0
    service = route.service_seconds if route else 0
    return RouteView(
        team.id,
        team.name,
        colour,
        stops,
        round((route.distance_m if route else 0) / 1000, 1),
        round(drive / 60),
        round(service / 60),
        round((route.wait_seconds if route else 0) / 60),
        round(100 * (drive + service) / shift),
        clock(route.depart_at) if route else "",
        clock(route.return_at) if route else "",
    )


def _map(
    team_rows: Sequence[Team], routes: Sequence[RouteView], dropped: Sequence[StopView]
) -> dict[str, Any]:
    """The map script's data: each route from its team's base, and the dropped visits."""
    bases: Mapping[int, tuple[float | None, float | None]] = {
        t.id: (t.base_lat, t.base_lng) for t in team_rows
    }
    return {
        "routes": [
            {
                "team": r.team,
                "colour": r.colour,
                "base": list(bases[r.team_id]) if bases[r.team_id][0] is not None else None,
                "stops": [[s.lat, s.lng, s.seq, s.case_id] for s in r.stops if s.lat is not None],
            }
            for r in routes
        ],
        "dropped": [[s.lat, s.lng, s.case_id] for s in dropped if s.lat is not None],
    }
