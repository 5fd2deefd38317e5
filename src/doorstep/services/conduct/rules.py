"""Conduct rules in use, one import for the other areas (the pack itself is built once at
the entry point, `Settings.rules_pack`, and passed in as `pack`):

- Planner: `allowed_visit_hours(pack, day, zone)` gives the local time windows in which a
  stop may be placed (the complement of the pack's quiet hours for `plan_visit`), and
  `check_plan_visit(session, case_id, window_start, window_end, team_size, pack=...,
  now=...)` the decision for one stop (quiet hours, team, holds, vulnerability, visit
  interval, notice). `held_case_ids(session, case_ids, now)` lists the cases a plan must
  leave out.
- Visit pages: `check_check_in(session, actor, case_id, at=..., verifiers_checked_in=...,
  id_shown=..., entering_home=..., entry_consent=..., recording_on=..., pack=...)` returns
  the decision and records it when not allowed; `require(decision, override_reason)` raises
  `RuleBlocked` (blocked) or `ReasonRequired` (warned without a reason).
- Holds (`holds`), the compliance report (`compliance`), retention (`retention`).
"""

from __future__ import annotations

from doorstep.services.conduct.compliance import (
    ComplianceReport,
    ParamRow,
    ReportRow,
    compliance_report,
    pack_rows,
    report_csv,
    require_reader,
)
from doorstep.services.conduct.decisions import (
    allowed_visit_hours,
    case_zone,
    check_check_in,
    check_plan_visit,
    in_quiet_hours,
    interval_overridden,
    interval_warned,
    override_visit_interval,
    record_decision,
    require,
)
from doorstep.services.conduct.holds import (
    END_RULE,
    end_expired,
    escalate_late,
    held_case_ids,
    hold_types,
    lift_hold,
    no_work_visits,
    start_hold,
)
from doorstep.services.conduct.retention import (
    MINIMISED,
    RetentionLine,
    Stores,
    minimise_personal_data,
    retention_report,
)

__all__ = [
    "END_RULE",
    "MINIMISED",
    "ComplianceReport",
    "ParamRow",
    "ReportRow",
    "RetentionLine",
    "Stores",
    "allowed_visit_hours",
    "case_zone",
    "check_check_in",
    "check_plan_visit",
    "compliance_report",
    "end_expired",
    "escalate_late",
    "held_case_ids",
    "hold_types",
    "in_quiet_hours",
    "interval_overridden",
    "interval_warned",
    "lift_hold",
    "minimise_personal_data",
    "no_work_visits",
    "override_visit_interval",
    "pack_rows",
    "record_decision",
    "report_csv",
    "require",
    "require_reader",
    "retention_report",
    "start_hold",
]
