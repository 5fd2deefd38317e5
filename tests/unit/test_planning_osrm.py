"""The OSRM adapter against a local stub of OSRM's table service (never the internet)."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from doorstep.domain.errors import InvalidValue, TravelServiceFailed
from doorstep.planning import GreatCircleTravel, Location, PlanRequest, Team, Visit, build, check
from doorstep.planning.osrm import OsrmTravel

ROAD = GreatCircleTravel(detour=1.4, speed_kmh=30)


class _Stub(BaseHTTPRequestHandler):
    """Answers /table/v1/driving/{lng,lat;...}: road metres = great circle x 1.4 at 30 km/h,
    as float seconds and metres; a coordinate with longitude 0 is on an island (null)."""

    calls: list[str] = []  # noqa: RUF012
    mode = "ok"

    def do_GET(self) -> None:
        _Stub.calls.append(self.path)
        url = urlsplit(self.path)
        parts = url.path.split("/")
        if parts[1:4] != ["table", "v1", "driving"] or _Stub.mode == "500":
            self.send_response(500)
            self.end_headers()
            return
        points = [
            Location(float(lat), float(lng))
            for lng, lat in (c.split(",") for c in parts[4].split(";"))
        ]
        query = parse_qs(url.query)
        sources = [int(i) for i in query["sources"][0].split(";")]
        targets = [int(i) for i in query["destinations"][0].split(";")]
        metres = [
            [
                None
                if (points[i].lng == 0) != (points[j].lng == 0)
                else ROAD.metres(points[i], points[j])
                for j in targets
            ]
            for i in sources
        ]
        body = {
            "code": "Ok" if _Stub.mode != "bad-code" else "InvalidQuery",
            "distances": metres,
            "durations": [[None if m is None else ROAD.seconds(m) for m in row] for row in metres],
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def osrm() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Stub.calls.clear()
    _Stub.mode = "ok"
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


POINTS = [Location(39.90 + 0.01 * i, 116.40 + 0.013 * (i % 3)) for i in range(7)]


def test_matrix_matches_the_road_model_and_blocks_agree(osrm: str) -> None:
    durations, distances = OsrmTravel(osrm).matrix(POINTS)
    assert len(_Stub.calls) == 1
    for i, a in enumerate(POINTS):
        for j, b in enumerate(POINTS):
            metres = 0.0 if i == j else ROAD.metres(a, b)
            assert distances[i][j] == round(metres)
            assert durations[i][j] == math.ceil(ROAD.seconds(metres))
    _Stub.calls.clear()
    blocked = OsrmTravel(osrm, block=3).matrix(POINTS)
    assert len(_Stub.calls) == 9  # 3 x 3 blocks of at most 3 sources and destinations
    assert blocked == (durations, distances)


def test_a_plan_on_osrm_times_passes_the_check(osrm: str) -> None:
    travel = OsrmTravel(osrm)
    base = Location(39.93, 116.41)
    request = PlanRequest(
        date(2030, 1, 2),
        (Team("A", base, base, 9 * 3600, 18 * 3600, 4),),
        tuple(Visit(f"v{i}", p) for i, p in enumerate(POINTS)),
        travel=travel,
    )
    from doorstep.planning.solver import solve

    plan = solve(build(request), seconds=60, iterations=300)  # iterations bind, not time
    check(plan, request)
    assert len(plan.planned_ids) == 4


def test_failures_are_clear_errors(osrm: str) -> None:
    island = [*POINTS[:2], Location(10.0, 0.0)]
    with pytest.raises(TravelServiceFailed, match="no route"):
        OsrmTravel(osrm).matrix(island)
    _Stub.mode = "bad-code"
    with pytest.raises(TravelServiceFailed, match="InvalidQuery"):
        OsrmTravel(osrm).matrix(POINTS)
    _Stub.mode = "500"
    with pytest.raises(TravelServiceFailed, match="failed"):
        OsrmTravel(osrm).matrix(POINTS)
    with pytest.raises(TravelServiceFailed):
        OsrmTravel("http://127.0.0.1:9", timeout=2).matrix(POINTS)  # nothing listens
    with pytest.raises(InvalidValue, match="osrm_url"):
        OsrmTravel("osrm.local:5000")


def test_settings_switch_osrm_on(osrm: str) -> None:
    from doorstep.config import Settings
    from doorstep.services.visit_plans import PlanConfig

    assert isinstance(PlanConfig.from_settings(Settings()).travel, GreatCircleTravel)
    travel = PlanConfig.from_settings(Settings(osrm_url=osrm)).travel
    assert isinstance(travel, OsrmTravel)
    assert travel.matrix(POINTS[:2])[1][0][1] == round(ROAD.metres(POINTS[0], POINTS[1]))
