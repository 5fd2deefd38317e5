"""`doorstep offers track`: the daily look at repayment offers and borrower holds."""

from __future__ import annotations

from datetime import datetime

import typer

from doorstep.cli.common import AsOf, console, fail, parse_day, ready_engine, settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.domain.ports import SystemClock
from doorstep.integrations.keys import personal_data_keys
from doorstep.services.repayment import offers, portal
from doorstep.store.db import transaction

app = typer.Typer(help="Repayment offers and plans.", no_args_is_help=True)


@app.command("track")
def track(as_of: AsOf = "") -> None:
    """Expire lapsed offers, mark paid plans kept and late ones broken (reopening
    follow-up), and lift hardship holds whose period has ended."""
    config = settings()
    day = parse_day(as_of) if as_of else datetime.now(config.zone).date()
    engine = ready_engine(config)
    try:
        with transaction(engine) as session:
            report = offers.track(
                session,
                SYSTEM,
                day,
                offers.policy_from(config),
                config.waterfall_rule,
                now=SystemClock().now(),
                cipher=personal_data_keys(config)[0],
            )
            released = portal.release_expired_hardship_holds(
                session, SYSTEM, day, now=SystemClock().now()
            )
    except DoorstepError as exc:
        raise fail(exc.message) from exc
    console.print(
        f"{day}: {report.checked} active plans checked, {report.kept} kept, "
        f"{report.broken} broken, {report.expired} offers expired, "
        f"{released} hardship holds lifted"
    )
