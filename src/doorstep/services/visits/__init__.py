"""The visit (上门访谈): the verifier's day, check-in and check-out, the structured
interview with its evidence, the verdict and next step, and the manager's review.

A visit is created at check-in (the case goes scheduled → visiting) and submitted once
(→ visited). The modules, by meaning:

- `day`: the verifier's day, the team's stops with their addresses revealed
- `checkin`: check-in and check-out
- `interview`: the interview form read field by field
- `evidence`: uploads typed, stored and verified
- `submission`: the submission (claim, evidence, verdict, promise, outbox)
- `review`: the manager's review, override and close
- `alerts`: the team's safety: overdue check-outs and SOS, until resolved
- `access`, `rules`, `moves`: who may, the settings a visit is judged by, and the one
  function that changes a case's state or hold
"""

from doorstep.services.visits.access import visit_of
from doorstep.services.visits.checkin import Conduct, check_in, check_out
from doorstep.services.visits.day import DayStop, customer_name, customer_names, day, map_link
from doorstep.services.visits.evidence import (
    EvidenceProblem,
    Orphan,
    Upload,
    check_uploads,
    orphan_evidence,
    verify_evidence,
)
from doorstep.services.visits.interview import LABELS, Answers, Interview, Problem, parse_interview
from doorstep.services.visits.review import (
    VerdictView,
    case_action,
    close,
    opened_interview,
    photo_positions,
    review,
    verdict_view,
)
from doorstep.services.visits.rules import VisitRules
from doorstep.services.visits.submission import (
    KEY,
    Submission,
    feedback_payload,
    submit,
    submitted_with,
)

__all__ = [
    "KEY",
    "LABELS",
    "Answers",
    "Conduct",
    "DayStop",
    "EvidenceProblem",
    "Interview",
    "Orphan",
    "Problem",
    "Submission",
    "Upload",
    "VerdictView",
    "VisitRules",
    "case_action",
    "check_in",
    "check_out",
    "check_uploads",
    "close",
    "customer_name",
    "customer_names",
    "day",
    "feedback_payload",
    "map_link",
    "opened_interview",
    "orphan_evidence",
    "parse_interview",
    "photo_positions",
    "review",
    "submit",
    "submitted_with",
    "verdict_view",
    "verify_evidence",
    "visit_of",
]
