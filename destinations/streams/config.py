"""The `streams` and `workflows` sections of headwater.yml.

A stream forwards every event that passes its filter, as it arrives, to one destination:

    streams:
      - name: product_analytics
        sources: [website]                 # events sources (schemas); default: every one
        destination: mixpanel              # a destination of the destinations section
        filter:
          types: [track, page]
          events: [Order Completed, Product Viewed]     # track names; empty: every event
          where: [{property: revenue, op: ">", value: 0}]
        drop: [{property: test, value: true}]         # Segment's "drop" filter
        sample: 0.5                        # keep half, chosen by messageId (stable on replay)
        drop_properties: [card_last4]      # or allow_properties: [...]
        mapping: {email: traits.contact}   # event field -> path in the message
        transform: my_package.streams:clean            # event in; event, list or None out
        settings: {text: "{event} by {user_id}"}       # per-stream destination settings

A workflow is "when X, if Y, (wait W, unless U), then Z":

    workflows:
      - name: big_purchase_alert
        trigger: {event: {events: [Order Completed], where: [{property: revenue, op: ">=", value: 500}]}}
        wait: 1h                           # optional; then `unless` is checked
        unless: {events: [Order Refunded]}
        actions:
          - {destination: alerts, settings: {text: "{email} bought for {revenue} {currency}"}}
          - {destination: newsletter, settings: {tag: vip_buyer}}

Imports pydantic, headwater.conditions and headwater.unique_names only.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from headwater.conditions import PropertyFilter
from headwater.unique_names import check_unique_names

MessageType = Literal["track", "page", "screen", "identify", "group", "alias"]
ConsentCategory = Literal["email", "advertising", "analytics", "sms", "none"]
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("must be lowercase: a letter, then letters, digits or '_'")
    return value


class AllOf(_Strict):
    all: list["EventCondition"] = Field(min_length=1)


class AnyOf(_Strict):
    any: list["EventCondition"] = Field(min_length=1)


class NotOf(_Strict):
    not_: "EventCondition" = Field(alias="not")


def _kind(value: Any) -> str | None:
    if isinstance(value, dict):
        found = [k for k in ("property", "all", "any", "not") if k in value]
        return found[0] if len(found) == 1 else None
    for kind, model in (("property", PropertyFilter), ("all", AllOf), ("any", AnyOf), ("not", NotOf)):
        if isinstance(value, model):
            return kind
    return None


EventCondition = Annotated[
    Union[Annotated[PropertyFilter, Tag("property")], Annotated[AllOf, Tag("all")],
          Annotated[AnyOf, Tag("any")], Annotated[NotOf, Tag("not")]],
    Discriminator(_kind, custom_error_type="condition_kind",
                  custom_error_message="an event condition needs exactly one of the keys property, all, any, not"),
]
for _model in (AllOf, AnyOf, NotOf):
    _model.model_rebuild()


class EventFilter(_Strict):
    """Which events: message types, track event names, and property conditions (all must hold).
    A property is read from `properties` (track, page, screen) or `traits` (identify, group);
    a dotted path from the top of the message (`context.campaign.source`) reads anything."""

    types: list[MessageType] = Field(default_factory=lambda: ["track", "page", "screen", "identify"])
    events: list[str] = Field(default_factory=list, description="track event names; empty: every one")
    where: list[EventCondition] = Field(default_factory=list)


class StreamConfig(_Strict):
    name: str
    sources: list[str] = Field(default_factory=list, description="events sources; empty: every events source")
    destination: str
    filter: EventFilter = Field(default_factory=EventFilter)
    drop: list[EventCondition] = Field(default_factory=list, description="drop events for which any holds")
    sample: float = Field(1.0, gt=0, le=1, description="share of events kept, chosen by messageId")
    allow_properties: list[str] | None = Field(None, description="keep only these properties (and traits)")
    drop_properties: list[str] = Field(default_factory=list)
    mapping: dict[str, str] = Field(default_factory=dict, description="event field -> path in the message")
    consent: ConsentCategory | None = Field(None, description="override the destination's consent category")
    transform: str | None = Field(None, description="module:function; event dict in, dict / list / None out")
    settings: dict[str, Any] = Field(default_factory=dict, description="per-stream destination settings")
    start: Literal["earliest", "latest"] = Field(
        "earliest", description="a new stream starts at the oldest spool file kept, or only at new events")
    enabled: bool = True

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))

    @field_validator("transform")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None and not _TARGET.match(value):
            raise ValueError(f"{value!r} is not module:function (e.g. my_package.streams:clean)")
        return value

    @model_validator(mode="after")
    def _one_property_filter(self) -> "StreamConfig":
        if self.allow_properties is not None and self.drop_properties:
            raise ValueError("give allow_properties or drop_properties, not both")
        return self


def parse_duration(value: str | float | int | None) -> float | None:
    """Seconds from `90s`, `30m`, `1h`, `2d` (or a number of seconds)."""
    if value is None or isinstance(value, (int, float)):
        return None if value is None else float(value)
    found = _DURATION.match(value)
    if not found:
        raise ValueError(f"{value!r} is not a duration: a number and s, m, h or d (e.g. 1h)")
    return float(found.group(1)) * _UNIT_SECONDS[found.group(2)]


class WorkflowTrigger(_Strict):
    """Exactly one of an event filter or an audience change (after a build)."""

    event: EventFilter | None = None
    audience: str | None = None
    on: Literal["entered", "exited"] = "entered"

    @model_validator(mode="after")
    def _one_of(self) -> "WorkflowTrigger":
        if (self.event is None) == (self.audience is None):
            raise ValueError("give exactly one of event (an event filter) or audience (an audience name)")
        return self


class WorkflowAction(_Strict):
    destination: str
    settings: dict[str, Any] = Field(default_factory=dict, description="per-action destination settings")
    consent: ConsentCategory | None = None


class WorkflowConfig(_Strict):
    name: str
    trigger: WorkflowTrigger
    sources: list[str] = Field(default_factory=list, description="events sources; empty: every events source")
    wait: str | float | None = Field(None, description="e.g. 1h: act only after this long, if `unless` did not happen")
    unless: EventFilter | None = Field(None, description="the same person's event that cancels a waiting run")
    actions: list[WorkflowAction] = Field(min_length=1)
    enabled: bool = True

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))

    @field_validator("wait")
    @classmethod
    def _duration(cls, value):
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _unless_needs_wait(self) -> "WorkflowConfig":
        if self.unless is not None and self.wait is None:
            raise ValueError("unless: is checked when the wait ends; give wait: too (e.g. wait: 1h)")
        return self

    @property
    def wait_seconds(self) -> float:
        return parse_duration(self.wait) or 0.0


def check_stream_references(streams: list[StreamConfig], workflows: list[WorkflowConfig],
                            destinations: list[str], events_sources: list[str], audiences: list[str]) -> None:
    """Unique names, and every destination, source and audience named is configured."""
    check_unique_names((s.name for s in streams), "stream")
    check_unique_names((w.name for w in workflows), "workflow")
    for kind, entries in (("stream", streams), ("workflow", workflows)):
        for entry in entries:
            for source in entry.sources:
                if source not in events_sources:
                    raise ValueError(f"{kind} {entry.name!r}: sources: {source!r} is not an events source "
                                     f"(events sources: {', '.join(events_sources) or 'none configured'})")
    for stream in streams:
        if stream.destination not in destinations:
            raise ValueError(f"stream {stream.name!r}: destination {stream.destination!r} is not in the "
                             f"destinations section")
    for workflow in workflows:
        for index, action in enumerate(workflow.actions):
            if action.destination not in destinations:
                raise ValueError(f"workflow {workflow.name!r}: actions[{index}].destination "
                                 f"{action.destination!r} is not in the destinations section")
        if workflow.trigger.audience and workflow.trigger.audience not in audiences:
            raise ValueError(f"workflow {workflow.name!r}: trigger.audience {workflow.trigger.audience!r} is not "
                             f"an audience (known: {', '.join(audiences)})")
