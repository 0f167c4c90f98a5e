"""Checking messages against a plan and applying a source's policies: the hot path.

Why hand-compiled: the collect endpoint checks every event, so each schema is turned
once into tuples of (property, accepted Python types, enum set, compiled pattern) and a
message costs a dict lookup plus one pass over its planned properties. No JSON Schema
engine runs per event; violations are classified by type so each gets its own policy.

Where violations go, for the debugger and the loader: a kept or quarantined message
that broke a recorded rule carries `context.protocols.violations` (as Segment
Protocols does), a list of {violation, property, description, policy}. Descriptions
name types and rules, never the value sent, so no PII rides along.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sources.tracking_plan.config import SourcePlanConfig, TrackingPlanConfig
from sources.tracking_plan.plan import PAYLOAD_OF, EventSchema, TrackingPlan, load_plan

_NUMBER = (int, float)
# the exact classes orjson produces for each JSON Schema type: one set lookup per value
EXACT_CLASSES = {"string": {str}, "number": {int, float}, "integer": {int}, "boolean": {bool},
                 "object": {dict}, "array": {list}, "null": {type(None)}}
JSON_TYPE_OF = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object",
                list: "array", type(None): "null"}
_MISSING = object()


def json_type(value: Any) -> str:
    return JSON_TYPE_OF.get(type(value), type(value).__name__)


def _type_ok(value: Any, types: tuple[str, ...]) -> bool:
    """The full JSON Schema rule, for values the exact-class lookup did not accept."""
    for name in types:
        if name == "number":
            if isinstance(value, _NUMBER) and not isinstance(value, bool):
                return True
        elif name == "integer":
            if (isinstance(value, int) and not isinstance(value, bool)) or \
                    (isinstance(value, float) and value.is_integer()):
                return True
        elif name == "null":
            if value is None:
                return True
        elif isinstance(value, tuple(EXACT_CLASSES[name])) and not (
                isinstance(value, bool) and name != "boolean"):
            return True
    return False


@dataclass(frozen=True)
class PropertyRule:
    name: str
    types: tuple[str, ...]
    enum: frozenset | None
    enum_values: tuple | None   # the enum as written, for messages
    pattern: re.Pattern | None

    @property
    def classes(self) -> frozenset | None:
        if not self.types:
            return None
        return frozenset().union(*(EXACT_CLASSES[name] for name in self.types))

    def problem(self, value: Any) -> str | None:
        """Why `value` breaks the rule (naming rules and types, never the value), or None."""
        if self.types and not _type_ok(value, self.types):
            return f"expected {' or '.join(self.types)}, got {json_type(value)}"
        if self.enum is not None:
            try:
                allowed = value in self.enum
            except TypeError:  # an unhashable value cannot be one of the listed values
                allowed = False
            if not allowed:
                return f"is not one of the allowed values ({', '.join(map(str, self.enum_values))})"
        if self.pattern is not None and isinstance(value, str) and self.pattern.search(value) is None:
            return f"does not match the pattern {self.pattern.pattern!r}"
        return None


class CompiledSchema:
    """One event's schema as tuples: a clean event costs a set lookup per planned property.

    The fast pass only asks "is this value's exact class accepted, is it in the enum, does
    it match"; any doubt goes to PropertyRule.problem, which decides and explains.
    """

    __slots__ = ("required", "rules", "fast", "listed")

    def __init__(self, schema: EventSchema):
        self.required = tuple(schema.required)
        self.rules = tuple(
            PropertyRule(name, tuple(rule.types()),
                         frozenset(_hashable(v) for v in rule.enum) if rule.enum is not None else None,
                         tuple(rule.enum) if rule.enum is not None else None,
                         re.compile(rule.pattern) if rule.pattern is not None else None)
            for name, rule in schema.properties.items() if rule.types() or rule.enum is not None or rule.pattern)
        self.fast = tuple((rule.name, rule.classes, rule.enum, rule.pattern.search if rule.pattern else None, rule)
                          for rule in self.rules)
        self.listed = None if schema.additional_properties else frozenset(schema.properties)

    def check(self, payload: dict, found: list) -> None:
        get = payload.get
        for name in self.required:
            if get(name) is None:
                found.append(("missing_required", name, "is required but missing"))
        for name, classes, enum, search, rule in self.fast:
            value = get(name, _MISSING)
            if value is _MISSING:
                continue
            value_class = value.__class__
            if (classes is not None and value_class not in classes) or \
                    (enum is not None and (value_class is list or value_class is dict or value not in enum)) or \
                    (search is not None and value_class is str and search(value) is None):
                problem = rule.problem(value)
                if problem is not None:
                    found.append(("type_mismatch", name, problem))
        if self.listed is not None and not self.listed.issuperset(payload):
            for name in payload:
                if name not in self.listed:
                    found.append(("unplanned_property", name, "is not in the plan"))


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@dataclass
class Verdict:
    """What the policies decided for one message: keep it (perhaps trimmed) or quarantine it."""

    quarantine: bool
    violations: list[dict]   # the recorded ones (not `allow`), as stored in context.protocols

    def reason(self) -> str:
        return "tracking plan: " + "; ".join(
            f"{v['violation']} {v['property'] or ''}: {v['description']}".replace(" :", ":")
            for v in self.violations if v["policy"] == "quarantine")


class Enforcer:
    """A source's compiled plan plus its policies."""

    def __init__(self, plan: TrackingPlan, policies: SourcePlanConfig):
        self.plan, self.policies = plan, policies
        self.version = plan.version()
        self.track = ({name: CompiledSchema(schema) for name, schema in plan.track.items()}
                      if plan.track is not None else None)
        self.others = {kind: CompiledSchema(getattr(plan, kind)) for kind in PAYLOAD_OF
                       if kind != "track" and getattr(plan, kind) is not None}
        self.policy = {violation: policies.policy(violation) for violation in
                       ("unplanned_event", "missing_required", "type_mismatch", "unplanned_property")}

    def violations(self, message: dict) -> list[tuple[str, str | None, str]]:
        """Every (violation, property, description) the plan finds, whatever the policies."""
        kind = message.get("type")
        found: list = []
        if kind == "track":
            if self.track is None:
                return found
            schema = self.track.get(message.get("event"))
            if schema is None:
                found.append(("unplanned_event", None, f"{message.get('event')!r} is not in the plan"))
                return found
        else:
            schema = self.others.get(kind)
            if schema is None:
                return found
        payload = message.get(PAYLOAD_OF[kind])
        schema.check(payload if isinstance(payload, dict) else {}, found)
        return found

    def apply(self, message: dict) -> Verdict | None:
        """Check one message and act on it; None when nothing is recorded (the common case).

        drop_property removes the property from the message here; a recorded violation
        is written to `context.protocols.violations`.
        """
        found = self.violations(message)
        if not found:
            return None
        recorded, quarantine = [], False
        for violation, name, description in found:
            policy = self.policy[violation]
            if policy == "allow":
                continue
            if policy == "quarantine":
                quarantine = True
            recorded.append({"violation": violation, "property": name, "description": description,
                             "policy": policy})
        if not recorded:
            return None
        if not quarantine:
            payload = message.get(PAYLOAD_OF[message["type"]])
            for entry in recorded:
                if entry["policy"] == "drop_property" and isinstance(payload, dict):
                    payload.pop(entry["property"], None)
        context = message.get("context")
        if not isinstance(context, dict):
            context = message["context"] = {}
        protocols = context.get("protocols")
        if not isinstance(protocols, dict):
            protocols = context["protocols"] = {}
        protocols["violations"] = recorded
        return Verdict(quarantine, recorded)


def recorded_violations(message: Any) -> list[dict]:
    """The violations a message carries in `context.protocols.violations` (empty if none)."""
    if not isinstance(message, dict):
        return []
    context = message.get("context")
    protocols = context.get("protocols") if isinstance(context, dict) else None
    found = protocols.get("violations") if isinstance(protocols, dict) else None
    return [v for v in found if isinstance(v, dict)] if isinstance(found, list) else []


def forget_violations(message: dict) -> None:
    """Remove an earlier check's verdict before checking again (loader, replay)."""
    context = message.get("context")
    protocols = context.get("protocols") if isinstance(context, dict) else None
    if isinstance(protocols, dict):
        protocols.pop("violations", None)
        if not protocols:
            context.pop("protocols")


def enforcers(config: TrackingPlanConfig, source_names: set[str] | None = None) -> dict[str, Enforcer]:
    """Source name -> its Enforcer, loading and compiling each plan file once."""
    plans: dict[str, TrackingPlan] = {}
    found = {}
    for name, entry in config.sources.items():
        if source_names is not None and name not in source_names:
            continue
        key = str(entry.plan)
        if key not in plans:
            plans[key] = load_plan(entry.plan)
        found[name] = Enforcer(plans[key], entry)
    return found


# `rejected_by` of a quarantine row the plan held back: replay re-checks it against the plan
REJECTED_BY_PLAN = "tracking_plan"


def hold_back(plan: Enforcer, messages: list[dict]) -> list[dict]:
    """Apply the plan to enriched messages in place; returns the quarantine items of the ones
    held back (removed from `messages`), in the spool's quarantine-record item shape."""
    held: list[dict] = []
    kept = 0
    for message in messages:
        verdict = plan.apply(message)
        if verdict is not None and verdict.quarantine:
            first = next(v for v in verdict.violations if v["policy"] == "quarantine")
            held.append({"reason": verdict.reason(), "field": first["property"] or first["violation"],
                         "index": None, "rejected_by": REJECTED_BY_PLAN, "raw": message})
            continue
        messages[kept] = message
        kept += 1
    del messages[kept:]
    return held
