"""Visit plans for tests: Beijing addresses spread over the city, two teams to plan for."""

from __future__ import annotations

from sqlalchemy import select

from doorstep.domain.access import Role
from doorstep.services.conduct.personal_data import seal_position
from doorstep.store.db import transaction
from doorstep.store.models import ContactPoint, Team
from tests.factories.people import add_team, add_user
from tests.factories.world import World

CITY = "北京市"
ITERATIONS = 200
"""Each search stops after this many iterations: the plans of these small days do not
depend on how busy the machine is, and take a fraction of a second."""
BUDGET = 60.0
"""The time budget beside ITERATIONS: only a bound that should never bind."""


def spread_over_beijing(world: World) -> None:
    """Spread the world's addresses over Beijing (5 by 5 points), add a second team with
    its own base, and let each Beijing team make two visits."""
    with transaction(world.engine) as session:
        points = session.scalars(
            select(ContactPoint).where(ContactPoint.channel == "address").order_by(ContactPoint.id)
        ).all()
        for n, point in enumerate(points):
            point.position = seal_position(
                world.cipher,  # type: ignore[arg-type]
                39.85 + 0.02 * (n % 5),
                116.30 + 0.03 * (n // 5),
            )
        a, b = (
            add_user(session, name, Role.VERIFIER, badge=f"WF-{name}", display_name=name)
            for name in ("v_b1", "v_b2")
        )
        second = add_team(session, "北京二组", CITY, [a, b])
        for team in session.scalars(select(Team).where(Team.city == CITY)):
            team.max_visits = 2
        second.base_lat, second.base_lng = 39.95, 116.45
