"""Cases: opening them from the day's delinquency by the selection policy, moving them
through their states, and what a case page shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from doorstep.domain.access import Actor, Permission
from doorstep.domain.case import (
    OPEN_STATES,
    CancelReason,
    CaseState,
    CaseView,
    HoldReason,
    allowed_actions,
    hold,
    release,
    transition,
)
from doorstep.domain.contact import effective_confidence
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.errors import Conflict, Forbidden, InvalidValue, NotFound
from doorstep.domain.selection import Candidate, SelectionPolicy, decide, in_holdout, rank
from doorstep.services.conduct import audit
from doorstep.services.conduct import rules as conduct
from doorstep.services.reports.book import best_address_region
from doorstep.store.models import Case
from doorstep.store.repositories import book
from doorstep.store.repositories import cases as repo
from doorstep.store.repositories import scoring as scores_repo


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
    ranked_by: str = "priority"  # or "expected_value" (active visit_priority scores)
    model_version_id: int | None = None


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


def select_cases(
    session: Session,
    actor: Actor,
    as_of: date,
    *,
    policy: SelectionPolicy,
    capacity: int,
    buckets: BucketScheme,
) -> SelectionReport:
    """Open cases for the customers the policy selects, move the best `capacity` of the
    new ones to ready, cancel the open cases of customers who are no longer overdue.
    A deterministic share of those within capacity is kept back as holdout instead
    (`SelectionPolicy.holdout_share`): their new case is cancelled with reason holdout.

    When the active ``visit_priority`` model has scores on `as_of` (`doorstep score
    apply`), customers are ranked by the expected value of a visit (domain.selection);
    a past-due customer it did not score counts as certain not to cure. Otherwise by
    the rule-of-thumb priority."""
    connection = session.connection()
    model = scores_repo.active_version(session, scores_repo.VISIT_PRIORITY)
    probabilities = scores_repo.probabilities_on(session, model.id, as_of) if model else {}
    overdue = repo.overdue_by_customer(connection, as_of)
    if overdue.height == 0:
        raise InvalidValue(
            f"no delinquency snapshots on {as_of}: run the delinquency batch first",
            message_zh=f"{as_of} 没有逾期快照：请先运行逾期计算",
        )
    report = SelectionReport(as_of)
    if probabilities and model is not None:
        report.ranked_by, report.model_version_id = "expected_value", model.id
    addresses = _addresses_with_trust(session, as_of)
    region = best_address_region(addresses)
    trust = (
        addresses.filter(pl.col("status") != "invalid")
        .group_by("customer_id")
        .agg(pl.col("confidence").max().alias("trust"))
    )
    facts = (
        overdue.join(region, on="customer_id", how="left")
        .join(trust, on="customer_id", how="left")
        .with_columns(pl.col("trust").fill_null(0.0))
    )
    open_now = repo.open_cases_by_customer(session)
    cancellable = {s.value for s in OPEN_STATES - {CaseState.VISITED}}
    visits = repo.last_visits(connection)
    held_out: dict[str, date] = {
        customer: day
        for customer, day in session.execute(
            select(Case.customer_id, func.max(Case.opened_on))
            .where(Case.cancel_reason == CancelReason.HOLDOUT.value)
            .group_by(Case.customer_id)
        )
    }

    for row in facts.filter(pl.col("max_dpd") == 0).iter_rows(named=True):
        case = open_now.get(row["customer_id"])
        if case is not None and case.state in cancellable:
            _apply(session, actor, case, "cancel", CancelReason.CURED.value)
            case.cancel_reason = CancelReason.CURED.value
            report.cancelled_cured += 1

    decisions = []
    past_due = facts.filter(pl.col("max_dpd") > 0)
    report.overdue_customers = past_due.height
    for row in past_due.iter_rows(named=True):
        existing = open_now.get(row["customer_id"])
        candidate = Candidate(
            customer_id=row["customer_id"],
            max_dpd=row["max_dpd"],
            worst_bucket=buckets.bucket_of(row["max_dpd"]),
            overdue_amount=row["overdue_amount"],
            best_address_confidence=row["trust"],
            best_address_region=row["city"],
            on_hold=bool(existing and existing.hold_reason),
            last_visit_on=visits.get(row["customer_id"]),
            has_open_case=existing is not None,
            p_no_cure_bp=probabilities.get(row["customer_id"], 10_000) if probabilities else None,
            held_out_on=held_out.get(row["customer_id"]),
        )
        decision = decide(candidate, policy, as_of)
        for rule in decision.failed:
            report.failed_rules[rule] = report.failed_rules.get(rule, 0) + 1
        if existing is not None:  # keep the figures of open cases current
            case = existing
            case.max_dpd, case.bucket = candidate.max_dpd, candidate.worst_bucket
            case.overdue_amount, case.priority, case.as_of = (
                row["overdue_amount"],
                decision.priority,
                as_of,
            )
            report.updated += 1
            continue
        decisions.append((decision, candidate, row))

    chosen, spare = rank([d for d, _, _ in decisions], capacity)
    report.eligible, report.over_capacity = len(chosen) + len(spare), len(spare)
    ready = {d.customer_id for d in chosen}
    for decision, candidate, row in decisions:
        if not (decision.selected or decision.skip_trace):
            continue
        case = Case(
            customer_id=candidate.customer_id,
            state=CaseState.NEW.value,
            opened_on=as_of,
            as_of=as_of,
            max_dpd=candidate.max_dpd,
            bucket=candidate.worst_bucket,
            overdue_amount=candidate.overdue_amount,
            priority=decision.priority,
            city=row["city"],
            district=row["district"],
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
        report.opened += 1
        if decision.skip_trace:
            _apply(session, actor, case, "start_confirmation", "no address good enough: skip-trace")
            report.skip_trace += 1
        elif decision.customer_id in ready and in_holdout(
            case.customer_id, as_of, policy.holdout_share
        ):  # kept back unvisited, so the effect of visits is measured (domain.selection)
            _apply(session, actor, case, "cancel", "selection holdout")
            case.cancel_reason = CancelReason.HOLDOUT.value
            report.holdout += 1
        elif decision.customer_id in ready:
            _apply(session, actor, case, "mark_ready", "selected within capacity")
            report.made_ready += 1
    session.flush()
    return report


def _apply(session: Session, actor: Actor, case: Case, action: str, reason: str | None) -> None:
    view = CaseView(
        CaseState(case.state), HoldReason(case.hold_reason) if case.hold_reason else None
    )
    after, event = transition(view, action, reason)
    case.state = after.state.value
    audit.record(
        session,
        actor,
        f"case.{action}",
        "case",
        case.id,
        {"from": event.before.value, "to": event.after.value},
        reason=reason,
    )


def list_visible(
    session: Session, actor: Actor, f: repo.CaseFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[Case], int]:
    """One page of the cases the actor may see, highest priority first, and the total."""
    if not actor.can(Permission.READ_CASES):
        raise Forbidden("your role cannot read cases", message_zh="您的角色无权查看案件")
    return repo.list_cases(session, actor, f, page=page, per_page=per_page)


CaseFilter = repo.CaseFilter


def get_case(session: Session, actor: Actor, case_id: int) -> Case:
    """A case the actor may see; 404 (not 403) for one they may not, so ids do not leak."""
    if not actor.can(Permission.READ_CASES):
        raise Forbidden("your role cannot read cases", message_zh="您的角色无权查看案件")
    case = repo.get_visible(session, actor, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", message_zh=f"没有案件 {case_id}")
    return case


def act(
    session: Session,
    actor: Actor,
    case_id: int,
    action: str,
    *,
    reason: str | None = None,
    hold_reason: str | None = None,
    cancel_reason: str | None = None,
    expected_version: int | None = None,
    today: date | None = None,
) -> Case:
    """Run one case action for a user: transition, hold or release. `today` is the
    business date (it dates a recorded visit, which the selection's visit gap reads)."""
    if not actor.can(Permission.CHANGE_CASES):
        raise Forbidden("your role cannot change cases", message_zh="您的角色无权变更案件")
    case = get_case(session, actor, case_id)
    if expected_version is not None and case.version != expected_version:
        raise Conflict(
            "the case was changed by someone else: reload it", message_zh="案件已被他人修改，请刷新"
        )
    view = CaseView(
        CaseState(case.state), HoldReason(case.hold_reason) if case.hold_reason else None
    )
    reason = (reason or "").strip() or None  # a blank reason is no reason
    if action == "hold":
        if hold_reason and hold_reason not in {h.value for h in HoldReason}:
            raise InvalidValue(
                f"unknown hold reason {hold_reason!r}", message_zh=f"未知的暂停原因 {hold_reason!r}"
            )
        after, event = hold(view, HoldReason(hold_reason or HoldReason.OTHER), reason)
    elif action == "release":
        after, event = release(view, reason or "")
    else:
        after, event = transition(view, action, reason)
    if action == "release":  # refused (before any change) unless the role may lift every hold
        conduct.lift_hold(session, actor, case, event.reason or "")
    case.state = after.state.value
    case.hold_reason = after.hold.value if after.hold else None
    if action == "hold" and after.hold is not None:  # the hold's row, with its end rule
        conduct.start_hold(session, actor, case, after.hold, event.reason)
    if action == "record_visit":
        case.visited_on = today or datetime.now(UTC).date()
    if action == "cancel":
        if cancel_reason and cancel_reason not in {c.value for c in CancelReason}:
            raise InvalidValue(
                f"unknown cancel reason {cancel_reason!r}",
                message_zh=f"未知的取消原因 {cancel_reason!r}",
            )
        case.cancel_reason = cancel_reason or CancelReason.OTHER.value
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            "the case was changed by someone else: reload it", message_zh="案件已被他人修改，请刷新"
        ) from None
    audit.record(
        session,
        actor,
        f"case.{action}",
        "case",
        case.id,
        {
            "from": event.before.value,
            "to": event.after.value,
            "hold": after.hold.value if after.hold else None,
        },
        reason=event.reason,
    )
    return case


def actions_for(case: Case) -> list[str]:
    view = CaseView(
        CaseState(case.state), HoldReason(case.hold_reason) if case.hold_reason else None
    )
    return allowed_actions(view)


def case_ids_of(session: Session, customer_id: str) -> list[int]:
    return list(session.scalars(select(Case.id).where(Case.customer_id == customer_id)))
