"""The submission of a visit: the interview, its evidence, the verdict and next step, a
promise to pay, the case recorded as visited, and the lender told through the outbox.

The device sends an idempotency key; the submission claims the visit with a conditional
UPDATE (checked in → submitted) and the key is unique, so a retried or double submission
finds the first one instead of making a second (`DuplicateSubmission` tells the entry
point to roll back and answer with the visit the key names).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from doorstep.domain import hardship
from doorstep.domain.access import Actor
from doorstep.domain.errors import Conflict, DuplicateSubmission, InvalidAnswers
from doorstep.domain.money import format_yuan
from doorstep.domain.ports import Cipher
from doorstep.domain.verdict import Decision, VerdictFacts, decide
from doorstep.integrations import evidence as files
from doorstep.services import outbox
from doorstep.services.cases import get_case, tasks
from doorstep.services.cases.capture import Keys, capture
from doorstep.services.conduct import audit, personal_data
from doorstep.services.visits.access import live_team, require_recorder, visit_of
from doorstep.services.visits.evidence import Upload, check_uploads, store_evidence
from doorstep.services.visits.interview import Answers, Interview, Problem, parse_interview
from doorstep.services.visits.moves import hold_vulnerable, move_case
from doorstep.services.visits.rules import VisitRules
from doorstep.store.models import Case, PlanStop, PromiseToPay, Verdict, Visit
from doorstep.store.repositories import cases as case_repo
from doorstep.store.repositories import visits as repo

KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass
class Submission:
    visit: Visit
    verdict: Verdict
    replayed: bool = False


def submitted_with(session: Session, actor: Actor, key: str) -> Submission | None:
    """The submission an idempotency key made, if the actor's team made it."""
    visit = repo.visit_by_key(session, key)
    if visit is None or visit.team_id not in actor.team_ids or visit.state != "submitted":
        return None
    verdict = repo.verdict_of_visit(session, visit.id)
    return Submission(visit, verdict, replayed=True) if verdict is not None else None


def submit(
    session: Session,
    actor: Actor,
    visit_id: int,
    key: str,
    answers: Answers,
    uploads: Sequence[Upload],
    *,
    store: files.EvidenceStore,
    rules: VisitRules,
    now: datetime,
    request_id: str | None = None,
    keys: Keys | None = None,
) -> Submission:
    """Record the interview, its evidence, the verdict and next step, a promise to pay;
    the case goes visiting → visited (and on hold when the borrower is vulnerable); an
    outbox event tells the lender. Nothing is written when anything is refused."""
    require_recorder(actor)
    if not KEY.match(key or ""):
        raise InvalidAnswers([Problem("idempotency_key", "missing or malformed", "缺失或格式错误")])
    earlier = submitted_with(session, actor, key)
    if earlier is not None:
        return earlier
    visit = visit_of(session, actor, visit_id)
    live_team(session, actor, visit.case_id, now)
    if visit.state == "submitted":
        raise Conflict("this visit was already submitted", message_zh="该外访已提交")
    case = get_case(session, actor, visit.case_id, now)
    today = now.astimezone(rules.zone).date()
    # Every refusal comes before the first write.
    personal_data.need(rules.cipher)
    interview = parse_interview(answers, today)
    _require_keys(interview, keys)
    checked = check_uploads(uploads, rules.evidence_max_bytes, rules.zone)
    broken = repo.broken_promises(session, case.customer_id)
    facts, decision = _decide(session, case, interview, broken, rules)

    _claim(session, actor, visit, key, now)
    hashes = store_evidence(session, actor, visit, checked, store=store, rules=rules, now=now)
    _record_interview(visit, interview, now, rules.cipher)
    verdict = _record_verdict(session, case, visit, interview, facts, decision, broken)
    promise = _record_promise(session, case, visit, interview)
    for made in (verdict, promise):  # the caller's clock, not the wall clock: the feed's
        if made is not None:  # order and the promise's first day are when it happened
            made.created_at = made.updated_at = now
    _finish_stop(session, visit)
    _flush_submission(session)
    tasks.open_for_step(session, case, decision.next_step, today, verdict.id)
    _capture_contacts(session, actor, case, interview, keys, now)
    _record_visited(session, actor, case, interview, decision, today, now)
    session.flush()
    _audit_submission(
        session, actor, case, visit, key, interview, decision, hashes, promise, request_id
    )
    payload = feedback_payload(session, case, visit, verdict, promise, hashes)
    outbox.emit(session, "visit.verdict", str(case.id), payload, now=now)
    return Submission(visit, verdict)


def _decide(
    session: Session, case: Case, interview: Interview, broken: int, rules: VisitRules
) -> tuple[VerdictFacts, Decision]:
    """The verdict's facts and the next step they lead to; a promise is refused after
    too many broken ones."""
    facts = VerdictFacts(
        reached=interview.reached,
        address_status=interview.address_status,
        leaning=interview.leaning,
        ability_per_month=interview.ability_per_month,
        vulnerable=bool(interview.vulnerabilities),
        promised=interview.outcome == "promise",
        plan_requested=interview.outcome == "plan",
        broken_promises=broken,
        unreached_before=repo.unreached_visits(session, case.id),
    )
    decision = decide(facts, max_broken_promises=rules.max_broken_promises)
    if facts.promised and not decision.promise_allowed:
        raise InvalidAnswers(
            [
                Problem(
                    "outcome",
                    f"promise or plan: {broken} promises were broken already, no new promise "
                    "may be taken: ask for a plan instead",
                    f"还款承诺或方案：已有 {broken} 次承诺未履行，不再接受新的承诺，请申请还款方案",
                )
            ]
        )
    return facts, decision


def _require_keys(interview: Interview, keys: Keys | None) -> None:
    """A new contact point is stored encrypted: refused when no keys were given."""
    if keys is None and (interview.new_address or interview.new_phone):
        field = "new_address" if interview.new_address else "new_phone"
        raise InvalidAnswers(
            [
                Problem(
                    field,
                    "cannot be stored here: record it on the case",
                    "此处无法保存：请在案件页登记",
                )
            ]
        )


def _capture_contacts(
    session: Session,
    actor: Actor,
    case: Case,
    interview: Interview,
    keys: Keys | None,
    now: datetime,
) -> None:
    """A new address or phone heard at the door enters confirmation as a contact point:
    the borrower's own word as field evidence, a third party's as third-party data."""
    source = "field" if interview.reached else "third_party"
    for channel, value in (("address", interview.new_address), ("phone", interview.new_phone)):
        if value and keys is not None:
            capture(
                session, actor, case, channel, value, source=source, via="visit", keys=keys, now=now
            )


def _claim(session: Session, actor: Actor, visit: Visit, key: str, now: datetime) -> None:
    """Claim the visit: the first write, so a concurrent submission waits here and then
    finds the visit submitted (no row updated)."""
    try:
        claimed = repo.claim_for_submission(session, visit.id, key=key, at=now, by=actor.user_id)
    except IntegrityError:
        raise DuplicateSubmission(
            "this submission was already received", message_zh="该提交已收到"
        ) from None
    if not claimed:
        raise DuplicateSubmission("this visit was already submitted", message_zh="该外访已提交")
    session.refresh(visit)


def _record_interview(
    visit: Visit, interview: Interview, now: datetime, cipher: Cipher | None
) -> None:
    """The interview on the visit, sealed (beside the check-in's note); checked out if
    not yet."""
    note = (personal_data.unseal_json(cipher, visit.interview) or {}).get("check_in_note")
    visit.interview = personal_data.seal_json(
        cipher, {**interview.document(), "check_in_note": note}
    )
    visit.met = interview.met.value
    if interview.above_ability:  # the promise exceeds the stated ability: a reason was given
        visit.flags = [*visit.flags, "promise_above_ability"]
    if visit.checked_out_at is None:
        visit.checked_out_at = now


def _record_verdict(
    session: Session,
    case: Case,
    visit: Visit,
    interview: Interview,
    facts: VerdictFacts,
    decision: Decision,
    broken: int,
) -> Verdict:
    verdict = Verdict(
        case_id=case.id,
        visit_id=visit.id,
        reached=interview.reached,
        address_status=interview.address_status.value,
        primary_reason=interview.primary_reason,
        reasons=interview.reasons,
        hardship_or_evasion=interview.leaning.value,
        advice=_advice(session, case, interview, broken),
        ability_per_month=interview.ability_per_month,
        willingness=interview.willingness,
        vulnerable=facts.vulnerable,
        next_step=decision.next_step.value,
        next_step_rule=decision.rule,
    )
    session.add(verdict)
    return verdict


def _record_promise(
    session: Session, case: Case, visit: Visit, interview: Interview
) -> PromiseToPay | None:
    """The promise to pay the borrower made, if any."""
    promised = interview.outcome == "promise"
    if not (promised and interview.promise_amount and interview.promise_date):
        return None
    promise = PromiseToPay(
        case_id=case.id,
        customer_id=case.customer_id,
        visit_id=visit.id,
        amount=interview.promise_amount,
        due_on=interview.promise_date,
        status="open",
        paid=0,
    )
    session.add(promise)
    return promise


def _finish_stop(session: Session, visit: Visit) -> None:
    """The plan's stop of the visit, if any, is done."""
    if visit.plan_stop_id is not None:
        stop = session.get(PlanStop, visit.plan_stop_id)
        if stop is not None:
            stop.status = "done"


def _flush_submission(session: Session) -> None:
    """Write the visit's rows; a verdict already there (a unique visit) is a duplicate."""
    try:
        session.flush()
    except IntegrityError:
        raise DuplicateSubmission(
            "this visit was already submitted", message_zh="该外访已提交"
        ) from None


def _record_visited(
    session: Session,
    actor: Actor,
    case: Case,
    interview: Interview,
    decision: Decision,
    today: date,
    now: datetime,
) -> None:
    """The case goes visiting → visited, dated today; a vulnerable borrower's case is
    held as well."""
    verdict = f"verdict: {decision.next_step.value}"
    move_case(session, actor, case, "record_visit", verdict, now=now, today=today)
    if interview.vulnerabilities:
        hold_vulnerable(session, actor, case, ", ".join(interview.vulnerabilities), now)


def _audit_submission(
    session: Session,
    actor: Actor,
    case: Case,
    visit: Visit,
    key: str,
    interview: Interview,
    decision: Decision,
    hashes: list[str],
    promise: PromiseToPay | None,
    request_id: str | None,
) -> None:
    audit.record(
        session,
        actor,
        "visit.submit",
        "case",
        case.id,
        {
            "visit": visit.id,
            "idempotency_key": key,
            "met": interview.met.value,
            "next_step": decision.next_step.value,
            "rule": decision.rule,
            "evidence_sha256": hashes,
            "flags": visit.flags,
            "promise": format_yuan(promise.amount) if promise else None,
        },
        request_id=request_id,
    )


def _advice(session: Session, case: Case, interview: Interview, broken: int) -> dict[str, Any]:
    """Advice on hardship vs evasion: the active model's, else the documented rule set's
    (the verifier's call stays the verdict's; advice is never an action)."""
    loans = [loan.loan_id for loan in case_repo.loans_of(session, case.customer_id)]
    paid = sum(
        p.amount for p in case_repo.payments_of(session, loans) if p.paid_on >= case.opened_on
    )
    facts = hardship.InterviewFacts(
        reasons=tuple(interview.reasons),
        primary_reason=interview.primary_reason,
        monthly_income_fen=interview.monthly_income,
        essential_expenses_fen=interview.essential_expenses,
        other_debts_fen=interview.other_debts,
        dependants=interview.dependants,
        willingness=interview.willingness,
        ability_per_month_fen=interview.ability_per_month,
        vulnerability=tuple(interview.vulnerabilities),
        borrower_reached=interview.reached,
        broken_promises=broken,
        paid_since_overdue_fen=paid,
        days_past_due=case.max_dpd,
    )
    from doorstep.services.scoring import hardship_advice  # loads the model stack lazily

    return hardship_advice(session, facts)


def feedback_payload(
    session: Session,
    case: Case,
    visit: Visit,
    verdict: Verdict,
    promise: PromiseToPay | None,
    hashes: list[str],
) -> dict[str, Any]:
    """The lender's view of a verdict (DESIGN §5 feedback columns)."""
    return {
        "case_id": case.id,
        "customer_id": case.customer_id,
        "loan_ids": [loan.loan_id for loan in case_repo.loans_of(session, case.customer_id)],
        "visit_id": visit.id,
        "checked_in_at": visit.checked_in_at.isoformat(),
        "checked_out_at": visit.checked_out_at.isoformat() if visit.checked_out_at else None,
        "reached": verdict.reached,
        "address_valid": verdict.address_status,
        "reason": verdict.primary_reason,
        "reasons": list(verdict.reasons),
        "hardship_or_evasion": verdict.hardship_or_evasion,
        "ability": format_yuan(verdict.ability_per_month)
        if verdict.ability_per_month is not None
        else None,
        "willingness": verdict.willingness,
        "ptp_amount": format_yuan(promise.amount) if promise else None,
        "ptp_date": promise.due_on.isoformat() if promise else None,
        "next_step": verdict.override_step or verdict.next_step,
        "verifier_ids": list(visit.verifier_ids),
        "evidence_sha256": hashes,
        "flags": list(visit.flags),
    }
