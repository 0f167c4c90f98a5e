"""The `audiences` section of headwater.yml: named audiences as conditions, with shipped defaults.

Why declarative conditions and not SQL: marketers define audiences, and a closed set of
condition kinds (traits, events, other audiences, all/any/not) can be checked here, with
errors naming the audience and field, and compiled safely (no SQL typed by a user ever runs).

    audiences:
      - name: big_spenders
        where:
          all:
            - {trait: lifetime_revenue, op: ">=", value: 500}
            - {event: Order Completed, at_least: 2, within_days: 90, where: [{property: currency, value: USD}]}
            - {not: {audience: lapsed_customers}}
      - {name: high_value, enabled: false}          # switch a shipped default off

The shipped defaults (purchasers, cart_abandoners, lapsed_customers, high_value,
newsletter_subscribers) are always present unless an entry of the same name replaces or
disables them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic_core import PydanticUndefined
from pydantic import (BaseModel, ConfigDict, Discriminator, Field, RootModel, Tag, ValidationError,
                      field_validator, model_validator)

from headwater.conditions import Comparison, Operator, PropertyFilter, Scalar  # noqa: F401 - the shared language

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TraitCondition(Comparison):
    """A column of cdp.profiles (a trait or computed trait) compared with a value."""

    trait: str

    @field_validator("trait")
    @classmethod
    def _column_name(cls, value: str) -> str:
        if not _COLUMN.match(value):
            raise ValueError(f"{value!r} is not a column name of cdp.profiles (letters, digits and '_')")
        return value


class FollowedBy(_Strict):
    event: str = Field(min_length=1)
    within_hours: float = Field(gt=0)


class EventCondition(_Strict):
    """Did (or did not) do `event`, at least N times, within the last D days, with property filters."""

    event: str = Field(min_length=1, description="the event name as sent, e.g. Checkout Started")
    did: bool = Field(True, description="false: the person did NOT do it (under the same filters)")
    at_least: int = Field(1, ge=1)
    within_days: float | None = Field(None, gt=0, description="only events in the last D days before the build")
    where: list[PropertyFilter] = Field(default_factory=list)
    not_followed_by: FollowedBy | None = Field(
        None, description="only events not followed by this event within the hours (cart abandonment)")


class AudienceCondition(_Strict):
    """Member of another audience."""

    audience: str


class AllCondition(_Strict):
    all: list["Condition"] = Field(min_length=1)


class AnyCondition(_Strict):
    any: list["Condition"] = Field(min_length=1)


class NotCondition(_Strict):
    not_: "Condition" = Field(alias="not")


_KINDS = ("trait", "event", "audience", "all", "any", "not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        found = [kind for kind in _KINDS if kind in value]
        return found[0] if len(found) == 1 else None
    for kind, model in (("trait", TraitCondition), ("event", EventCondition), ("audience", AudienceCondition),
                        ("all", AllCondition), ("any", AnyCondition), ("not", NotCondition)):
        if isinstance(value, model):
            return kind
    return None


Condition = Annotated[
    Union[Annotated[TraitCondition, Tag("trait")], Annotated[EventCondition, Tag("event")],
          Annotated[AudienceCondition, Tag("audience")], Annotated[AllCondition, Tag("all")],
          Annotated[AnyCondition, Tag("any")], Annotated[NotCondition, Tag("not")]],
    Discriminator(_condition_kind, custom_error_type="condition_kind",
                  custom_error_message="a condition needs exactly one of the keys trait, event, audience, all, any, not"),
]
for _model in (AllCondition, AnyCondition, NotCondition):
    _model.model_rebuild()


class AudienceDefinition(_Strict):
    name: str
    description: str = ""
    enabled: bool = True
    where: Condition | None = None

    @field_validator("name")
    @classmethod
    def _audience_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} is not a valid audience name: lowercase letters, digits and '_'")
        return value

    @model_validator(mode="after")
    def _needs_conditions(self):
        if self.enabled and self.where is None:
            raise ValueError("an enabled audience needs `where:` conditions (or enabled: false to switch it off)")
        return self


def default_audiences() -> list[AudienceDefinition]:
    raw = [
        {"name": "purchasers", "description": "bought at least once",
         "where": {"event": "Order Completed"}},
        {"name": "cart_abandoners", "description": "started a checkout in the last 30 days and did not order within 24 h",
         "where": {"event": "Checkout Started", "within_days": 30,
                   "not_followed_by": {"event": "Order Completed", "within_hours": 24}}},
        {"name": "lapsed_customers", "description": "bought before, but not in the last 180 days",
         "where": {"all": [{"audience": "purchasers"},
                           {"event": "Order Completed", "did": False, "within_days": 180}]}},
        {"name": "high_value", "description": "RFM Champions",
         "where": {"trait": "rfm_segment", "value": "Champions"}},
        {"name": "newsletter_subscribers", "description": "granted email marketing consent",
         "where": {"trait": "consent_email", "value": True}},
    ]
    return [AudienceDefinition.model_validate(item) for item in raw]


def referenced_audiences(condition: Any) -> set[str]:
    """The audiences a condition tree names."""
    if isinstance(condition, AudienceCondition):
        return {condition.audience}
    if isinstance(condition, (AllCondition, AnyCondition)):
        children = condition.all if isinstance(condition, AllCondition) else condition.any
        return set().union(*(referenced_audiences(child) for child in children))
    if isinstance(condition, NotCondition):
        return referenced_audiences(condition.not_)
    return set()


def _located(error: ValidationError, name: str, index: int) -> list[str]:
    """`audience 'x' (audiences[0]).where.all[1].at_least: ...`, without pydantic's union tags."""
    lines = []
    for item in error.errors():
        where, previous = "", None
        for part in item["loc"]:
            in_condition_slot = previous in ("where", "not") or isinstance(previous, int)
            if not (part in _KINDS and in_condition_slot and previous != part):
                where += f"[{part}]" if isinstance(part, int) else f".{part}"
            previous = part
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"audience {name!r} (audiences[{index}]){where}: {message}")
    return lines


class AudiencesConfig(RootModel[list[AudienceDefinition]]):
    """`audiences:` in headwater.yml: a list of definitions over the shipped defaults."""

    root: list[AudienceDefinition] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _definitions(cls, raw: Any) -> Any:
        """Validate entry by entry so every error names its audience, not only its index."""
        if raw is None or raw is PydanticUndefined:
            return []
        if not isinstance(raw, list):
            raise ValueError("audiences must be a list of {name, where} entries")
        problems: list[str] = []
        parsed: list[AudienceDefinition] = []
        for index, item in enumerate(raw):
            if isinstance(item, AudienceDefinition):
                parsed.append(item)
                continue
            name = item.get("name", f"#{index}") if isinstance(item, dict) else f"#{index}"
            try:
                parsed.append(AudienceDefinition.model_validate(item))
            except ValidationError as error:
                problems += _located(error, str(name), index)
        if problems:
            raise ValueError("; ".join(problems))
        return parsed

    @model_validator(mode="after")
    def _consistent(self) -> "AudiencesConfig":
        names = [definition.name for definition in self.root]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"audience {twice[0]!r} is defined twice; names must be unique")
        active = self.active()
        for name, definition in active.items():
            missing = sorted(referenced_audiences(definition.where) - set(active))
            if missing:
                raise ValueError(f"audience {name!r}: where names audience {missing[0]!r}, which is not defined "
                                 f"or is disabled; known: {', '.join(sorted(active))}")
        self._check_cycles(active)
        return self

    @staticmethod
    def _check_cycles(active: dict[str, AudienceDefinition]) -> None:
        def visit(name: str, path: list[str]) -> None:
            if name in path:
                cycle = " -> ".join(path[path.index(name):] + [name])
                raise ValueError(f"audience {path[0]!r}: audiences refer to each other in a cycle: {cycle}")
            for child in sorted(referenced_audiences(active[name].where)):
                visit(child, path + [name])

        for name in active:
            visit(name, [])

    def active(self) -> dict[str, AudienceDefinition]:
        """Every enabled audience: the defaults, replaced or disabled by entries of the same name."""
        merged = {definition.name: definition for definition in default_audiences()}
        merged.update({definition.name: definition for definition in self.root})
        return {name: definition for name, definition in merged.items() if definition.enabled}
