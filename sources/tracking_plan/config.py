"""The `tracking_plan` section of headwater.yml: which plan governs each source, and how.

Why per source and per violation type: a website that has always sent tidy events can
quarantine anything off-plan, while a new app is better flagged for a few weeks before
its events are held back. Pydantic schema only: the kernel's config imports this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Policy = Literal["allow", "flag", "quarantine", "drop_property"]

# the kinds of violation a plan can find, each with its own policy
VIOLATION_TYPES = ("unplanned_event", "missing_required", "type_mismatch", "unplanned_property")
# removing the property only fixes a violation that is about one property's value or presence
DROPPABLE = frozenset({"type_mismatch", "unplanned_property"})


class SourcePlanConfig(BaseModel):
    """One source's plan file and its policy per violation type.

    allow: keep the event, record nothing; flag: keep it and record the violation;
    quarantine: hold the whole event in `<source>._quarantine` (replayable once the plan
    or the sender is fixed); drop_property: keep the event without the offending property.
    """

    model_config = ConfigDict(extra="forbid")

    plan: Path = Field(description="the plan file (YAML or JSON), relative to the working directory")
    unplanned_event: Policy = Field("flag", description="a track event the plan does not list")
    missing_required: Policy = Field("flag", description="a required property is missing or null")
    type_mismatch: Policy = Field("flag", description="a property's type, enum or pattern does not match")
    unplanned_property: Policy = Field("allow", description="a property the event's schema does not list "
                                                            "(only when it sets additionalProperties: false)")

    @model_validator(mode="after")
    def _drop_property_where_it_fixes_something(self) -> "SourcePlanConfig":
        for violation in VIOLATION_TYPES:
            if getattr(self, violation) == "drop_property" and violation not in DROPPABLE:
                raise ValueError(f"{violation}: drop_property only applies to "
                                 f"{' and '.join(sorted(DROPPABLE))}; use allow, flag or quarantine")
        return self

    def policy(self, violation: str) -> str:
        return getattr(self, violation)


class TrackingPlanConfig(BaseModel):
    """`tracking_plan: {sources: {website: {plan: plans/website.yml, unplanned_event: quarantine}}}`."""

    model_config = ConfigDict(extra="forbid")

    sources: dict[str, SourcePlanConfig] = Field(
        default_factory=dict, description="events source name -> its plan and policies; unlisted sources are open")
