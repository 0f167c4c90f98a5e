"""The `identity` section of headwater.yml: how identifiers are normalized and matched.

Why configurable: the guards that keep a CDP from merging strangers (blocked placeholder
values, per-type limits, a component size cap) depend on the business: a shop that lets
families share an email wants a higher email limit than one that does not. The defaults
follow what the big CDPs ship (Segment Unify, RudderStack, Hightouch).
"""

from __future__ import annotations

import re
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Normalization = Literal["email", "phone", "lowercase", "trim", "none"]

# Values that mean "no identifier": matched, case-insensitively, against the trimmed value.
DEFAULT_BLOCKED_VALUES: list[str] = [
    r"^$",
    r"^(null|nil|none|undefined|unknown|anonymous|n/?a|nan|false|true)$",
    r"^-1$",
    r"^[0-]*$",
    r"^(test|email|noemail|no-email|none|null|nobody|fake|asdf|abc|user|example|noreply|no-reply)"
    r"@(test|example|email|noemail|none|null|fake|domain|mail)\.(com|org|net)$",
    r"^\+?1?0{7,}$",
]


class IdTypeRule(BaseModel):
    """How one identifier type is treated; `limit` is the most values one profile may hold."""

    model_config = ConfigDict(extra="forbid")

    normalize: Normalization = "trim"
    limit: int | None = Field(None, ge=1, description="most distinct values of this type per profile")
    blocked_values: list[str] = Field(default_factory=list, description="extra regexes for this type only")

    @field_validator("blocked_values")
    @classmethod
    def _valid_patterns(cls, patterns: list[str]) -> list[str]:
        return [_checked_pattern(p) for p in patterns]


def _default_id_types() -> dict[str, IdTypeRule]:
    return {
        "user_id": IdTypeRule(limit=1),
        "order_id": IdTypeRule(),
        "checkout_id": IdTypeRule(),
        "email": IdTypeRule(normalize="email", limit=5),
        "phone": IdTypeRule(normalize="phone", limit=3),
        "shopify_customer_id": IdTypeRule(limit=3),
        "stripe_customer_id": IdTypeRule(limit=3),
        "mailchimp_member_id": IdTypeRule(limit=5),
        "mailchimp_unique_email_id": IdTypeRule(limit=5),
        "anonymous_id": IdTypeRule(),
    }


# DuckDB matches with RE2 and PostgreSQL with its own engine: neither has lookaround or backreferences
_NOT_PORTABLE = re.compile(r"\(\?<?[=!]|\\[1-9]")


def _checked_pattern(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{pattern!r} is not a valid regular expression ({error}); fix or quote it") from None
    if _NOT_PORTABLE.search(pattern):
        raise ValueError(f"{pattern!r} uses lookaround or a backreference, which the warehouse regex engines "
                         f"(RE2 in DuckDB, PostgreSQL's) do not support; rewrite it without them")
    return pattern


class IdentityConfig(BaseModel):
    """`identity:` in headwater.yml."""

    model_config = ConfigDict(extra="forbid")

    default_country: str = Field("US", description="region assumed for phone numbers without a +country code")
    blocked_values: list[str] = Field(default_factory=lambda: list(DEFAULT_BLOCKED_VALUES),
                                      description="regexes (case-insensitive) of values never used to match")
    id_types: dict[str, IdTypeRule] = Field(default_factory=_default_id_types)
    priority: list[str] = Field(
        default_factory=lambda: ["user_id", "order_id", "checkout_id", "email", "phone", "shopify_customer_id",
                                 "stripe_customer_id", "mailchimp_member_id", "mailchimp_unique_email_id",
                                 "anonymous_id"],
        description="strongest first: when a merge would break a limit, edges of the weaker type are dropped",
    )
    max_component_size: int = Field(1000, ge=2, description="most identifiers one profile may join")
    isolate_shared_identifiers: bool = Field(
        True, description="an identifier whose link broke a limit (a household email, a shared tablet) joins nobody")

    @field_validator("default_country")
    @classmethod
    def _known_region(cls, value: str) -> str:
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a phone region; use a two-letter ISO code such as US, GB or FR")
        return value

    @field_validator("blocked_values")
    @classmethod
    def _valid_patterns(cls, patterns: list[str]) -> list[str]:
        return [_checked_pattern(p) for p in patterns]

    @field_validator("id_types", mode="before")
    @classmethod
    def _over_defaults(cls, id_types: object) -> object:
        """A type named in the file changes only the keys written there (email keeps normalize: email)."""
        if not isinstance(id_types, dict):
            return id_types
        merged: dict[str, object] = {name: rule.model_dump() for name, rule in _default_id_types().items()}
        for name, rule in id_types.items():
            if not isinstance(name, str) or not re.match(r"^[a-z][a-z0-9_]*$", name):
                raise ValueError(f"id type {name!r} must be lowercase letters, digits and '_'")
            base = merged.get(name, {})
            merged[name] = {**base, **rule} if isinstance(rule, dict) and isinstance(base, dict) else rule
        return merged

    @model_validator(mode="after")
    def _complete_priority(self) -> "IdentityConfig":
        repeated = sorted({name for name in self.priority if self.priority.count(name) > 1})
        if repeated:
            raise ValueError(f"priority lists {repeated} more than once; list each id type once, strongest first")
        unknown = [name for name in self.priority if name not in self.id_types]
        if unknown:
            raise ValueError(f"priority names unknown id types {unknown}; add them under id_types or remove them")
        # every type gets a rank: unlisted ones come after the listed, alphabetically
        self.priority = self.priority + sorted(set(self.id_types) - set(self.priority))
        return self

    def rank(self, id_type: str) -> int:
        """1 is the strongest type."""
        return self.priority.index(id_type) + 1
