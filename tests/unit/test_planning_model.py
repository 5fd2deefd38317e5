"""The planning model: validated inputs, travel models, and the builder's integer data."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from doorstep.domain.errors import InvalidValue, PlanInfeasible
from doorstep.planning import (
    AllowedHours,
    CostWeights,
    DropReason,
    EuclideanTravel,
    GreatCircleTravel,
    Location,
    PlanRequest,
    Team,
    TimeWindow,
    TravelTimes,
    Visit,
    build,
)
from doorstep.planning.model import clamp_windows
from doorstep.planning.solomon import read_solomon, solomon_request

H = 3600
DAY = date(2025, 7, 1)
SOLOMON = Path(__file__).resolve().parents[3] / "shared" / "bench" / "solomon" / "txt"
needs_solomon = pytest.mark.skipif(
    not SOLOMON.is_dir(), reason=f"no Solomon instances at {SOLOMON}"
)
MINUTE = EuclideanTravel(scale=60)  # one plane unit = one minute = 60 "metres"


def at(x: float, y: float = 0.0) -> Location:
    return Location(lat=y, lng=x)


def team(team_id: str = "T1", **kw: object) -> Team:
    fields: dict[str, object] = {
        "start": at(0),
        "end": at(0),
        "shift_start": 8 * H,
        "shift_end": 18 * H,
        "max_visits": 8,
    }
    fields.update(kw)
    return Team(team_id, **fields)  # type: ignore[arg-type]


def hand_request(**kw: object) -> PlanRequest:
    """Two teams at the office (0, 0); three visits 10, 20 and 30 minutes east."""
    fields: dict[str, object] = {
        "date": DAY,
        "teams": (team("T1"), team("T2", end=at(30))),
        "visits": (
            Visit("A", at(10), windows=(TimeWindow(9 * H, 11 * H),), value=3),
            Visit("B", at(20), value=1, required=True),
            Visit("C", at(30), windows=(TimeWindow(7 * H, 9 * H), TimeWindow(14 * H, 15 * H))),
        ),
        "travel": MINUTE,
    }
    fields.update(kw)
    return PlanRequest(**fields)  # type: ignore[arg-type]


class TestBuild:
    def test_points_are_shared_and_matrices_are_integer_seconds_and_metres(self) -> None:
        """Team ends and visit addresses at the same point share one matrix row."""
        data = build(hand_request())
        assert data.points == (at(0), at(30), at(10), at(20))
        assert data.durations.tolist()[0] == [0, 1800, 600, 1200]
        assert data.distances.tolist()[2][3] == 600
        assert [s.point for s in data.stops] == [2, 3, 1]
        assert [(v.start, v.end) for v in data.vehicles] == [(0, 0), (0, 1)]

    def test_windows_prizes_and_only_binding_load_dimensions(self) -> None:
        data = build(hand_request(), costs=CostWeights(value_weight=1000))
        a, b, c = data.stops
        assert a.windows == ((9 * H, 11 * H),)
        assert b.windows == ((8 * H, 22 * H - 1800),)  # no window: the allowed hours
        assert c.windows == ((8 * H, 9 * H), (14 * H, 15 * H))  # 07:00 clamped to 08:00
        assert (a.prize, b.prize, c.prize) == (3000, 0, 1000)  # required: no prize needed
        assert data.load_dims == ()  # 8 visits a team > 3 visits: nothing can bind
        tight = build(hand_request(teams=(team("T1", max_visits=2),)))
        assert tight.load_dims == ("visits",)
        assert [s.load for s in tight.stops] == [(1,), (1,), (1,)]
        assert tight.vehicles[0].capacity == (2,)

    def test_visits_no_team_can_serve_are_set_aside_with_their_reason(self) -> None:
        visits = (
            Visit("late", at(10), windows=(TimeWindow(21 * H + 45 * 60, 23 * H),)),
            Visit("far", at(1000)),  # 1000 minutes away: never back by 18:00
            Visit("dialect", at(10), skills=frozenset({"wenzhou"})),
            Visit("ok", at(10)),
        )
        data = build(hand_request(visits=visits))
        assert [s.visit_id for s in data.stops] == ["ok"]
        assert {d.visit_id: d.reason for d in data.excluded} == {
            "late": DropReason.OUTSIDE_ALLOWED_HOURS,
            "far": DropReason.UNREACHABLE,
            "dialect": DropReason.NO_ELIGIBLE_TEAM,
        }

    def test_skills_forbid_stops_per_team(self) -> None:
        teams = (team("T1"), team("T2", skills=frozenset({"cantonese", "wenzhou"})))
        visits = (Visit("A", at(10), skills=frozenset({"cantonese"})), Visit("B", at(20)))
        data = build(hand_request(teams=teams, visits=visits))
        assert [v.forbidden for v in data.vehicles] == [frozenset({0}), frozenset()]

    def test_required_visit_that_can_never_be_served_fails_the_build(self) -> None:
        visits = (Visit("R", at(10), required=True, skills=frozenset({"sign-language"})),)
        with pytest.raises(PlanInfeasible, match="required visit R: no eligible team"):
            build(hand_request(visits=visits))

    def test_allowed_hours_are_a_parameter(self) -> None:
        request = hand_request(allowed=AllowedHours(10 * H, 12 * H))
        a, b = build(request).stops  # C's windows (8-9, 14-15) fall outside 10-12
        assert a.windows == ((10 * H, 11 * H),)
        assert b.windows == ((10 * H, 12 * H - 1800),)


class TestWindows:
    def test_visit_must_start_and_end_inside_the_allowed_hours(self) -> None:
        visit = Visit("V", at(1), service_seconds=3600, windows=(TimeWindow(6 * H, 23 * H),))
        assert clamp_windows(visit, AllowedHours()) == ((8 * H, 21 * H),)

    def test_overlapping_windows_merge(self) -> None:
        windows = (
            TimeWindow(9 * H, 11 * H),
            TimeWindow(10 * H, 12 * H),
            TimeWindow(15 * H, 16 * H),
        )
        visit = Visit("V", at(1), windows=windows)
        assert clamp_windows(visit, AllowedHours()) == ((9 * H, 12 * H), (15 * H, 16 * H))


class TestValidation:
    @pytest.mark.parametrize(
        "make",
        [
            lambda: TimeWindow(10, 5),
            lambda: AllowedHours(22 * H, 8 * H),
            lambda: team(shift_start=18 * H, shift_end=8 * H),
            lambda: team(max_visits=-1),
            lambda: Visit("V", at(0), value=-1),
            lambda: Location(math.nan, 0.0),
            lambda: GreatCircleTravel(detour=0.9),
            lambda: GreatCircleTravel(speed_kmh=0),
            lambda: CostWeights(per_metre=-1),
            lambda: hand_request(teams=(team("T"), team("T"))),
        ],
    )
    def test_bad_values_are_refused(self, make: object) -> None:
        with pytest.raises(InvalidValue):
            make()  # type: ignore[operator]


class TestTravel:
    def test_great_circle_is_haversine_times_detour_at_constant_speed(self) -> None:
        travel = GreatCircleTravel(detour=1.3, speed_kmh=25)
        assert isinstance(travel, TravelTimes)
        points = [Location(31.0, 121.0), Location(32.0, 121.0)]
        durations, distances = travel.matrix(points)
        metres = 6_371_008.8 * math.radians(1.0) * 1.3  # one degree of latitude
        assert distances[0][1] == round(metres)
        assert durations[1][0] == math.ceil(metres * 3.6 / 25)
        assert durations[0][0] == distances[1][1] == 0

    def test_great_circle_refuses_points_that_are_not_lat_lng(self) -> None:
        with pytest.raises(InvalidValue):
            GreatCircleTravel().matrix([Location(100.0, 0.0), Location(0.0, 0.0)])

    def test_euclidean_rounds_durations_up_and_distances_to_nearest(self) -> None:
        durations, distances = EuclideanTravel(scale=10).matrix([at(0), at(1, 1)])
        assert durations[0][1] == 15  # sqrt(2) * 10 = 14.14...
        assert distances[0][1] == 14


@needs_solomon
class TestSolomon:
    def test_c101_maps_onto_a_plan_request_and_builds(self) -> None:
        instance = read_solomon(SOLOMON / "C101.txt")
        assert (instance.name, instance.vehicles, instance.capacity) == ("C101", 25, 200)
        assert len(instance.customers) == 100
        request = solomon_request(instance, scale=1000)
        data = build(request)
        first = instance.customers[0]
        assert len(data.vehicles) == 25
        assert data.load_dims == ("demand",)  # capacity binds, visit counts cannot
        assert data.stops[0].windows == ((first.ready * 1000, first.due * 1000),)
        assert data.stops[0].service == first.service * 1000
        assert data.vehicles[0].capacity == (200,)
        assert not data.excluded
