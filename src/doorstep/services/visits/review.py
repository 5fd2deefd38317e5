"""The manager's review: the case's latest verdict with its visit and evidence, accepted
or its next step overridden with a reason, and the visited case closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor
from doorstep.domain.case import Caller, CaseState
from doorstep.domain.errors import InvalidAnswers, NotFound
from doorstep.domain.ports import Cipher
from doorstep.domain.verdict import NextStep
from doorstep.services.cases import act, apply, get_case
from doorstep.services.conduct import audit
from doorstep.services.conduct.personal_data import Position, unseal_json, unseal_positions
from doorstep.services.visits.access import require_manager
from doorstep.services.visits.interview import Problem
from doorstep.store.models import Case, Evidence, PromiseToPay, Verdict, Visit
from doorstep.store.repositories import visits as repo

MIN_OVERRIDE_REASON = 4  # characters


@dataclass
class VerdictView:
    verdict: Verdict
    visit: Visit
    evidence: list[Evidence]
    promise: PromiseToPay | None
    verifiers: list[str]


def verdict_view(session: Session, actor: Actor, case_id: int) -> VerdictView | None:
    """The case's latest verdict with its visit, evidence and promise (None before any)."""
    case = get_case(session, actor, case_id)
    verdict = repo.latest_verdict(session, case.id)
    if verdict is None:
        return None
    visit = session.get(Visit, verdict.visit_id)
    assert visit is not None
    return VerdictView(
        verdict,
        visit,
        repo.evidence_of(session, visit.id),
        repo.promise_of_visit(session, visit.id),
        repo.display_names(session, visit.verifier_ids),
    )


def opened_interview(view: VerdictView, cipher: Cipher) -> dict[str, Any] | None:
    """The visit's interview, opened for the reviewer's page (after the case's access)."""
    document = unseal_json(cipher, view.visit.interview)
    return document if isinstance(document, dict) else None


def photo_positions(evidence: list[Evidence], cipher: Cipher) -> dict[int, Position]:
    """Where each photo was taken (its EXIF), opened for the reviewer's page."""
    opened = unseal_positions(cipher, [e.exif_position for e in evidence])
    return {e.id: p for e, p in zip(evidence, opened, strict=True) if p is not None}


def _override(verdict: Verdict, step: str | None, reason: str | None) -> str | None:
    """The next step the manager sets instead of the verdict's (None: the verdict's
    stands): a known step, and a reason of a few words for a different one."""
    if step is None:
        return None
    if step not in {s.value for s in NextStep}:
        raise InvalidAnswers(
            [Problem("override_step", f"next step: unknown {step!r}", f"后续处置：未知 {step!r}")]
        )
    if step == verdict.next_step:
        return None
    if reason is None or len(reason) < MIN_OVERRIDE_REASON:
        raise InvalidAnswers(
            [
                Problem(
                    "override_reason",
                    "reason: say why the next step is changed (at least 4 characters)",
                    "原因：请说明修改后续处置的原因（至少 4 个字）",
                )
            ]
        )
    return step


def review(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    override_step: str | None,
    reason: str | None,
    now: datetime,
) -> Verdict:
    """The manager accepts the verdict, or overrides its next step with a reason."""
    require_manager(actor)
    verdict = repo.latest_verdict(session, get_case(session, actor, case_id).id)
    if verdict is None:
        raise NotFound(f"case {case_id} has no verdict", message_zh=f"案件 {case_id} 尚无核实结论")
    return _accept(session, actor, case_id, verdict, override_step, reason, now)


def _accept(
    session: Session,
    actor: Actor,
    case_id: int,
    verdict: Verdict,
    override_step: str | None,
    reason: str | None,
    now: datetime,
) -> Verdict:
    reason = (reason or "").strip() or None
    step = _override(verdict, (override_step or "").strip() or None, reason)
    before = verdict.override_step or verdict.next_step
    verdict.override_step = step
    verdict.override_reason = reason if step else None
    verdict.reviewed_by = actor.user_id
    verdict.reviewed_at = verdict.updated_at = now  # the feed orders by the caller's clock
    session.flush()
    audit.record(
        session,
        actor,
        "verdict.override" if step else "verdict.review",
        "case",
        case_id,
        {"verdict": verdict.id, "from": before, "to": step or verdict.next_step},
        reason=reason,
    )
    return verdict


def close(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    reason: str | None,
    now: datetime,
    expected_version: int | None = None,
) -> Case:
    """Close a visited case with a reason, accepting its verdict as it stands if nobody
    has reviewed it. `cases.apply` refuses a case not visited or without a verdict, and
    writes the lender's outbox event."""
    require_manager(actor)
    case = get_case(session, actor, case_id)
    verdict = repo.latest_verdict(session, case.id)
    if case.state == CaseState.VISITED and verdict is not None and verdict.reviewed_at is None:
        _accept(session, actor, case.id, verdict, None, None, now)  # read once, above
    # closing is the manager's decision, taken as a person
    return apply(
        session, actor, case, "close", by=Caller.USER, reason=reason, now=now,
        expected_version=expected_version,
    )  # fmt: skip


def case_action(
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
    now: datetime,
) -> Case:
    """A person's action on a case from its page or the API: a close goes through `close`
    (the verdict accepted), every other action through `cases.act`."""
    if action == "close":
        return close(
            session, actor, case_id, reason=reason, now=now, expected_version=expected_version
        )
    return act(
        session, actor, case_id, action, reason=reason, hold_reason=hold_reason,
        cancel_reason=cancel_reason, expected_version=expected_version, today=today, now=now,
    )  # fmt: skip
