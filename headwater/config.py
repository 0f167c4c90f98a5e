"""One configuration file, `headwater.yml`, validated by pydantic.

The file lives in the working directory (or at `$HEADWATER_CONFIG`). Secrets stay out of
it: any string may reference `${ENV_VAR}` (or `${ENV_VAR:-default}`), substituted after
YAML parsing so a secret can never change the file's structure. `HEADWATER_WAREHOUSE`
overrides `warehouse`.

The top-level sections are fixed here for every feature; each feature owns its section's
model. Every setting has a default that works for the embedded demo, so a missing file
is a valid configuration.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from headwater.suppression import DEFAULT_SUPPRESSION_FILE
from headwater.unique_names import check_unique_names

# Each feature owns its section's schema; the kernel imports them (and only them) so the whole
# file is validated on load. See headwater/__init__.py.
from models.config import IdentityConfig  # the identity section is owned by models/
from models.profiles.config import TraitsConfig  # the traits section is owned by models/profiles
from models.audiences.config import AudiencesConfig  # owned by models/audiences
from models.conversions.config import ConversionsConfig  # owned by models/conversions
from destinations.config import DestinationConfig, SyncConfig, check_sync_references  # owned by destinations/
from sources.tracking_plan.config import TrackingPlanConfig  # owned by sources/tracking_plan
from destinations.streams.config import StreamConfig, WorkflowConfig, check_stream_references  # owned by destinations/streams

CONFIG_ENV = "HEADWATER_CONFIG"
WAREHOUSE_ENV = "HEADWATER_WAREHOUSE"
DEFAULT_CONFIG_FILE = "headwater.yml"
DEFAULT_WAREHOUSE = "duckdb:///data/warehouse.duckdb"

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
Named = TypeVar("Named")  # a config entry with a `name`: a source, destination or sync


class ConfigError(Exception):
    """A configuration problem, phrased for the person editing the file."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _OpenSection(BaseModel):
    """A section whose shape a later feature fixes; until then any keys are kept."""

    model_config = ConfigDict(extra="allow")


class CollectConfig(_Section):
    spool_dir: Path = Path("data/spool")
    host: str = "127.0.0.1"
    port: int = 8088
    workers: int = Field(1, ge=1, description="server processes, each with its own spool file")
    max_message_bytes: int = 32 * 1024
    max_batch_bytes: int = 500 * 1024
    max_batch_messages: int = 2500
    rotate_bytes: int = Field(64 * 1024 * 1024, description="close a spool file at this size")
    rotate_seconds: float = Field(60.0, description="close a spool file at this age")
    archive: bool = Field(False, description="keep loaded spool files under archive/ instead of deleting")


class _SourceBase(_Section):
    name: str = Field(description="the warehouse schema this source loads into")

    @field_validator("name")
    @classmethod
    def _schema_name(cls, value: str) -> str:
        if not _SCHEMA_NAME.match(value):
            raise ValueError(
                "must be a lowercase warehouse schema name: a letter, then letters, digits or '_'"
            )
        return value


class EventsSourceConfig(_SourceBase):
    """A Tracking API source: apps send Segment-spec calls with its write key."""

    type: Literal["events"]
    write_key: SecretStr


class ShopifySourceConfig(_SourceBase):
    type: Literal["shopify"]
    shop: str = "headwater-demo"
    access_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    base_url: str | None = None
    api_version: str = "2025-10"
    start_date: str | None = None
    backfill: Literal["auto", "bulk", "pages"] = Field(
        "auto", description="first load: a bulk operation, paged queries, or bulk above bulk_threshold records"
    )
    bulk_threshold: int = Field(10_000, ge=0, description="auto backfill uses a bulk operation above this many records")


class StripeSourceConfig(_SourceBase):
    type: Literal["stripe"]
    api_key: SecretStr | None = None
    webhook_secrets: list[SecretStr] = Field(default_factory=list)
    base_url: str = "https://api.stripe.com"
    stripe_version: str = "2025-09-30.clover"
    start_date: str | None = None


class MailchimpSourceConfig(_SourceBase):
    type: Literal["mailchimp"]
    api_key: SecretStr | None = None
    base_url: str | None = None


SourceConfig = Annotated[
    Union[EventsSourceConfig, ShopifySourceConfig, StripeSourceConfig, MailchimpSourceConfig],
    Field(discriminator="type"),
]


class PrivacyConfig(_OpenSection):
    """Privacy settings; the privacy feature adds its own keys beside these."""

    suppression_file: Path = Field(
        DEFAULT_SUPPRESSION_FILE,
        description="hashed identifiers whose events the collect endpoint drops (written by the privacy step)")
    admin_token: SecretStr | None = Field(
        None, description="bearer token for POST /v1/regulations (e.g. ${HEADWATER_ADMIN_TOKEN}); unset: route off")
    encryption_key: SecretStr | None = Field(
        None, description="Fernet key keeping identifiers for pending deletion steps (e.g. ${HEADWATER_PRIVACY_KEY})")


class SchedulesConfig(_Section):
    """Dagster schedules, sensors and declarative automation: off for the demo, on in production."""

    enabled: bool = Field(False, description="start schedules, sensors and automation switched on")


class HeadwaterConfig(_Section):
    warehouse: str = DEFAULT_WAREHOUSE
    collect: CollectConfig = Field(default_factory=CollectConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    traits: TraitsConfig = Field(default_factory=TraitsConfig)
    audiences: AudiencesConfig = Field(default_factory=AudiencesConfig)
    conversions: ConversionsConfig = Field(default_factory=ConversionsConfig)
    destinations: list[DestinationConfig] = Field(default_factory=list)
    syncs: list[SyncConfig] = Field(default_factory=list)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    schedules: SchedulesConfig = Field(default_factory=SchedulesConfig)
    tracking_plan: TrackingPlanConfig = Field(default_factory=TrackingPlanConfig)
    streams: list[StreamConfig] = Field(default_factory=list)
    workflows: list[WorkflowConfig] = Field(default_factory=list)

    @field_validator("warehouse")
    @classmethod
    def _known_warehouse(cls, value: str) -> str:
        if not value.startswith(("duckdb://", "postgresql://", "postgres://")):
            raise ValueError(
                "must be a duckdb:///path/file.duckdb or postgresql://user@host:5432/db URL"
            )
        return value

    @model_validator(mode="after")
    def _syncs_name_destinations(self) -> "HeadwaterConfig":
        check_sync_references(self.destinations, self.syncs)
        return self

    @model_validator(mode="after")
    def _streams_name_what_exists(self) -> "HeadwaterConfig":
        check_stream_references(self.streams, self.workflows, [d.name for d in self.destinations],
                                [s.name for s in self.events_sources()], list(self.audiences.active()))
        return self

    @model_validator(mode="after")
    def _plans_name_events_sources(self) -> "HeadwaterConfig":
        events = [source.name for source in self.events_sources()]
        for name in self.tracking_plan.sources:
            if name not in events:
                raise ValueError(f"tracking_plan.sources.{name}: no events source is named {name!r} "
                                 f"(events sources: {', '.join(events) or 'none configured'})")
        return self

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list) -> list:
        check_unique_names((source.name for source in sources), "source", "names are schemas and must be unique")
        return sources

    def events_sources(self) -> list[EventsSourceConfig]:
        return [s for s in self.sources if isinstance(s, EventsSourceConfig)]

    def source(self, name: str):
        return find_named(self.sources, name, "source")


def find_named(entries: Sequence[Named], name: str, kind: str) -> Named:
    """The entry called `name` in the `<kind>s` section (sources, destinations, syncs), or a
    ConfigError naming the section and the names it does hold, so a typo is plain to see."""
    for entry in entries:
        if entry.name == name:
            return entry
    known = ", ".join(entry.name for entry in entries) or "none configured"
    raise ConfigError(f"no {kind} named {name!r} in the {kind}s section (known: {known})")


def _substitute_env(node: Any, path: str) -> Any:
    if isinstance(node, dict):
        return {key: _substitute_env(value, f"{path}.{key}" if path else str(key)) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute_env(value, f"{path}[{index}]") for index, value in enumerate(node)]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None:
            if default is not None:
                return default
            raise ConfigError(
                f"{path}: environment variable {name} is not set; export it or write "
                f"${{{name}:-default}} in the file"
            )
        return value

    return _ENV_REFERENCE.sub(replace, node)


def _describe(error: ValidationError, origin: str, raw: Any) -> str:
    """One line per problem, located as the user wrote it: `sources[0].write_key`.

    pydantic puts a discriminated union's tag in the path (`sources[0].events.name`); that
    tag only repeats the item's `type`, so it is left out.
    """
    lines = [f"{origin} is not valid:"]
    for item in error.errors():
        location, node = "", raw
        for part in item["loc"]:
            if isinstance(node, dict) and isinstance(part, str) and part not in node and node.get("type") == part:
                continue
            location += f"[{part}]" if isinstance(part, int) else (f".{part}" if location else str(part))
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                node = None
        lines.append(f"  {location or '(top level)'}: {item['msg']}")
    return "\n".join(lines)


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))


def parse_config(raw: dict[str, Any] | None, origin: str = DEFAULT_CONFIG_FILE) -> HeadwaterConfig:
    raw = _substitute_env(raw or {}, "")
    if os.environ.get(WAREHOUSE_ENV):
        raw["warehouse"] = os.environ[WAREHOUSE_ENV]
    try:
        return HeadwaterConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, origin, raw)) from None


def load_config(path: Path | str | None = None) -> HeadwaterConfig:
    """Read and validate the configuration; a missing default file means all defaults."""
    explicit = path is not None or CONFIG_ENV in os.environ
    path = Path(path) if path is not None else config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(f"configuration file {path} does not exist")
        return parse_config({}, str(path))
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of sections (warehouse, collect, sources, ...)")
    return parse_config(raw, str(path))
