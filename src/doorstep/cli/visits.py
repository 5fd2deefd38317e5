"""`doorstep batch alerts` (visits not checked out in time) and `doorstep batch evidence`
(every evidence file still matches its hash and the audit trail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from doorstep.cli.main import batch_app, console, fail, ready_engine, settings
from doorstep.integrations.evidence import LocalEvidenceStore
from doorstep.services.cases.alerts import raise_overdue_checkouts
from doorstep.services.visits import verify_evidence
from doorstep.store.db import transaction


@batch_app.command("alerts")
def batch_alerts() -> None:
    """Raise an alert for each visit still checked in after DOORSTEP_VISIT_CHECKOUT_MINUTES
    (once per visit; the supervisor's /alerts page does the same when opened)."""
    config = settings()
    with transaction(ready_engine(config)) as session:
        raised = raise_overdue_checkouts(
            session, datetime.now(UTC), timedelta(minutes=config.visit_checkout_minutes)
        )
        for alert in raised:
            console.print(f"alert {alert.id}: case {alert.case_id}, team {alert.team_id}")
    console.print(f"{len(raised)} overdue check-out alert(s) raised")


@batch_app.command("evidence")
def batch_evidence() -> None:
    """Check every evidence file under var_dir/evidence: present, still hashing to its name,
    and named in the audit trail of its visit; exit 1 at any problem."""
    config = settings()
    store = LocalEvidenceStore(config.var_dir / "evidence")
    with transaction(ready_engine(config)) as session:
        problems = verify_evidence(session, store)
    for p in problems:
        console.print(f"evidence {p.evidence_id} {p.sha256}: {p.problem}")
    if problems:
        raise fail(f"{len(problems)} evidence problem(s)")
    console.print("every evidence file matches its hash and the audit trail")
