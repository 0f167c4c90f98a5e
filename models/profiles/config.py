"""The `traits` section of headwater.yml: how profiles are assembled and which traits analysts add.

Why here: the profiles layer owns these rules, and the kernel's config only points at this
model. Every computed trait is validated here, before any SQL is written: its name becomes a
column of cdp.profile_traits / cdp.profiles and its event and property names end up quoted
in generated SQL, so each must be a plain identifier and a clear error names the trait and
the field at fault.

    traits:
      source_precedence: [app, shopify]   # their trait values win over other sources
      primary_identifier: most_recent     # or first_seen: which email/phone is the primary one
      consent_default: {email: false}     # when no source ever said (unknown = not granted)
      computed:
        - {name: orders_90d, kind: event_counter, event: Order Completed, window_days: 90}
        - name: big_spend_usd
          kind: aggregation
          function: sum
          event: Order Completed
          property: revenue
          where: [{property: currency, op: "=", value: USD}]

A bare list under `traits:` is read as `computed`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from headwater.unique_names import check_unique_names

CONSENT_CATEGORIES = ("analytics", "advertising", "email", "sms")
TraitKind = Literal["event_counter", "aggregation", "first", "last", "most_frequent", "unique_list"]
FilterOp = Literal["=", "!=", ">", ">=", "<", "<=", "in", "not_in", "exists"]
Scalar = str | int | float | bool

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# columns of cdp.profiles that a computed trait may not shadow
BUILT_IN_PROFILE_COLUMNS = frozenset({
    "profile_id", "email", "phone", "first_name", "last_name", "first_seen_at", "last_seen_at",
    *(f"consent_{category}" for category in CONSENT_CATEGORIES),
    "order_count", "lifetime_revenue", "average_order_value", "first_order_at", "last_order_at",
    "days_since_last_order", "rfm_recency", "rfm_frequency", "rfm_monetary", "rfm_segment",
    "favourite_product_category", "email_opens_30d", "email_clicks_30d",
})


def _identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a valid {what}: use lowercase letters, digits and '_' "
                         f"(the warehouse column name, e.g. order_id)")
    return value


class PropertyFilter(BaseModel):
    """`{property: currency, op: "=", value: USD}`; `in`/`not_in` take a list, `exists` no value."""

    model_config = ConfigDict(extra="forbid")

    property: str
    op: FilterOp = "="
    value: Scalar | list[Scalar] | None = None

    @field_validator("property")
    @classmethod
    def _column(cls, value: str) -> str:
        return _identifier(value, "property name")

    @model_validator(mode="after")
    def _value_fits_op(self) -> "PropertyFilter":
        if self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"op {self.op} needs value: a non-empty list")
        elif self.op == "exists":
            if self.value is not None:
                raise ValueError("op exists takes no value")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs value: one string, number or boolean")
        return self


class ComputedTrait(BaseModel):
    """One analyst-defined trait, computed per profile from one event's rows (Segment's kinds)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the column it becomes in cdp.profiles")
    kind: TraitKind
    event: str = Field(description="the event name as sent, e.g. Order Completed")
    property: str | None = Field(None, description="the event property read (not for event_counter)")
    function: Literal["sum", "avg", "min", "max"] | None = Field(None, description="for kind aggregation")
    window_days: int | None = Field(None, ge=1, description="only events of the last N days before the build's as_of")
    where: list[PropertyFilter] = Field(default_factory=list, description="property filters, all must hold")
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        _identifier(value, "trait name")
        if value in BUILT_IN_PROFILE_COLUMNS:
            raise ValueError(f"{value!r} is a built-in column of cdp.profiles; pick another name")
        return value

    @field_validator("event")
    @classmethod
    def _event(cls, value: str) -> str:
        if not value.strip() or len(value) > 200:
            raise ValueError("must be the event name as apps send it, e.g. Order Completed")
        return value

    @field_validator("property")
    @classmethod
    def _property(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value, "property name")

    @field_validator("where", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        """`where: {currency: USD}` means equality on each key."""
        if isinstance(value, dict):
            return [{"property": key, "op": "=", "value": item} for key, item in value.items()]
        return value

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> "ComputedTrait":
        trait = f"trait {self.name!r} ({self.kind})"
        if self.kind == "event_counter":
            if self.property is not None or self.function is not None:
                raise ValueError(f"{trait}: an event_counter counts events; remove property/function")
            return self
        if self.property is None:
            raise ValueError(f"{trait}: property is required (the event property to read)")
        if self.kind == "aggregation" and self.function is None:
            raise ValueError(f"{trait}: function is required: sum, avg, min or max")
        if self.kind != "aggregation" and self.function is not None:
            raise ValueError(f"{trait}: function applies to kind aggregation only; remove it")
        return self


class TraitsConfig(BaseModel):
    """`traits:` in headwater.yml."""

    model_config = ConfigDict(extra="forbid")

    source_precedence: list[str] = Field(
        default_factory=list,
        description="sources whose identify traits win, strongest first; other sources follow, latest value wins")
    primary_identifier: Literal["most_recent", "first_seen"] = Field(
        "most_recent", description="which of a profile's emails/phones is its primary one")
    consent_default: dict[str, bool] = Field(
        default_factory=dict, description="consent when no source ever said; unset categories are not granted")
    computed: list[ComputedTrait] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _list_is_computed(cls, value: object) -> object:
        if value is None:
            return {}
        return {"computed": value} if isinstance(value, list) else value

    @field_validator("consent_default")
    @classmethod
    def _known_categories(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(value) - set(CONSENT_CATEGORIES))
        if unknown:
            raise ValueError(f"unknown consent categories {unknown}; use {', '.join(CONSENT_CATEGORIES)}")
        return value

    @field_validator("computed")
    @classmethod
    def _unique_names(cls, traits: list[ComputedTrait]) -> list[ComputedTrait]:
        check_unique_names((trait.name for trait in traits), "trait", "each becomes one column")
        return traits

    def consent_granted_by_default(self, category: str) -> bool:
        return self.consent_default.get(category, False)
