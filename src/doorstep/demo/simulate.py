"""Simulated days of the demo (`doorstep demo --days N`): the field team at work.

Each day, from the book date on: the lender's payment file of the day before arrives in
the drop folder, the daily batch runs (ingest → delinquency → … → selection → the next
day's plans, published), and simulated verifier teams visit the day's planned stops
through the real visit services (check-in near the address inside the planned window,
the interview, the verdict, a promise to pay), every write audited. Then the borrowers
act: performing customers pay what fell due, some promises are kept, and overdue
customers cure with a daily chance that is higher after a visit that reached them than
for the selection's holdout, so the dashboard's cure chart has a real effect to show.

Nothing is written to the tables directly: payments go through the ingest of a file,
like the lender's. What a borrower says at the door comes from their hidden cause in
demo_truth.csv. Every draw is seeded by (seed, what, customer, day), so the same seed
gives the same story whatever the order things happen in.

Everything is stamped with the simulated clock, never the wall clock: each day's batch
runs at that day's batch time (`day_clock`), a visit at its planned hour, so the
lender's feedback file of each simulated day holds that day's verdicts. The simulated
days still lie after the book date, from today on: a person signing in afterwards sees
a case only while its assignment is live by the real clock.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from doorstep.config import Settings
from doorstep.domain.access import SYSTEM, Actor
from doorstep.domain.case import CaseState
from doorstep.domain.errors import DoorstepError, InvalidAnswers, InvalidValue
from doorstep.domain.money import Fen, format_yuan, parse_yuan
from doorstep.domain.ports import Clock, FixedClock, SystemClock
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services import cases, visits
from doorstep.services.batch.daily import run_day
from doorstep.services.conduct.personal_data import unseal_position
from doorstep.services.people import users
from doorstep.services.visits import VisitRules
from doorstep.store.db import transaction
from doorstep.store.models import Case
from doorstep.store.repositories import book
from doorstep.store.repositories import demo as demo_repo
from doorstep.store.repositories import plans as plans_repo
from doorstep.store.repositories import visits as visits_repo

Progress = Callable[[str, int, int], None]

HARDSHIP = frozenset({"job_loss", "medical", "business_failure", "family_event", "income_drop"})
EVASION = frozenset({"willful_evasion", "fraud_or_identity_theft"})
PERFORMING = frozenset({"on_time", "prepaid", "cured"})  # loan labels in demo_truth.csv
PLAN_SECONDS = 0.3  # the solver budget of a simulated day's plan (a handful of stops)
CURE_WINDOW = 30  # days after a visit in which its effect lasts
REVIEW_DAYS = 7  # the manager closes a visited case this long after the visit

# Daily chance that an overdue customer pays everything overdue: the effect of a visit.
BASE_CURE = 0.003
CURE_AFTER_VISIT = {"hardship": 0.02, "unclear": 0.012, "evasion": 0.006, "unreached": 0.004}
KEEPS_PROMISE = {"hardship": 0.65, "unclear": 0.45, "evasion": 0.25}
PAYS_ON_TIME = 0.85  # a performing customer pays a missed installment on a given day
AT_THE_DOOR = visits.Conduct(partner_present=True, id_shown=True, recording_on=True)
"""The simulated teams go in pairs, show their badges and record, as the rules want."""
DAY_ENDS_AT = time(21, 0)  # when the stops not visited go back to ready


def at(day: date, moment: time, settings: Settings) -> datetime:
    """`moment` of `day` in the business zone, as an aware UTC instant."""
    return datetime.combine(day, moment, settings.zone).astimezone(UTC)


def day_clock(day: date, settings: Settings) -> FixedClock:
    """The clock of a simulated day's batch: that day at the batch time."""
    return FixedClock(at(day, settings.batch_time, settings))


@dataclass
class Summary:
    days: int = 0
    visits: int = 0
    reached: int = 0
    promises: int = 0
    refused: int = 0
    payments: int = 0
    paid: Fen = 0
    last_day: date | None = None


@dataclass
class _Borrower:
    performing: bool
    cause: str


@dataclass
class _State:
    visited: dict[str, tuple[date, str]] = field(default_factory=dict)  # customer -> (day, leaning)
    promises: dict[date, list[tuple[str, Fen, str]]] = field(default_factory=dict)


def draw(seed: int, *keys: object) -> random.Random:
    """A generator for one decision, from the seed and what is decided about whom, when."""
    text = "|".join(str(k) for k in (seed, *keys))
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def read_truth(path: Path) -> dict[str, _Borrower]:
    """customer -> whether their loans perform, and the cause of their trouble."""
    found: dict[str, _Borrower] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            known = found.setdefault(row["customer_id"], _Borrower(True, ""))
            known.performing = known.performing and row["behaviour"] in PERFORMING
            known.cause = known.cause or row["cause"]
    return found


def interview(seed: int, borrower: _Borrower, case: Case, day: date) -> dict[str, str | list[str]]:
    """The answers at the door, drawn from the customer's hidden cause."""
    r = draw(seed, "interview", case.customer_id, day)
    answers: dict[str, str | list[str]] = {"disclosure_ack": "on", "address_status": "valid"}
    roll = r.random()
    if roll < 0.06:  # moved away: nobody there who knows them
        return {**answers, "met": "nobody", "address_status": "moved"}
    if roll < 0.22:
        return {**answers, "met": "nobody"}
    cause = borrower.cause or "other"
    if cause in HARDSHIP:
        leaning, ability, will, promise = "hardship", r.choice((0, 300, 500, 800, 1200)), 4, 0.55
    elif cause in EVASION:
        leaning, ability, will, promise = "evasion", r.choice((800, 1500, 3000)), 1, 0.2
    else:
        leaning, ability, will, promise = "unclear", r.choice((0, 300, 600)), 3, 0.4
    answers |= {
        "met": "borrower",
        "reasons": [cause],
        "primary_reason": cause,
        "leaning": leaning,
        "willingness": str(max(1, min(5, will + r.choice((-1, 0, 1))))),
        "ability_per_month": str(ability),
    }
    if ability and r.random() < promise:
        amount = min(case.overdue_amount, ability * 100)  # within the stated ability
        answers |= {
            "outcome": "promise",
            "promise_amount": format_yuan(amount),
            "promise_date": (day + timedelta(days=r.randint(3, 14))).isoformat(),
        }
    return answers


def _crew(engine: Engine) -> list[tuple[int, Actor]]:
    """Each team with one of its verifiers acting for it."""
    with transaction(engine) as session:
        rows = demo_repo.team_members(session)
        crew: dict[int, Actor] = {}
        for team_id, user in rows:
            crew.setdefault(team_id, users.actor_for(session, user))
    return sorted(crew.items())


def _visit_day(
    engine: Engine,
    seed: int,
    day: date,
    truth: dict[str, _Borrower],
    rules: VisitRules,
    store: LocalEvidenceStore,
    state: _State,
    summary: Summary,
    evening: datetime,
) -> None:
    """The day's published stops, visited in route order by each team."""
    for team_id, actor in _crew(engine):
        with transaction(engine) as session:
            stops = [
                (s.id, s.case_id, s.contact_point_id, s.start_at or s.arrive_at)
                for s, case in visits_repo.planned_stops(session, frozenset({team_id}), day)
                if s.status == "planned" and case.state == CaseState.SCHEDULED.value
            ]
            points = plans_repo.points_by_id(session, {p for _, _, p, _ in stops if p})
            where = {
                p.id: unseal_position(rules.cipher, p.position) or (None, None)
                for p in points.values()
            }
        for stop_id, case_id, point_id, start in stops:
            lat, lng = where.get(point_id or 0, (None, None))
            if start is None or lat is None or lng is None:
                continue
            r = draw(seed, "door", stop_id, day)
            now = start + timedelta(minutes=r.randint(0, 4))
            spot = (lat + r.uniform(-3e-4, 3e-4), lng + r.uniform(-3e-4, 3e-4))  # ~30 m
            for attempt in ("as drawn", "no promise"):
                try:
                    with transaction(engine) as session:
                        case = session.get_one(Case, case_id)
                        borrower = truth.get(case.customer_id, _Borrower(False, ""))
                        answers = interview(seed, borrower, case, day)
                        if attempt == "no promise":
                            answers = {**answers, "outcome": "none"}
                        visit, _ = visits.check_in(
                            session, actor, case_id, lat=spot[0], lng=spot[1], accuracy_m=12.0,
                            device_time=now, rules=rules, now=now, conduct=AT_THE_DOOR,
                        )  # fmt: skip
                        visits.submit(
                            session, actor, visit.id, f"sim-{seed}-{case_id}-{day:%Y%m%d}",
                            answers, [], store=store, rules=rules, now=now + timedelta(minutes=25),
                        )  # fmt: skip
                        customer = case.customer_id
                except InvalidAnswers:
                    continue  # a promise refused after broken ones: answer without one
                except DoorstepError:
                    summary.refused += 1
                    break
                summary.visits += 1
                leaning = str(answers.get("leaning", "unreached"))
                summary.reached += answers.get("met") == "borrower"
                state.visited[customer] = (day, leaning)
                if answers.get("outcome") == "promise":
                    summary.promises += 1
                    due = date.fromisoformat(str(answers["promise_date"]))
                    amount = parse_yuan(str(answers["promise_amount"]))
                    state.promises.setdefault(due, []).append((customer, amount, leaning))
                break
    teams = frozenset(t for t, _ in _crew(engine))
    with transaction(engine) as session:  # what was not visited goes back to ready
        for _stop, case in visits_repo.planned_stops(session, teams, day):
            if case.state == CaseState.SCHEDULED.value:
                cases.act(
                    session, SYSTEM, case.id, "unschedule", reason="not visited", today=day,
                    now=evening,
                )  # fmt: skip


def _close_reviewed(engine: Engine, day: date, now: datetime) -> None:
    """The manager closes visited cases a week on (the lender hears of each); a customer
    still overdue may then be selected again once the selection's visit gap has passed."""
    with transaction(engine) as session:
        done = demo_repo.visited_unheld_cases_by(session, day - timedelta(days=REVIEW_DAYS))
        for case_id in done:
            visits.close(session, SYSTEM, case_id, reason="verdict reviewed", now=now)


def _payments(
    engine: Engine, seed: int, day: date, truth: dict[str, _Borrower], state: _State
) -> list[tuple[str, Fen]]:
    """(loan, amount) the borrowers pay on `day`, from the day's snapshots."""
    with transaction(engine) as session:
        owed = (
            book.read_snapshots(session.connection(), day)
            .filter(pl.col("dpd") > 0)
            .with_columns(
                (
                    pl.col("overdue_principal")
                    + pl.col("overdue_interest")
                    + pl.col("overdue_fee")
                    + pl.col("overdue_penalty")
                ).alias("owed")
            )
            .sort("customer_id", "loan_id")
        )
        held = demo_repo.held_out_customers(session)
    loans: dict[str, list[tuple[str, Fen]]] = {}
    for customer, loan, amount in owed.select("customer_id", "loan_id", "owed").iter_rows():
        loans.setdefault(customer, []).append((loan, amount))
    paying: list[tuple[str, Fen]] = []
    for customer, owing in loans.items():
        borrower = truth.get(customer, _Borrower(False, ""))
        chance = PAYS_ON_TIME if borrower.performing else BASE_CURE
        visited = state.visited.get(customer)
        if visited and (day - visited[0]).days <= CURE_WINDOW:
            chance = max(chance, CURE_AFTER_VISIT.get(visited[1], BASE_CURE))
        elif customer in held:
            chance = max(chance, BASE_CURE)
        if draw(seed, "cure", customer, day).random() < chance:
            paying += owing
            loans[customer] = []
    for customer, amount, leaning in state.promises.pop(day, []):
        still = loans.get(customer)
        if still and draw(seed, "promise", customer, day).random() < KEEPS_PROMISE[leaning]:
            paying.append((max(still, key=lambda o: o[1])[0], amount))
    return paying


def _write_payments(folder: Path, day: date, paying: list[tuple[str, Fen]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "payments.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("payment_id", "loan_id", "paid_on", "amount", "channel"))
        for n, (loan, amount) in enumerate(paying, start=1):
            writer.writerow(
                (f"SIM{day:%Y%m%d}{n:05d}", loan, day.isoformat(), format_yuan(amount), "transfer")
            )


def simulate(
    engine: Engine,
    settings: Settings,
    *,
    truth_file: Path,
    start: date,
    days: int,
    seed: int,
    progress: Progress | None = None,
    clock: Clock | None = None,
) -> Summary:
    """Run `days` simulated days after `start` (the book date, whose batch runs first).
    `clock` is the real one (None: the system's): it only says which days are past."""
    if start < (clock or SystemClock()).now().astimezone(settings.zone).date():
        raise InvalidValue(
            f"the simulated days must not be past: the book date {start} is before today",
            message_zh=f"模拟的日期不能早于今天：账簿日期 {start} 早于今天",
        )
    drop = settings.var_dir / "demo" / f"drop-seed{seed}-{start}"
    config = settings.model_copy(
        update={
            "drop_dir": drop,
            "batch_publish_plans": True,
            "plan_seconds": min(settings.plan_seconds, PLAN_SECONDS),
            "prepare_dossiers": False,  # nobody downloads a simulated morning's dossiers
        }
    )
    truth = read_truth(truth_file)
    rules = VisitRules.from_settings(config)
    store = LocalEvidenceStore(config.var_dir / "evidence")
    state, summary = _State(), Summary()
    run_day(engine, config, start, clock=day_clock(start, config))  # plans the first day
    for n in range(1, days + 1):
        day = start + timedelta(days=n)
        morning = day_clock(day, config)  # the manager closes, then the batch runs
        _close_reviewed(engine, day, morning.now())
        run_day(engine, config, day, clock=morning)
        evening = at(day, DAY_ENDS_AT, config)
        _visit_day(engine, seed, day, truth, rules, store, state, summary, evening)
        paying = _payments(engine, seed, day, truth, state)
        if paying:  # the lender's file of the day, ingested by tomorrow's batch
            _write_payments(drop / f"{day:%Y%m%d}", day, paying)
            summary.payments += len(paying)
            summary.paid += sum(amount for _, amount in paying)
        summary.days, summary.last_day = n, day
        if progress:
            progress(f"simulated {day}", n, days)
    return summary
