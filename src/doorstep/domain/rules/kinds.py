"""The kinds of rule a pack may use: each has its parameters (name, type, default) and a
compiler that turns a rule's parameters into a fast predicate over a context.

A predicate returns None when the rule does not fire, otherwise the facts why (a short
language-neutral text such as "local 22:00 America/New_York in [21:00, 08:00)")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, get_type_hints

from doorstep.domain.rules import model
from doorstep.domain.rules.model import (
    THIRD_PARTIES,
    Action,
    Channel,
    Relation,
)

Predicate = Callable[[Any], str | None]


class ParamError(ValueError):
    """A parameter of a rule that cannot be used; the loader adds the rule and field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


def _hhmm(value: Any) -> int:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise ValueError("expected a time as HH:MM")
    hours, minutes = int(value[:2]), int(value[3:])
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValueError("expected a time between 00:00 and 24:00")
    return hours * 60 + minutes


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a whole number ≥ 0")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValueError('expected a decimal in quotes, e.g. "0.24"')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal") from None
    if not number.is_finite() or number < 0:
        raise ValueError("expected a decimal ≥ 0")
    return number


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return tuple(value)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    return value


PARSERS: dict[str, Callable[[Any], Any]] = {
    "time": _hhmm,
    "int": _int,
    "bool": _bool,
    "decimal": _decimal,
    "strings": _strings,
    "text": _text,
}


@dataclass(frozen=True)
class Param:
    type: str
    default: Any = None  # None: required


@dataclass(frozen=True)
class Kind:
    actions: frozenset[Action]
    params: Mapping[str, Param]
    compile: Callable[[Mapping[str, Any], Action], Predicate]


def _field_types(action: Action) -> dict[str, Any]:
    hints = get_type_hints(model.CONTEXTS[action])
    return {f.name: hints[f.name] for f in fields(model.CONTEXTS[action])}


def context_field(action: Action, name: str, wanted: type) -> None:
    """Refuse a parameter that names a field the action's context lacks or has another type."""
    found = _field_types(action).get(name)
    if found is None:
        raise ParamError("field", f"{action.value} has no fact {name!r}")
    if found is not wanted:
        raise ParamError("field", f"{action.value}.{name} is not a {wanted.__name__}")


# --- quiet hours -------------------------------------------------------------------------


def in_quiet(minute: int, start: int, end: int) -> bool:
    return (minute >= start or minute < end) if start > end else start <= minute < end


def _fmt(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _quiet_hours(p: Mapping[str, Any], action: Action) -> Predicate:
    start, end = p["start"], p["end"]
    span = f"[{_fmt(start)}, {_fmt(end)})"
    agreed_counts = p["agreed_time_overrides"]

    def at_point(ctx: Any) -> str | None:
        if agreed_counts and getattr(ctx, "agreed_time", False):
            return None
        for zone in ctx.zones:
            local = ctx.at.astimezone(zone)
            if in_quiet(local.hour * 60 + local.minute, start, end):
                return f"local {local:%H:%M} {zone.key} in {span}"
        return None

    def window(ctx: Any) -> str | None:
        for zone in ctx.zones:
            first = ctx.window_start.astimezone(zone)
            last = (ctx.window_end - timedelta(microseconds=1)).astimezone(zone)
            a, b = first.hour * 60 + first.minute, last.hour * 60 + last.minute
            if (
                in_quiet(a, start, end)
                or in_quiet(b, start, end)
                or (first.date() != last.date())
                or (start > end and a < start <= b)
                or (start < end and a < start and b >= end)
            ):
                return f"window {first:%H:%M}–{last:%H:%M} {zone.key} meets {span}"
        return None

    return window if action is Action.PLAN_VISIT else at_point


# --- counts, flags, lists ---------------------------------------------------------------


def _limit(p: Mapping[str, Any], action: Action) -> Predicate:
    name, most, this = p["field"], p["max"], 1 if p["includes_this_action"] else 0
    context_field(action, name, int)
    channels = _channels(p, action)

    def check(ctx: Any) -> str | None:
        if channels and ctx.channel not in channels:
            return None
        value = getattr(ctx, name)
        if value + this > most:
            return f"{name}={value}{' + this one' if this else ''} > {most}"
        return None

    return check


def _channels(p: Mapping[str, Any], action: Action) -> frozenset[Channel]:
    if not p["channels"]:
        return frozenset()
    if action is not Action.CONTACT:
        raise ParamError("channels", f"only contact has channels, not {action.value}")
    try:
        return frozenset(Channel(c) for c in p["channels"])
    except ValueError:
        raise ParamError("channels", f"known channels: {[c.value for c in Channel]}") from None


def _relations(p: Mapping[str, Any], action: Action) -> frozenset[Relation]:
    if not p["relations"]:
        return frozenset()
    if action is not Action.CONTACT:
        raise ParamError("relations", f"only contact has relations, not {action.value}")
    try:
        return frozenset(Relation(r) for r in p["relations"])
    except ValueError:
        raise ParamError("relations", f"known relations: {[r.value for r in Relation]}") from None


def _flag(p: Mapping[str, Any], action: Action) -> Predicate:
    name, fires_when, only_if = p["field"], p["fires_when"], p["only_if"]
    context_field(action, name, bool)
    if only_if:
        try:
            context_field(action, only_if, bool)
        except ParamError as exc:
            raise ParamError("only_if", exc.problem) from None
    channels, relations = _channels(p, action), _relations(p, action)

    def check(ctx: Any) -> str | None:
        if channels and ctx.channel not in channels:
            return None
        if relations and ctx.relation not in relations:
            return None
        if only_if and not getattr(ctx, only_if):
            return None
        if getattr(ctx, name) is fires_when:
            return f"{name}={'yes' if fires_when else 'no'}"
        return None

    return check


def _holds(p: Mapping[str, Any], action: Action) -> Predicate:
    types = frozenset(p["types"])

    def check(ctx: Any) -> str | None:
        held = [h for h in ctx.holds if not types or h in types]
        return f"hold {', '.join(held)}" if held else None

    return check


def _seven_in_seven(p: Mapping[str, Any], action: Action) -> Predicate:
    most, days = p["max_calls"], p["days"]

    def check(ctx: Any) -> str | None:
        if ctx.channel is not Channel.CALL or ctx.requested_by_person or ctx.agreed_time:
            return None
        if ctx.calls_last_7_days + 1 > most:
            return f"calls in {days} days={ctx.calls_last_7_days} + this one > {most}"
        talked = ctx.last_conversation_on
        if talked is not None:
            today = ctx.at.astimezone(ctx.zones[0]).date()
            if (today - talked).days < days:
                return f"conversation on {talked}, day {(today - talked).days + 1} of {days}"
        return None

    return check


def _third_party(p: Mapping[str, Any], action: Action) -> Predicate:
    unreachable, preagreed, refusal = (
        p["requires_unreachable"],
        p["requires_preagreed"],
        p["stop_on_refusal"],
    )

    def check(ctx: Any) -> str | None:
        if ctx.relation not in THIRD_PARTIES:
            return None
        if refusal and ctx.contact_refused:
            return "the contact refused further contact"
        if unreachable and not ctx.debtor_unreachable:
            return "the debtor is not logged as unreachable"
        if preagreed and not ctx.contact_preagreed and ctx.relation is not Relation.DEBTOR:
            return "the contact was not agreed in advance"
        return None

    return check


def _team(p: Mapping[str, Any], action: Action) -> Predicate:
    least = p["min"]
    name = "team_size" if action is Action.PLAN_VISIT else "verifiers_checked_in"

    def check(ctx: Any) -> str | None:
        value = getattr(ctx, name)
        return f"{name}={value} < {least}" if value < least else None

    return check


def _visit_gap(p: Mapping[str, Any], action: Action) -> Predicate:
    least = p["min_days"]

    def check(ctx: Any) -> str | None:
        gap = ctx.days_since_last_visit
        return f"last visit {gap} days ago < {least}" if gap is not None and gap < least else None

    return check


def _reveal(p: Mapping[str, Any], action: Action) -> Predicate:
    roles, live, purposes = (
        frozenset(p["roles"]),
        frozenset(p["live_assignment_roles"]),
        (frozenset(p["purposes"])),
    )

    def check(ctx: Any) -> str | None:
        if ctx.role not in roles:
            return f"role {ctx.role} may not see personal data"
        if purposes and ctx.purpose not in purposes:
            return f"purpose {ctx.purpose!r} is not a declared purpose"
        if ctx.role in live and not ctx.assignment_live:
            return "no live assignment to the case"
        return None

    return check


def _reveal_quota(p: Mapping[str, Any], action: Action) -> Predicate:
    """How much one person may reveal: `per_window` reveals in `window_minutes`, and
    `daily_<role>` a day (a role without one: none). The store counts them atomically with
    these same numbers (see `domain.reveal.quota`); the other parameters are read there."""
    window, per_window = p["window_minutes"], p["per_window"]
    if window < 1:
        raise ParamError("window_minutes", "expected at least 1")
    if not 1 <= p["alert_after"] <= per_window:
        raise ParamError("alert_after", "expected between 1 and per_window (alert first)")
    if p["approval_hours"] < 1:
        raise ParamError("approval_hours", "expected at least 1")
    daily = {role: p[f"daily_{role}"] for role in ("admin", "manager", "verifier")}

    def check(ctx: Any) -> str | None:
        if ctx.reveals_in_window > per_window:
            return f"{ctx.reveals_in_window} reveals in {window} minutes > {per_window}"
        ceiling = daily.get(ctx.role, 0)
        if ctx.reveals_today > ceiling:
            return f"{ctx.reveals_today} reveals today > {ceiling} for {ctx.role}"
        return None

    return check


def _apr_cap(p: Mapping[str, Any], action: Action) -> Predicate:
    types, cap, multiple = frozenset(p["lender_types"]), p["cap"], p["lpr_multiple"]
    if (cap is None) == (multiple is None):
        raise ParamError("cap", "give exactly one of cap and lpr_multiple")

    def check(ctx: Any) -> str | None:
        if ctx.lender_type not in types:
            return None
        if multiple is not None:
            if ctx.lpr_1y is None:
                return "the one-year LPR of the contract date is unknown"
            limit = multiple * ctx.lpr_1y
        else:
            limit = cap
        if ctx.apr_simple > limit:
            return f"annualised rate {ctx.apr_simple:.4%} > {limit:.4%}"
        return None

    return check


def _banned_terms(p: Mapping[str, Any], action: Action) -> Predicate:
    banned = frozenset(p["terms"])

    def check(ctx: Any) -> str | None:
        hit = sorted(banned.intersection(ctx.pressure_terms))
        return f"terms {', '.join(hit)}" if hit else None

    return check


def _forbearance(p: Mapping[str, Any], action: Action) -> Predicate:
    least = p["min_options"]

    def check(ctx: Any) -> str | None:
        n = len(ctx.options_considered)
        return f"{n} forbearance option(s) considered < {least}" if n < least else None

    return check


A = Action
_ALL = frozenset(Action)
_FLAGS = {
    "field": Param("text"),
    "fires_when": Param("bool", True),
    "only_if": Param("text", ""),
    "channels": Param("strings", ()),
    "relations": Param("strings", ()),
}
KINDS: dict[str, Kind] = {
    "quiet_hours": Kind(
        frozenset({A.CONTACT, A.PLAN_VISIT, A.CHECK_IN}),
        {
            "start": Param("time"),
            "end": Param("time"),
            "agreed_time_overrides": Param("bool", True),
        },
        _quiet_hours,
    ),
    "limit": Kind(
        _ALL,
        {
            "field": Param("text"),
            "max": Param("int"),
            "includes_this_action": Param("bool", True),
            "channels": Param("strings", ()),
        },
        _limit,
    ),
    "flag": Kind(_ALL, _FLAGS, _flag),
    "holds": Kind(
        frozenset({A.CONTACT, A.PLAN_VISIT, A.CHECK_IN, A.ASSIGN_TO_AGENCY}),
        {"types": Param("strings", ())},
        _holds,
    ),
    "seven_in_seven": Kind(
        frozenset({A.CONTACT}),
        {"max_calls": Param("int", 7), "days": Param("int", 7)},
        _seven_in_seven,
    ),
    "third_party": Kind(
        frozenset({A.CONTACT}),
        {
            "requires_unreachable": Param("bool", True),
            "requires_preagreed": Param("bool", True),
            "stop_on_refusal": Param("bool", True),
        },
        _third_party,
    ),
    "team": Kind(frozenset({A.PLAN_VISIT, A.CHECK_IN}), {"min": Param("int", 2)}, _team),
    "visit_gap": Kind(frozenset({A.PLAN_VISIT}), {"min_days": Param("int")}, _visit_gap),
    "reveal": Kind(
        frozenset({A.REVEAL_PERSONAL_DATA}),
        {
            "roles": Param("strings"),
            "live_assignment_roles": Param("strings", ()),
            "purposes": Param("strings", ()),
        },
        _reveal,
    ),
    "reveal_quota": Kind(
        frozenset({A.REVEAL_PERSONAL_DATA}),
        {
            "window_minutes": Param("int"),
            "per_window": Param("int"),
            "alert_after": Param("int"),
            "daily_admin": Param("int"),
            "daily_manager": Param("int"),
            "daily_verifier": Param("int"),
            "bulk_threshold": Param("int"),
            "approval_hours": Param("int"),
        },
        _reveal_quota,
    ),
    "apr_cap": Kind(
        frozenset({A.OFFER_PLAN}),
        {
            "lender_types": Param("strings"),
            "cap": Param("decimal", ...),
            "lpr_multiple": Param("decimal", ...),
        },
        _apr_cap,
    ),
    "banned_terms": Kind(frozenset({A.OFFER_PLAN}), {"terms": Param("strings")}, _banned_terms),
    "forbearance": Kind(frozenset({A.OFFER_PLAN}), {"min_options": Param("int", 1)}, _forbearance),
}
"""A default of `...` marks an optional parameter without a value (None)."""


def parse_params(kind: Kind, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The typed parameters of a rule, defaults filled in; ParamError names the field."""
    unknown = sorted(set(raw) - set(kind.params))
    if unknown:
        raise ParamError(unknown[0], f"unknown parameter (known: {', '.join(kind.params)})")
    out: dict[str, Any] = {}
    for name, spec in kind.params.items():
        if name not in raw:
            if spec.default is None:
                raise ParamError(name, "missing")
            out[name] = None if spec.default is ... else spec.default
            continue
        try:
            out[name] = PARSERS[spec.type](raw[name])
        except ValueError as exc:
            raise ParamError(name, str(exc)) from None
    return out


def shown(value: Any) -> str:
    """A raw parameter value as the pack page shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)
