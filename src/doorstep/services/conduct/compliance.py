"""What the auditors read: the effective pack with where each value came from, and the
compliance report per team and verifier (page and CSV)."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Permission
from doorstep.domain.errors import Forbidden, InvalidValue
from doorstep.domain.rules import Pack
from doorstep.domain.rules.kinds import shown
from doorstep.integrations.spreadsheet import SafeWriter
from doorstep.services.conduct.decisions import in_quiet_hours
from doorstep.services.conduct.quality import CHECKLIST, Sample, Tally, tallies
from doorstep.store.models import CaseHold
from doorstep.store.repositories import conduct as repo


@dataclass(frozen=True)
class ParamRow:
    name: str
    value: str
    origin: str


def pack_rows(pack: Pack) -> list[dict[str, Any]]:
    """Each rule of the pack with its parameters and where each value came from."""
    return [
        {
            "rule": rule,
            "params": [
                ParamRow(k, shown(v), rule.origins.get(k, "")) for k, v in rule.params.items()
            ],
            "severity_origin": rule.origins.get("severity", ""),
            "enabled_origin": rule.origins.get("enabled", ""),
        }
        for rule in pack.rules
    ]


def require_reader(actor: Actor) -> None:
    if not actor.can(Permission.READ_RULES):
        raise Forbidden(
            "your role cannot read the conduct rules", message_zh="您的角色无权查看合规规则"
        )


@dataclass
class ReportRow:
    team: str
    verifier: str
    blocked: Counter[str] = field(default_factory=Counter)
    warned: Counter[str] = field(default_factory=Counter)
    overrides: list[str] = field(default_factory=list)
    contacts: int = 0
    quiet_hour_contacts: int = 0
    quality: Tally = field(default_factory=Tally)  # visits sampled, reviewed, failed items


@dataclass
class ComplianceReport:
    start: date
    end: date  # inclusive
    rows: list[ReportRow]
    holds: list[CaseHold]


class _Rows:
    """The report's rows by verifier name, each under the verifier's team."""

    def __init__(self, session: Session) -> None:
        self.names = repo.user_names(session)
        self.teams = repo.team_of_users(session)
        self.by_user: dict[str, ReportRow] = {}

    def of(self, user_id: int | None, username: str | None = None) -> ReportRow:
        name = username or (self.names.get(user_id, "system") if user_id else "system")
        if name not in self.by_user:
            team = self.teams.get(user_id, "—") if user_id else "—"
            self.by_user[name] = ReportRow(team, name)
        return self.by_user[name]


def compliance_report(
    session: Session,
    actor: Actor,
    start: date,
    end: date,
    *,
    pack: Pack,
    sample: Sample | None = None,
) -> ComplianceReport:
    """Per team and verifier over [start, end] (business days in the pack's zone): actions
    blocked and warned by rule, overrides with reasons, performed contacts and those in
    quiet hours (should be none), the quality review of the `sample` of visits, and the
    holds active in the period."""
    require_reader(actor)
    if end < start:
        raise InvalidValue("the period ends before it starts", message_zh="报告期结束早于开始")
    zone = pack.default_zone
    t0 = datetime.combine(start, time.min, tzinfo=zone).astimezone(UTC)
    t1 = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    rows = _Rows(session)
    for decision in repo.decisions_between(session, t0, t1):
        row = rows.of(decision.actor_id, decision.actor)
        for fired in decision.rules:
            counter = row.blocked if decision.outcome == "blocked" else row.warned
            counter[fired["id"]] += 1
        if decision.override_reason:
            row.overrides.append(
                f"{decision.action} {decision.at:%Y-%m-%d %H:%M}: {decision.override_reason}"
            )
    for attempt in repo.attempts_between(session, t0, t1):
        if not attempt.performed:
            continue
        row = rows.of(attempt.actor_id)
        row.contacts += 1
        person_zone = ZoneInfo(attempt.person_zone) if attempt.person_zone else zone
        if in_quiet_hours(pack, attempt.attempted_at, person_zone):
            row.quiet_hour_contacts += 1
    figures = tallies(session, sample, t0, t1) if sample is not None else {}
    for user_id, tally in figures.items():
        rows.of(user_id).quality = tally
    ordered = sorted(rows.by_user.values(), key=lambda r: (r.team, r.verifier))
    return ComplianceReport(start, end, ordered, repo.holds_between(session, t0, t1))


def report_csv(report: ComplianceReport) -> str:
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(
        ["period_start", "period_end", "team", "verifier", "kind", "rule", "count", "detail"]
    )
    period = [report.start.isoformat(), report.end.isoformat()]
    for row in report.rows:
        head = [*period, row.team, row.verifier]
        for rule_id, n in sorted(row.blocked.items()):
            writer.writerow([*head, "blocked", rule_id, n, ""])
        for rule_id, n in sorted(row.warned.items()):
            writer.writerow([*head, "warned", rule_id, n, ""])
        for text in row.overrides:
            writer.writerow([*head, "override", "", 1, text])
        writer.writerow([*head, "contacts", "", row.contacts, ""])
        writer.writerow([*head, "quiet_hour_contacts", "", row.quiet_hour_contacts, ""])
        writer.writerow([*head, "quality_sampled", "", row.quality.sampled, ""])
        writer.writerow([*head, "quality_reviewed", "", row.quality.reviewed, ""])
        for item in CHECKLIST:
            if row.quality.failed[item]:
                writer.writerow([*head, "quality_failed", item, row.quality.failed[item], ""])
    for hold in report.holds:
        lifted = f" lifted {hold.lifted_at:%Y-%m-%d} by {hold.lifted_by}" if hold.lifted_at else ""
        detail = f"case {hold.case_id} from {hold.started_at:%Y-%m-%d}{lifted}"
        writer.writerow([*period, "", hold.started_by, "hold", hold.type, 1, detail])
    return out.getvalue()
