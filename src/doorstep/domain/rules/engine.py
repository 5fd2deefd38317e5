"""`check(action, context, pack) -> Decision`: every rule of the pack for the action, in
pack order; blocked when a `block` rule fires, warned when only `warn` rules fire."""

from __future__ import annotations

from doorstep.domain.rules.model import (
    CONTEXTS,
    Action,
    Context,
    Decision,
    Fired,
    Outcome,
    Severity,
)
from doorstep.domain.rules.pack import Pack

_ALLOWED = {action: Decision(action, Outcome.ALLOWED) for action in Action}


def check(action: Action, context: Context, pack: Pack) -> Decision:
    """The decision for `action` given its `context` (pure: same input, same answer)."""
    if type(context) is not CONTEXTS[action]:
        raise TypeError(f"{action.value} needs a {CONTEXTS[action].__name__}")
    fired: list[Fired] | None = None
    for rule, predicate in pack.compiled[action]:
        why = predicate(context)
        if why is not None:
            if fired is None:
                fired = []
            fired.append(Fired(rule.id, rule.severity, rule.message_zh, rule.message_en, why))
    if fired is None:
        return _ALLOWED[action]
    blocked = any(f.severity is Severity.BLOCK for f in fired)
    return Decision(action, Outcome.BLOCKED if blocked else Outcome.WARNED, tuple(fired))
