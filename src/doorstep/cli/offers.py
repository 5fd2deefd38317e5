"""`doorstep offers track`: the daily look at repayment offers and borrower holds;
`doorstep offers quote`: the rates (or a settlement's discount) of any cash flows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from doorstep.cli.common import AsOf, console, fail, parse_day, ready_engine, settings
from doorstep.domain.access import SYSTEM
from doorstep.domain.errors import DoorstepError
from doorstep.domain.money import parse_yuan
from doorstep.domain.ports import SystemClock
from doorstep.integrations.keys import personal_data_keys
from doorstep.services.repayment import offers, portal, quotes, tracking
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
            report = tracking.track(
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


@app.command("quote")
def quote(
    amount: Annotated[str, typer.Option(help="the amount lent (or owed), yuan")],
    payments: Annotated[
        str,
        typer.Option(
            help='monthly payments in yuan, the first a month on: "12x8833.30", "3x1000,5000"'
        ),
    ],
    fee: Annotated[
        str, typer.Option(help="fees paid upfront or deducted from the amount, yuan")
    ] = "0",
) -> None:
    """Both rates of a credit's cash flows (annualised by the IRR method as PBOC
    announcement [2021] No. 3 asks, and effective); a settlement (less paid than the
    amount) prints its discount and no rate."""
    try:
        found = quotes.quote_flows(
            parse_yuan(amount), parse_yuan(fee), quotes.parse_payments(payments)
        )
    except DoorstepError as exc:
        raise fail(exc.message) from exc
    for line in quotes.describe(found):
        console.print(line, highlight=False, soft_wrap=True)
