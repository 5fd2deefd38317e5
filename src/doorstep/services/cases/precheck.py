"""Asking the conduct rules before acting: may I call, text, visit or reveal now? The same
facts and the same engine as the action itself (`contacts.attempt`, planning, `reveal`),
read only: nothing is written, nothing is counted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.contact import AttemptChannel
from doorstep.domain.errors import Forbidden, InvalidValue
from doorstep.domain.reveal import quota
from doorstep.domain.rules import Action, Decision, Pack, RevealContext, check
from doorstep.services.cases import contacts
from doorstep.services.cases.lookup import get_case
from doorstep.services.conduct import decisions
from doorstep.store.repositories import cases as repo
from doorstep.store.repositories import reveals as reveal_repo

VISIT_LENGTH = timedelta(hours=1)
"""The stop a proposed visit stands for, from the time asked about."""
VISIT_TEAM = 2


class Proposed(StrEnum):
    CALL = "call"
    SMS = "sms"
    VISIT = "visit"
    REVEAL = "reveal"


@dataclass(frozen=True)
class Answer:
    """allowed | warned | blocked, and each rule that fired with its words."""

    decision: Decision

    @property
    def outcome(self) -> str:
        return self.decision.outcome.value

    @property
    def rules(self) -> list[dict[str, str]]:
        return [
            {
                "id": f.rule_id,
                "severity": f.severity.value,
                "message_zh": f.message_zh,
                "message_en": f.message_en,
                "why": f.why,
            }
            for f in self.decision.fired
        ]


def ask(
    session: Session,
    actor: Actor,
    case_id: int,
    action: Proposed,
    *,
    at: datetime,
    pack: Pack,
    point_id: int | None = None,
    purpose: str = "contact_verification",
    facts: Mapping[str, bool] | None = None,
) -> Answer:
    """The rules' answer to `action` on the case at `at` (aware), before it is taken. A
    call or an SMS needs the contact point; a visit is a stop of an hour from `at`."""
    if not actor.can(Permission.RECORD_ATTEMPTS):
        raise Forbidden("your role takes no contact", message_zh="您的角色不联系借款人")
    if at.tzinfo is None:
        raise InvalidValue("at: a time zone is required", message_zh="at：须带时区")
    case = get_case(session, actor, case_id)
    if action is Proposed.VISIT:
        decision = decisions.check_plan_visit(
            session, case.id, at, at + VISIT_LENGTH, VISIT_TEAM, pack=pack, now=at
        )
    elif action is Proposed.REVEAL:
        decision = _reveal(session, actor, case.id, purpose, at, pack)
    else:
        if point_id is None:
            raise InvalidValue(
                "point_id: a call or an SMS needs the contact point",
                message_zh="point_id：电话或短信须指明联系方式",
            )
        channel = AttemptChannel.CALL if action is Proposed.CALL else AttemptChannel.SMS
        point = contacts.point_in_case(session, actor, case.id, point_id)
        ctx, _ = contacts.contact_context(session, point, case.id, channel, at, pack, facts=facts)
        decision = check(Action.CONTACT, ctx, pack)
    return Answer(decision)


def _reveal(
    session: Session, actor: Actor, case_id: int, purpose: str, at: datetime, pack: Pack
) -> Decision:
    """The reveal's decision with the person's counts as they stand plus this one."""
    live = repo.has_live_assignment(session, actor.team_ids, case_id, at)
    today = in_window = 1
    limits = quota(pack)
    if limits is not None and actor.user_id is not None:
        day = at.astimezone(pack.default_zone).date()
        done = reveal_repo.counted(session, actor.user_id, day=day, window_no=limits.window_of(at))
        today, in_window = done[0] + 1, done[1] + 1
    context = RevealContext(actor.role.value, purpose, live, in_window, today)
    return check(Action.REVEAL_PERSONAL_DATA, context, pack)
