"""Road travel times from an OSRM server's table service, as a `TravelTimes`.

``GET {base_url}/table/v1/{profile}/{lng,lat;...}?annotations=duration,distance`` answers
``{"code": "Ok", "durations": [[s]], "distances": [[m]]}``. Large requests are cut into
blocks of at most ``block`` sources by ``block`` destinations (OSRM's ``--max-table-size``
defaults to 100). Durations are rounded up and distances to the nearest metre, as in
`GreatCircleTravel`. Plain ``urllib``: no dependency beyond the standard library.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from doorstep.domain.errors import InvalidValue, TravelServiceFailed
from doorstep.planning.travel import IntMatrix, Location

__all__ = ["OsrmTravel", "TravelServiceFailed"]


@dataclass(frozen=True, slots=True)
class OsrmTravel:
    """Travel seconds and metres from OSRM's table service.

    Parameters
    ----------
    base_url
        The server, e.g. ``http://osrm.internal:5000`` (no trailing path).
    profile
        OSRM profile in the URL (``driving``).
    timeout
        Seconds to wait for each answer.
    block
        At most this many sources (and destinations) per request.
    """

    base_url: str
    profile: str = "driving"
    timeout: float = 30.0
    block: int = 100

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise InvalidValue(
                f"osrm_url {self.base_url!r} is not an http(s) URL",
                message_zh=f"osrm_url {self.base_url!r} 不是 http(s) 地址",
            )
        if self.block < 1 or not (math.isfinite(self.timeout) and self.timeout > 0):
            raise InvalidValue("OSRM block and timeout must be positive", message_zh="参数无效")

    def matrix(self, points: Sequence[Location]) -> tuple[IntMatrix, IntMatrix]:
        n = len(points)
        durations = [[0] * n for _ in range(n)]
        distances = [[0] * n for _ in range(n)]
        blocks = [list(range(i, min(i + self.block, n))) for i in range(0, n, self.block)]
        for sources in blocks:
            for targets in blocks:
                secs, metres = self._table([points[i] for i in sources + targets], len(sources))
                for a, i in enumerate(sources):
                    for b, j in enumerate(targets):
                        if i != j:
                            durations[i][j] = self._whole(secs, a, b, points, i, j, up=True)
                            distances[i][j] = self._whole(metres, a, b, points, i, j, up=False)
        return durations, distances

    @staticmethod
    def _whole(
        table: Any, a: int, b: int, points: Sequence[Location], i: int, j: int, *, up: bool
    ) -> int:
        value = table[a][b]
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise TravelServiceFailed(
                f"OSRM found no route from {points[i]} to {points[j]}",
                message_zh=f"OSRM 找不到从 {points[i]} 到 {points[j]} 的路线",
            )
        return math.ceil(value) if up else round(value)

    def _table(self, points: Sequence[Location], n_sources: int) -> tuple[Any, Any]:
        coords = ";".join(f"{p.lng:.6f},{p.lat:.6f}" for p in points)
        sources = ";".join(str(i) for i in range(n_sources))
        targets = ";".join(str(i) for i in range(n_sources, len(points)))
        url = (
            f"{self.base_url.rstrip('/')}/table/v1/{self.profile}/{coords}"
            f"?annotations=duration,distance&sources={sources}&destinations={targets}"
        )
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body = json.loads(response.read().decode("utf-8"))
        except (urllib.error.URLError, TimeoutError, ValueError, OSError) as exc:
            raise TravelServiceFailed(
                f"OSRM at {self.base_url} failed: {exc}",
                message_zh=f"OSRM 服务 {self.base_url} 请求失败：{exc}",
            ) from None
        if not isinstance(body, dict) or body.get("code") != "Ok":
            code = body.get("code") if isinstance(body, dict) else None
            raise TravelServiceFailed(
                f"OSRM answered {code!r}", message_zh=f"OSRM 返回错误 {code!r}"
            )
        durations, distances = body.get("durations"), body.get("distances")
        shape = (n_sources, len(points) - n_sources)
        for table in (durations, distances):
            if (
                not isinstance(table, list)
                or len(table) != shape[0]
                or any(not isinstance(row, list) or len(row) != shape[1] for row in table)
            ):
                raise TravelServiceFailed(
                    "OSRM answered a table of the wrong shape", message_zh="OSRM 返回的矩阵尺寸错误"
                )
        return durations, distances
