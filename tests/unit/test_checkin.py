"""Check-in plausibility: distance, hours, accuracy, clock, speed and photo EXIF."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from doorstep.domain.checkin import (
    CheckInFacts,
    Flag,
    Limits,
    Point,
    PreviousCheckIn,
    assess,
    exif_flags,
    haversine_m,
    parse_hours,
    position,
)
from doorstep.domain.errors import InvalidValue

HOME = Point(39.9, 116.44)
NOW = datetime(2024, 6, 3, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def facts(**changes: object) -> CheckInFacts:
    base: dict[str, object] = {
        "server_time": NOW,
        "local_time": time(12, 0),
        "device_time": NOW + timedelta(seconds=20),
        "position": Point(39.9005, 116.4405),
        "accuracy_m": 25.0,
        "planned": HOME,
        "previous": None,
    }
    base.update(changes)
    return CheckInFacts(**base)  # type: ignore[arg-type]


def test_haversine_matches_known_distances() -> None:
    # one degree of latitude is about 111.2 km; Beijing to Shanghai about 1,068 km
    assert haversine_m(Point(0, 0), Point(1, 0)) == pytest.approx(111_195, rel=1e-3)
    assert haversine_m(Point(39.9042, 116.4074), Point(31.2304, 121.4737)) == pytest.approx(
        1_067_000, rel=5e-3
    )
    assert haversine_m(HOME, HOME) == 0
    assert haversine_m(Point(0, 179.9), Point(0, -179.9)) == pytest.approx(22_239, rel=1e-3)


def test_a_plausible_check_in_has_no_flags() -> None:
    result = assess(facts(), Limits())
    assert result.flags == () and result.distance_m is not None and result.distance_m < 100


def test_three_km_away_is_far_and_500_m_is_the_edge() -> None:
    far = assess(facts(position=Point(39.927, 116.44)), Limits())
    assert far.far and far.distance_m is not None and 2950 < far.distance_m < 3050
    north = 499 / 111_195
    assert not assess(facts(position=Point(39.9 + north, 116.44)), Limits()).far
    assert assess(facts(position=Point(39.9 + 2 * north, 116.44)), Limits()).far


@pytest.mark.parametrize(
    ("local", "flagged"),
    [(time(7, 59), True), (time(8, 0), False), (time(21, 59), False), (time(22, 0), True)],
)
def test_outside_the_allowed_hours(local: time, flagged: bool) -> None:
    assert (Flag.OUTSIDE_HOURS in assess(facts(local_time=local), Limits()).flags) is flagged


def test_the_rules_engine_answer_on_the_hour_wins() -> None:
    assert Flag.OUTSIDE_HOURS in assess(facts(), Limits(), hours_ok=False).flags
    late = facts(local_time=time(23, 0))
    assert Flag.OUTSIDE_HOURS not in assess(late, Limits(), hours_ok=True).flags


def test_accuracy_clock_and_missing_position() -> None:
    assert assess(facts(accuracy_m=201.0), Limits()).flags == (Flag.POOR_ACCURACY,)
    assert assess(facts(accuracy_m=200.0), Limits()).flags == ()
    assert assess(facts(accuracy_m=None), Limits()).flags == (Flag.POOR_ACCURACY,)
    skewed = facts(device_time=NOW - timedelta(minutes=5, seconds=1))
    assert assess(skewed, Limits()).flags == (Flag.CLOCK_SKEW,)
    assert assess(facts(device_time=NOW + timedelta(minutes=5)), Limits()).flags == ()
    nowhere = assess(facts(position=None), Limits())
    assert nowhere.flags == (Flag.NO_POSITION,) and nowhere.distance_m is None
    unplanned = assess(facts(planned=None), Limits())
    assert unplanned.flags == () and unplanned.distance_m is None


def test_speed_between_the_teams_consecutive_check_ins() -> None:
    # 30 km in 20 minutes is 90 km/h: fine; in 10 minutes, 180 km/h: implausible
    before = Point(39.9 - 30_000 / 111_195, 116.44)
    ok = assess(facts(previous=PreviousCheckIn(NOW - timedelta(minutes=20), before)), Limits())
    assert Flag.TOO_FAST not in ok.flags and ok.speed_kmh == pytest.approx(90, rel=0.01)
    fast = assess(facts(previous=PreviousCheckIn(NOW - timedelta(minutes=10), before)), Limits())
    assert Flag.TOO_FAST in fast.flags and fast.speed_kmh == pytest.approx(180, rel=0.01)
    same_time = assess(facts(previous=PreviousCheckIn(NOW, before)), Limits())
    assert Flag.TOO_FAST in same_time.flags


def test_photo_exif_against_the_check_in() -> None:
    limits = Limits()
    assert exif_flags(HOME, NOW, None, None, limits) == []
    assert exif_flags(HOME, NOW, Point(39.9001, 116.44), NOW, limits) == []
    assert exif_flags(HOME, NOW, Point(39.95, 116.44), None, limits) == [Flag.EXIF_POSITION]
    old = NOW - timedelta(hours=2, minutes=1)
    assert exif_flags(HOME, NOW, None, old, limits) == [Flag.EXIF_TIME]
    assert exif_flags(None, NOW, Point(0, 0), None, limits) == []


def test_positions_and_hours_are_checked() -> None:
    assert position(None, None) is None
    assert position(39.9, 116.4) == Point(39.9, 116.4)
    for lat, lng in [(91.0, 0.0), (0.0, 181.0), (float("nan"), 0.0)]:
        with pytest.raises(InvalidValue, match="position"):
            position(lat, lng)
    with pytest.raises(InvalidValue, match="together"):
        position(39.9, None)
    assert parse_hours("08:00-22:00") == (time(8), time(22))
    for bad in ("8-22h", "22:00-08:00", ""):
        with pytest.raises(InvalidValue):
            parse_hours(bad)
