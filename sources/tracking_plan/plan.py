"""A tracking plan file: the JSON Schema each planned event's properties must follow.

Why a subset of JSON Schema: analysts already write and read it (Segment Protocols,
Amplitude and Avo export it), and the subset below is what a flat event needs: per
property a `type`, an `enum`, a `pattern`; per event the `required` properties and
whether unlisted properties are allowed. Unknown keywords are refused rather than
silently ignored, so a typo (`requried`) can never switch a rule off.

    track:                       # event name -> schema of its `properties`
      Order Completed:
        required: [order_id, revenue]
        properties:
          order_id: {type: string, pattern: "^o-"}
          revenue: {type: number}
          currency: {type: string, enum: [EUR, USD]}
        additionalProperties: true
    identify: {required: [email], properties: {email: {type: string}}}   # schema of `traits`
    page: {properties: {url: {type: string}}}                            # of `properties`
    screen: ...; group: ...                                               # (group: `traits`)

A message type the file leaves out is not governed; once `track` is present, a track
event it does not name is an unplanned event.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from headwater.config import ConfigError, _describe

JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")
# which payload of each message type the plan describes
PAYLOAD_OF = {"track": "properties", "page": "properties", "screen": "properties",
              "identify": "traits", "group": "traits"}


class PlanError(ConfigError):
    """A plan file that cannot be used, phrased for the person editing it."""


class PropertySchema(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Any = None
    enum: list[Any] | None = None
    pattern: str | None = None
    description: str | None = None

    @field_validator("type")
    @classmethod
    def _json_types(cls, value: Any) -> str | list[str] | None:
        names = [value] if isinstance(value, str) else value
        if value is not None and (not isinstance(names, list) or not names
                                  or any(name not in JSON_TYPES for name in names)):
            raise ValueError(f"must be one of {', '.join(JSON_TYPES)}, or a list of them; got {value!r}")
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"is not a valid regular expression: {error}") from None
        return value

    @field_validator("enum")
    @classmethod
    def _not_empty(cls, value: list | None) -> list | None:
        if value is not None and not value:
            raise ValueError("must list at least one allowed value")
        return value

    def types(self) -> list[str]:
        if self.type is None:
            return []
        return [self.type] if isinstance(self.type, str) else list(self.type)


class EventSchema(BaseModel):
    """The schema of one event's properties (or traits): JSON Schema's object keywords."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["object"] = "object"
    description: str | None = None
    properties: dict[str, PropertySchema] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)
    additional_properties: bool = Field(True, alias="additionalProperties")

    @model_validator(mode="after")
    def _required_are_listed(self) -> "EventSchema":
        if not self.additional_properties:
            unknown = [name for name in self.required if name not in self.properties]
            if unknown:
                raise ValueError(f"required lists {', '.join(unknown)}, which properties does not define "
                                 f"and additionalProperties: false forbids")
        return self


class TrackingPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    track: dict[str, EventSchema] | None = None
    identify: EventSchema | None = None
    page: EventSchema | None = None
    screen: EventSchema | None = None
    group: EventSchema | None = None

    def version(self) -> str:
        """A short hash of the rules: the spool records which version checked a batch."""
        text = json.dumps(self.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def dump(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)


def parse_plan(raw: Any, origin: str) -> TrackingPlan:
    if not isinstance(raw, dict):
        raise PlanError(f"{origin} must be a mapping with track, identify, page, screen or group")
    try:
        return TrackingPlan.model_validate(raw)
    except ValidationError as error:
        raise PlanError(_describe(error, f"tracking plan {origin}", raw)) from None


def load_plan(path: Path | str) -> TrackingPlan:
    """Read a plan file (YAML, or JSON, which YAML reads too) with errors naming the field."""
    path = Path(path)
    if not path.exists():
        raise PlanError(f"tracking plan {path} does not exist; write one or run `headwater plan infer`")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PlanError(f"tracking plan {path} is not valid YAML or JSON: {error}") from None
    return parse_plan(raw, str(path))
