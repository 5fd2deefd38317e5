"""Quality review of visits: the auditors review a share of the submitted visits (their
recordings, photos and interview) against a checklist, each item yes/no with a note.

The sample is fixed by a keyed hash of the visit's id (`Sample`), so it is stable, the
same for every reader, and not chosen by anyone: not by the verifier, not by the auditor.
One review per visit; each is audited. The compliance report counts, per verifier, the
visits sampled, reviewed, and failed per item (`Tally`)."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import Conflict, Forbidden, InvalidValue, NotFound
from doorstep.services.conduct import audit
from doorstep.store.models import Visit, VisitQualityReview
from doorstep.store.repositories import quality as repo

CHECKLIST = ("identified", "two_present", "no_threats", "no_disclosure", "quiet_hours")
"""The items, each answered yes (kept) or no (failed): the verifiers identified
themselves; two were present; no threats; nothing disclosed to third parties; quiet
hours kept."""
NOTE_MAX = 500
SCALE = float(2**64)


@dataclass(frozen=True)
class Sample:
    """Which visits are reviewed: those whose keyed hash falls under `share`."""

    share: float
    key: str = ""

    def has(self, visit_id: int) -> bool:
        digest = hmac.new(self.key.encode(), f"visit:{visit_id}".encode(), hashlib.sha256)
        return int.from_bytes(digest.digest()[:8], "big") / SCALE < self.share


@dataclass
class Tally:
    """One verifier's figures in the compliance report."""

    sampled: int = 0
    reviewed: int = 0
    failed: Counter[str] = field(default_factory=Counter)


def require_reviewer(actor: Actor) -> None:
    if not actor.can(Permission.REVIEW_VISIT_QUALITY):
        raise Forbidden(
            "only the auditors review the quality of visits", message_zh="只有审计人员可以质检外访"
        )


def awaiting(session: Session, actor: Actor, sample: Sample, since: datetime) -> list[Visit]:
    """The sampled visits checked in since `since` that await their review, oldest first."""
    require_reviewer(actor)
    return [v for v in repo.unreviewed_visits_since(session, since) if sample.has(v.id)]


def record_review(
    session: Session,
    actor: Actor,
    visit_id: int,
    answers: dict[str, bool],
    notes: dict[str, str],
    *,
    sample: Sample,
    now: datetime,
) -> VisitQualityReview:
    """The auditor's review of one sampled, submitted visit: every item answered."""
    require_reviewer(actor)
    visit = session.get(Visit, visit_id)
    if visit is None or visit.state != "submitted":
        raise NotFound(f"no submitted visit {visit_id}", message_zh=f"没有已提交的外访 {visit_id}")
    if not sample.has(visit_id):
        raise InvalidValue("this visit is not in the sample", message_zh="该外访不在抽检样本中")
    if set(answers) != set(CHECKLIST) or set(notes) - set(CHECKLIST):
        raise InvalidValue("answer every item of the checklist", message_zh="请回答检查表的每一项")
    if any(len(n) > NOTE_MAX for n in notes.values()):
        raise InvalidValue("a note is too long", message_zh="备注过长")
    if repo.review_of_visit(session, visit_id) is not None:
        raise Conflict(f"visit {visit_id} is already reviewed", message_zh="该外访已质检")
    review = VisitQualityReview(
        visit_id=visit_id,
        reviewer_id=actor.user_id,
        answers={k: bool(answers[k]) for k in CHECKLIST},
        notes={k: notes[k].strip() for k in CHECKLIST if notes.get(k, "").strip()},
        reviewed_at=now,
    )
    session.add(review)
    session.flush()
    failed = [k for k in CHECKLIST if not answers[k]]
    audit.record(
        session, actor, "visit.quality_review", "visit", visit_id,
        {"review": review.id, "failed": failed},
    )  # fmt: skip
    return review


def tallies(session: Session, sample: Sample, start: datetime, end: datetime) -> dict[int, Tally]:
    """Per verifier (user id): the visits checked in within [start, end) in the sample,
    those reviewed, and the failures per checklist item. A visit counts for each of its
    verifiers."""
    reviews = repo.reviews_between(session, start, end)
    by_verifier: dict[int, Tally] = {}
    for visit in repo.submitted_visits_between(session, start, end):
        if not sample.has(visit.id):
            continue
        review = reviews.get(visit.id)
        for user_id in visit.verifier_ids:
            tally = by_verifier.setdefault(user_id, Tally())
            tally.sampled += 1
            if review is not None:
                tally.reviewed += 1
                tally.failed.update(k for k in CHECKLIST if not review.answers.get(k, True))
    return by_verifier
