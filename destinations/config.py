"""The `destinations` and `syncs` sections of headwater.yml.

A destination is a named, credentialed instance of one destination type (`meta_conversions`,
`google_customer_match`, `webhook`...); a sync moves one model or audience to one
destination. Each destination type validates its own `settings` and `credentials` (see
`destinations.registry`), so a typo is reported at load time with the key at fault.
Imports only pydantic, destinations.registry and headwater.unique_names (which imports nothing).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from headwater.unique_names import check_unique_names

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$")

ConsentCategory = Literal["email", "advertising", "analytics", "sms", "none"]
SyncMode = Literal["upsert", "mirror", "add_only"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("must be lowercase: a letter, then letters, digits or '_' (it names warehouse tables)")
    return value


class DestinationConfig(_Strict):
    """One destination instance: `type` picks the vendor module, the rest configures it."""

    name: str
    type: str
    base_url: str | None = Field(None, description="override the vendor host: an emulator or a regional host")
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    requests_per_second: float | None = Field(None, gt=0, description="client-side rate limit; default: the vendor's")
    concurrency: int | None = Field(None, ge=1, le=64, description="requests in flight at once")

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))

    @model_validator(mode="after")
    def _known_type(self) -> "DestinationConfig":
        from destinations.registry import DESTINATION_TYPES, destination_class

        if self.type not in DESTINATION_TYPES:
            raise ValueError(f"type {self.type!r} is not a destination type; use one of: {', '.join(sorted(DESTINATION_TYPES))}")
        kind = destination_class(self.type)
        for part, model, values in (("settings", kind.Settings, self.settings),
                                    ("credentials", kind.Credentials, self.credentials)):
            try:
                model.model_validate({k: (v.get_secret_value() if isinstance(v, SecretStr) else v) for k, v in values.items()})
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"{part}.{where}: {first['msg']} (destination type {self.type})") from None
        return self


class SyncSource(_Strict):
    """Exactly one of `model` (a warehouse table, e.g. cdp.conversions) or `audience`."""

    model: str | None = None
    audience: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "SyncSource":
        if (self.model is None) == (self.audience is None):
            raise ValueError("give exactly one of model (e.g. cdp.conversions) or audience (an audience name)")
        if self.model is not None and not _TABLE.match(self.model):
            raise ValueError("model must be a table name like cdp.conversions")
        return self


class SyncConfig(_Strict):
    name: str
    source: SyncSource
    destination: str
    mapping: dict[str, str] = Field(default_factory=dict, description="destination field -> source column")
    mode: SyncMode = "upsert"
    schedule: str | None = Field(None, description="cron expression, e.g. '0 * * * *'")
    consent: ConsentCategory | None = Field(None, description="override the destination's consent category")
    key: str | None = Field(None, description="the source column identifying a row (default: profile_id / conversion_id)")
    settings: dict[str, Any] = Field(default_factory=dict, description="per-sync destination settings (event_name...)")

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))

    @field_validator("mapping")
    @classmethod
    def _columns(cls, mapping: dict[str, str]) -> dict[str, str]:
        for field, column in mapping.items():
            if not _COLUMN.match(str(column)):
                raise ValueError(f"mapping.{field}: {column!r} is not a column name (letters, digits, '_')")
        return mapping


def check_sync_references(destinations: list[DestinationConfig], syncs: list[SyncConfig]) -> None:
    """Names are unique and every sync names a configured destination."""
    names = [d.name for d in destinations]
    check_unique_names(names, "destination")
    check_unique_names((s.name for s in syncs), "sync")
    for sync in syncs:
        if sync.destination not in names:
            raise ValueError(f"sync {sync.name!r}: destination {sync.destination!r} is not in the destinations section")
