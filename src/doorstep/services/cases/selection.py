"""The daily selection: open cases for the customers the policy selects, move the best
of them to ready within capacity, keep a share back as holdout, cancel the cases of
customers who are no longer overdue."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy.orm import Session

from doorstep.compute.addresses import best_address_region
from doorstep.domain.access import Actor
from doorstep.domain.case import OPEN_STATES, Caller, CancelReason, CaseState
from doorstep.domain.contact import effective_confidence
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.errors import InvalidValue
from doorstep.domain.selection import (
    Candidate,
    Capacity,
    Decision,
    SelectionPolicy,
    decide,
    in_holdout,
    rank_by_city,
)
from doorstep.services.cases import tasks
from doorstep.services.cases.transitions import apply
from doorstep.services.conduct import audit
from doorstep.services.conduct.holds import held_customers
from doorstep.store.models import Alert, Case
from doorstep.store.repositories import book
from doorstep.store.repositories import cases as repo
from doorstep.store.repositories import scoring as scores_repo
from doorstep.store.repositories import tasks as tasks_repo


@dataclass
class SelectionReport:
    as_of: date
    overdue_customers: int = 0
    eligible: int = 0
    opened: int = 0
    made_ready: int = 0
    over_capacity: int = 0
    skip_trace: int = 0
    cancelled_cured: int = 0
    holdout: int = 0  # of those within capacity, kept back (case cancelled: holdout)
    updated: int = 0
    failed_rules: dict[str, int] = field(default_factory=dict)
    unplaced_by_city: dict[str, int] = field(default_factory=dict)  # selected, over capacity
    cities_without_team: list[str] = field(default_factory=list)  # demand and no capacity
    left_skip_trace: int = 0  # open skip-trace cases whose address is now good enough
    ranked_by: str = "priority"  # or "expected_value" (active visit_priority scores)
    model_version_id: int | None = None


@dataclass(frozen=True)
class _Choice:
    """A customer without an open case, as the policy decided."""

    decision: Decision
    candidate: Candidate
    city: str | None
    district: str | None
    case: Case | None = None  # an open case out of skip-trace, to be made ready


def _addresses_with_trust(session: Session, as_of: date) -> pl.DataFrame:
    """Address contact points with confidence decayed by age on `as_of`."""
    addresses = book.read_addresses(session.connection())
    day_end = datetime.combine(as_of, datetime.max.time(), tzinfo=UTC)
    ages = [(day_end - seen).total_seconds() / 86400 for seen in addresses["observed_at"].to_list()]
    trust = [
        effective_confidence(c, a)
        for c, a in zip(addresses["confidence"].to_list(), ages, strict=True)
    ]
    return addresses.with_columns(pl.Series("confidence", trust, dtype=pl.Float64))


def _facts(session: Session, as_of: date) -> pl.DataFrame:
    """Per customer on `as_of`: worst DPD, overdue amount, best address region and trust."""
    overdue = repo.overdue_by_customer(session.connection(), as_of)
    if overdue.height == 0:
        raise InvalidValue(
            f"no delinquency snapshots on {as_of}: run the delinquency batch first",
            message_zh=f"{as_of} 没有逾期快照：请先运行逾期计算",
        )
    addresses = _addresses_with_trust(session, as_of)
    region = best_address_region(addresses)
    trust = (
        addresses.filter(pl.col("status") != "invalid")
        .group_by("customer_id")
        .agg(pl.col("confidence").max().alias("trust"))
    )
    return (
        overdue.join(region, on="customer_id", how="left")
        .join(trust, on="customer_id", how="left")
        .with_columns(pl.col("trust").fill_null(0.0))
    )


def _cancel(session: Session, actor: Actor, case: Case, kind: CancelReason, reason: str) -> None:
    apply(
        session, actor, case, "cancel", by=Caller.SELECTION, reason=reason, cancel_reason=kind.value
    )


def _cancel_cured(
    session: Session, actor: Actor, facts: pl.DataFrame, open_now: dict[str, Case]
) -> int:
    """Cancel the open cases (not yet visited) of customers nothing is overdue for."""
    cancellable = {s.value for s in OPEN_STATES - {CaseState.VISITED}}
    cancelled = 0
    for row in facts.filter(pl.col("max_dpd") == 0).iter_rows(named=True):
        case = open_now.get(row["customer_id"])
        if case is not None and case.state in cancellable:
            _cancel(session, actor, case, CancelReason.CURED, CancelReason.CURED.value)
            cancelled += 1
    return cancelled


def _decide_overdue(
    session: Session,
    facts: pl.DataFrame,
    open_now: dict[str, Case],
    probabilities: dict[str, int],
    *,
    policy: SelectionPolicy,
    buckets: BucketScheme,
    report: SelectionReport,
) -> list[_Choice]:
    """Decide on every past-due customer. An open case only gets its figures brought up
    to date; the others are returned with the policy's decision."""
    as_of = report.as_of
    visits = repo.last_visits(session.connection())
    held_out = repo.holdout_days(session)
    held = held_customers(session, _at(report))  # holds in force when the day ends
    past_due = facts.filter(pl.col("max_dpd") > 0)
    report.overdue_customers = past_due.height
    choices = []
    for row in past_due.iter_rows(named=True):
        existing = open_now.get(row["customer_id"])
        candidate = Candidate(
            customer_id=row["customer_id"],
            max_dpd=row["max_dpd"],
            worst_bucket=buckets.bucket_of(row["max_dpd"]),
            overdue_amount=row["overdue_amount"],
            best_address_confidence=row["trust"],
            best_address_region=row["city"],
            on_hold=bool(existing and existing.hold_reason) or row["customer_id"] in held,
            last_visit_on=visits.get(row["customer_id"]),
            has_open_case=existing is not None,
            p_no_cure_bp=probabilities.get(row["customer_id"], 10_000) if probabilities else None,
            held_out_on=held_out.get(row["customer_id"]),
        )
        decision = decide(candidate, policy, as_of)
        for rule in decision.failed:
            report.failed_rules[rule] = report.failed_rules.get(rule, 0) + 1
        if existing is not None:  # keep the figures of open cases current
            existing.max_dpd, existing.bucket = candidate.max_dpd, candidate.worst_bucket
            existing.overdue_amount, existing.priority = row["overdue_amount"], decision.priority
            existing.as_of = as_of
            report.updated += 1
            traced = _traced(session, existing, candidate, policy, report)
            if traced is not None:
                choices.append(_Choice(traced, candidate, row["city"], row["district"], existing))
            continue
        choices.append(_Choice(decision, candidate, row["city"], row["district"]))
    return choices


def _traced(
    session: Session,
    case: Case,
    candidate: Candidate,
    policy: SelectionPolicy,
    report: SelectionReport,
) -> Decision | None:
    """A skip-trace case whose best address now reaches the policy's confidence leaves
    skip-trace (its tasks done) and competes for ready like a new case; None otherwise."""
    if not (case.skip_trace and case.state == CaseState.CONFIRMING.value):
        return None
    if candidate.best_address_confidence < policy.min_address_confidence:
        return None
    tasks.end_skip_trace(session, case, "an address reached the confidence threshold", _at(report))
    case.city = candidate.best_address_region or case.city
    report.left_skip_trace += 1
    return decide(replace(candidate, has_open_case=False), policy, report.as_of)


def _at(report: SelectionReport) -> datetime:
    """When the selection's day ends (UTC): the time its records are dated."""
    return datetime.combine(report.as_of, datetime.max.time(), tzinfo=UTC)


def _open(session: Session, actor: Actor, choice: _Choice, as_of: date) -> Case:
    """A new case for the chosen customer, audited as `case.open`."""
    candidate, decision = choice.candidate, choice.decision
    case = Case(
        customer_id=candidate.customer_id,
        state=CaseState.NEW.value,
        opened_on=as_of,
        as_of=as_of,
        max_dpd=candidate.max_dpd,
        bucket=candidate.worst_bucket,
        overdue_amount=candidate.overdue_amount,
        priority=decision.priority,
        city=choice.city,
        district=choice.district,
        skip_trace=decision.skip_trace,
    )
    session.add(case)
    session.flush()
    audit.record(
        session,
        actor,
        "case.open",
        "case",
        case.id,
        {
            "customer_id": case.customer_id,
            "dpd": case.max_dpd,
            "overdue": case.overdue_amount,
            "skip_trace": case.skip_trace,
        },
    )
    return case


def _open_chosen(
    session: Session,
    actor: Actor,
    choices: list[_Choice],
    *,
    policy: SelectionPolicy,
    capacity: Capacity,
    report: SelectionReport,
) -> None:
    """Open a case for each selected (or skip-trace) customer; those within their city's
    capacity go to ready, except a hash-drawn holdout share, cancelled at once."""
    ranked = [(c.decision, c.city) for c in choices]
    chosen, spare, report.unplaced_by_city = rank_by_city(ranked, capacity)
    report.eligible, report.over_capacity = len(chosen) + len(spare), len(spare)
    ready = {d.customer_id for d in chosen}
    for choice in choices:
        decision = choice.decision
        if not (decision.selected or decision.skip_trace):
            continue
        case = choice.case or _open(session, actor, choice, report.as_of)
        report.opened += choice.case is None
        if decision.skip_trace:
            skip = "no address good enough: skip-trace"
            apply(session, actor, case, "start_confirmation", by=Caller.SELECTION, reason=skip)
            tasks.open_skip_trace(session, case, report.as_of)
            report.skip_trace += 1
        elif decision.customer_id in ready and in_holdout(
            case.customer_id, report.as_of, policy.holdout_share
        ):  # kept back unvisited, so the effect of visits is measured (domain.selection)
            _cancel(session, actor, case, CancelReason.HOLDOUT, "selection holdout")
            report.holdout += 1
        elif decision.customer_id in ready:
            within = "selected within capacity"
            apply(session, actor, case, "mark_ready", by=Caller.SELECTION, reason=within)
            report.made_ready += 1


def _alert_cities_without_team(
    session: Session, capacity: Capacity, report: SelectionReport
) -> None:
    """A city with cases to visit and no team's capacity raises one open alert."""
    if isinstance(capacity, int):
        return
    report.cities_without_team = sorted(
        city for city in report.unplaced_by_city if not capacity.get(city)
    )
    alerted = tasks_repo.open_alert_cities(session, "city_without_team")
    for city in report.cities_without_team:
        if city not in alerted:
            cases = report.unplaced_by_city[city]
            detail = {"city": city or None, "cases": cases, "as_of": report.as_of.isoformat()}
            session.add(Alert(kind="city_without_team", raised_at=_at(report), detail=detail))


def select_cases(
    session: Session,
    actor: Actor,
    as_of: date,
    *,
    policy: SelectionPolicy,
    capacity: Capacity,
    buckets: BucketScheme,
) -> SelectionReport:
    """Open cases for the customers the policy selects, move the best of the new ones to
    ready within `capacity` (per city: each city's teams; an int is one pool), cancel the
    open cases of customers who are no longer overdue.
    A deterministic share of those within capacity is kept back as holdout instead
    (`SelectionPolicy.holdout_share`): their new case is cancelled with reason holdout.

    When the active ``visit_priority`` model has scores on `as_of` (`doorstep score
    apply`), customers are ranked by the expected value of a visit (domain.selection);
    a past-due customer it did not score counts as certain not to cure. Otherwise by
    the rule-of-thumb priority."""
    model = scores_repo.active_version(session, scores_repo.VISIT_PRIORITY)
    probabilities = scores_repo.probabilities_on(session, model.id, as_of) if model else {}
    facts = _facts(session, as_of)
    report = SelectionReport(as_of)
    if probabilities and model is not None:
        report.ranked_by, report.model_version_id = "expected_value", model.id
    open_now = repo.open_cases_by_customer(session)
    report.cancelled_cured = _cancel_cured(session, actor, facts, open_now)
    choices = _decide_overdue(
        session, facts, open_now, probabilities, policy=policy, buckets=buckets, report=report
    )
    _open_chosen(session, actor, choices, policy=policy, capacity=capacity, report=report)
    _alert_cities_without_team(session, capacity, report)
    session.flush()
    return report
