"""Rule packs as data: a TOML file per jurisdiction shipped in `packs/`, and a deployment's
override file that changes parameters, severities or switches rules off.

Every value of the effective pack records where it came from ("cn.toml" or the override
file's name). A pack that cannot be used raises `PackError` naming the rule and the field,
so a deployment fails at start instead of checking against a broken rule."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from doorstep.domain.errors import PackError
from doorstep.domain.rules.kinds import KINDS, ParamError, Predicate, parse_params
from doorstep.domain.rules.model import Action, Rule, Severity

JURISDICTIONS = ("cn", "us", "uk")
CHECK_TIMES = ("PRE", "REPORT", "DESIGN")
RECORD_KIND = "record"
"""A REPORT or DESIGN rule: its parameters are kept and shown, nothing runs before an
action (e.g. CN-RETENTION's min_years)."""

RULE_KEYS = {
    "id", "kind", "actions", "severity", "check", "source", "message_zh", "message_en",
    "params", "enabled",
}  # fmt: skip
OVERRIDE_KEYS = {"params", "severity", "enabled"}
CAPITALISE_ARREARS = "capitalise_arrears"
"""The parameter (of a record rule) saying whether a repayment plan may add overdue
interest, fees and penalty to its interest-bearing principal; absent: not allowed."""


@dataclass(frozen=True)
class Pack:
    """The effective rules of one jurisdiction, compiled per action."""

    jurisdiction: str
    name: str
    default_zone: ZoneInfo
    rules: tuple[Rule, ...]
    sources: tuple[str, ...]  # the files it was built from, pack first
    compiled: Mapping[Action, tuple[tuple[Rule, Predicate], ...]] = field(repr=False)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def for_action(self, action: Action) -> tuple[Rule, ...]:
        return tuple(rule for rule, _ in self.compiled[action])


def shipped_text(jurisdiction: str) -> str:
    if jurisdiction not in JURISDICTIONS:
        raise PackError(
            "settings", None, "jurisdiction", f"unknown {jurisdiction!r}, known: {JURISDICTIONS}"
        )
    return (resources.files(__package__) / "packs" / f"{jurisdiction}.toml").read_text("utf-8")


def _toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PackError(origin, None, "toml", str(exc)) from None


def _get(raw: Mapping[str, Any], key: str, origin: str, rule: str | None, kind: type) -> Any:
    if key not in raw:
        raise PackError(origin, rule, key, "missing")
    value = raw[key]
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise PackError(origin, rule, key, f"expected a non-empty {kind.__name__}")
    return value


def load(
    jurisdiction: str = "cn",
    override: tuple[str, str] | None = None,
    *,
    pack_text: str | None = None,
) -> Pack:
    """The effective pack: the shipped `jurisdiction` pack (or `pack_text`), with the
    override file `(origin, text)` applied."""
    origin = f"{jurisdiction}.toml"
    raw = _toml(pack_text if pack_text is not None else shipped_text(jurisdiction), origin)
    if raw.get("jurisdiction") != jurisdiction:
        raise PackError(origin, None, "jurisdiction", f"expected {jurisdiction!r}")
    name = _get(raw, "name", origin, None, str)
    zone_name = _get(raw, "default_zone", origin, None, str)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PackError(origin, None, "default_zone", f"unknown time zone {zone_name!r}") from None
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise PackError(origin, None, "rules", "expected at least one [[rules]] table")

    changes: dict[str, dict[str, Any]] = {}
    override_origin = ""
    if override is not None:
        override_origin, text = override
        changes = _override(_toml(text, override_origin), override_origin, jurisdiction)

    rules: list[Rule] = []
    compiled: dict[Action, list[tuple[Rule, Predicate]]] = {a: [] for a in Action}
    seen: set[str] = set()
    for n, item in enumerate(rules_raw):
        if not isinstance(item, dict):
            raise PackError(origin, f"#{n + 1}", "rules", "expected a table")
        rule_id = _get(item, "id", origin, f"#{n + 1}", str)
        if rule_id in seen:
            raise PackError(origin, rule_id, "id", "appears twice")
        seen.add(rule_id)
        rule, predicates = _rule(item, rule_id, origin, changes.pop(rule_id, {}), override_origin)
        rules.append(rule)
        for action, predicate in predicates:
            compiled[action].append((rule, predicate))
    if changes:
        unknown = sorted(changes)[0]
        raise PackError(override_origin, unknown, "id", f"no such rule in {origin}")
    _flag(rules, CAPITALISE_ARREARS)  # a wrong value stops the start, not the first plan
    return Pack(
        jurisdiction,
        name,
        zone,
        tuple(rules),
        (origin, override_origin) if override_origin else (origin,),
        MappingProxyType({a: tuple(v) for a, v in compiled.items()}),
    )


def _flag(rules: list[Rule] | tuple[Rule, ...], name: str) -> bool:
    """The true/false parameter `name` of the first enabled rule that has it; False when
    no rule has it."""
    for rule in rules:
        if rule.enabled and name in rule.params:
            value = rule.params[name]
            if not isinstance(value, bool):
                origin = rule.origins.get(name, "")
                raise PackError(origin, rule.id, f"params.{name}", "expected true or false")
            return value
    return False


def capitalisation_allowed(pack: Pack) -> bool:
    """Whether the jurisdiction lets a repayment plan lend arrears again at interest."""
    return _flag(pack.rules, CAPITALISE_ARREARS)


def _override(raw: dict[str, Any], origin: str, jurisdiction: str) -> dict[str, dict[str, Any]]:
    stated = raw.pop("jurisdiction", jurisdiction)
    if stated != jurisdiction:
        raise PackError(
            origin,
            None,
            "jurisdiction",
            f"written for {stated!r}, the deployment uses {jurisdiction!r}",
        )
    rules = raw.pop("rules", {})
    if raw:
        raise PackError(origin, None, sorted(raw)[0], "unknown key (expected jurisdiction, rules)")
    if not isinstance(rules, dict):
        raise PackError(origin, None, "rules", "expected [rules.<ID>] tables")
    for rule_id, change in rules.items():
        if not isinstance(change, dict):
            raise PackError(origin, rule_id, "rules", "expected a table")
        extra = sorted(set(change) - OVERRIDE_KEYS)
        if extra:
            raise PackError(
                origin, rule_id, extra[0], "cannot be overridden (params, severity, enabled)"
            )
        if not isinstance(change.get("params", {}), dict):
            raise PackError(origin, rule_id, "params", "expected a table")
    return rules


def _settings(
    item: dict[str, Any], rule_id: str, origin: str, change: dict[str, Any], override_origin: str
) -> tuple[dict[str, Any], Severity, bool, dict[str, str]]:
    """The rule's parameters, severity and switch with the override applied, and where
    each value came from."""
    params_raw = item.get("params", {})
    if not isinstance(params_raw, dict):
        raise PackError(origin, rule_id, "params", "expected a table")
    origins = {key: origin for key in params_raw}
    params = dict(params_raw)
    for key, value in change.get("params", {}).items():
        params[key], origins[key] = value, override_origin
    severity_raw, origins["severity"] = item.get("severity", "block"), origin
    if "severity" in change:
        severity_raw, origins["severity"] = change["severity"], override_origin
    enabled, origins["enabled"] = item.get("enabled", True), origin
    if "enabled" in change:
        enabled, origins["enabled"] = change["enabled"], override_origin
    if not isinstance(enabled, bool):
        raise PackError(origins["enabled"], rule_id, "enabled", "expected true or false")
    try:
        severity = Severity(severity_raw)
    except ValueError:
        raise PackError(
            origins["severity"], rule_id, "severity", "expected block or warn"
        ) from None
    return params, severity, enabled, origins


def _actions(item: dict[str, Any], rule_id: str, origin: str) -> tuple[Action, ...]:
    actions_raw = item.get("actions", [])
    if not isinstance(actions_raw, list):
        raise PackError(origin, rule_id, "actions", "expected a list")
    try:
        return tuple(Action(a) for a in actions_raw)
    except ValueError:
        known = [a.value for a in Action]
        raise PackError(origin, rule_id, "actions", f"known actions: {known}") from None


def _predicates(
    kind_name: str,
    check_time: str,
    actions: tuple[Action, ...],
    params: dict[str, Any],
    origins: dict[str, str],
    where: tuple[str, str],
) -> list[tuple[Action, Predicate]]:
    """The rule compiled for each of its actions (none for a record rule)."""
    origin, rule_id = where
    if kind_name == RECORD_KIND:
        if actions or check_time == "PRE":
            raise PackError(
                origin, rule_id, "kind", "a record rule is REPORT or DESIGN, no actions"
            )
        return []
    kind = KINDS.get(kind_name)
    if kind is None:
        names = ", ".join([*KINDS, RECORD_KIND])
        raise PackError(origin, rule_id, "kind", f"unknown {kind_name!r} (known: {names})")
    if not actions:
        raise PackError(origin, rule_id, "actions", "name at least one action")
    for action in actions:
        if action not in kind.actions:
            raise PackError(origin, rule_id, "actions", f"{kind_name} cannot check {action.value}")
    try:
        parsed = parse_params(kind, params)
        return [(action, kind.compile(parsed, action)) for action in actions]
    except ParamError as exc:
        raise PackError(
            origins.get(exc.field, origin), rule_id, f"params.{exc.field}", exc.problem
        ) from None


def _rule(
    item: dict[str, Any],
    rule_id: str,
    origin: str,
    change: dict[str, Any],
    override_origin: str,
) -> tuple[Rule, list[tuple[Action, Predicate]]]:
    extra = sorted(set(item) - RULE_KEYS)
    if extra:
        raise PackError(origin, rule_id, extra[0], "unknown key")
    kind_name = _get(item, "kind", origin, rule_id, str)
    check_time = item.get("check", "PRE")
    if check_time not in CHECK_TIMES:
        raise PackError(origin, rule_id, "check", f"expected one of {CHECK_TIMES}")
    source = _get(item, "source", origin, rule_id, str)
    message_zh = _get(item, "message_zh", origin, rule_id, str)
    message_en = _get(item, "message_en", origin, rule_id, str)
    params, severity, enabled, origins = _settings(item, rule_id, origin, change, override_origin)
    actions = _actions(item, rule_id, origin)
    predicates = _predicates(kind_name, check_time, actions, params, origins, (origin, rule_id))
    try:
        message_zh.format(**params), message_en.format(**params)
    except (KeyError, IndexError, ValueError) as exc:
        raise PackError(origin, rule_id, "message", f"bad placeholder {exc}") from None
    rule = Rule(
        id=rule_id,
        kind=kind_name,
        actions=actions,
        params=MappingProxyType(params),
        severity=severity,
        source=source,
        message_zh=message_zh.format(**params),
        message_en=message_en.format(**params),
        check=check_time,
        enabled=enabled,
        origins=MappingProxyType(origins),
    )
    return rule, predicates if enabled else []
