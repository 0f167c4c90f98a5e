"""The destination base class: what a vendor module fills in, and nothing the engine owns.

A destination declares its endpoint (`default_base_url`), auth (`Credentials`,
`auth_headers`), limits (`batch_size`, `requests_per_second`, `concurrency`), the consent
category its people must have granted, its fields and default mapping, how one warehouse
row becomes one item (`prepare`: normalization and hashing through destinations.normalize),
how a batch of items becomes one HTTP request (`build_request`), and how the vendor's
answer reads (`parse_response`). The engine owns diffing, batching, retries, splitting,
logging and state, so a vendor module never re-implements them. See destinations/README.md.
Imports httpx, pydantic and destinations.normalize only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, SecretStr

from headwater.redaction import redact

Action = Literal["upsert", "remove"]
Encoding = Literal["json", "form", "ndjson"]


class DestinationSettings(BaseModel):
    """Per-destination (and per-sync) settings; each vendor subclasses it."""

    model_config = ConfigDict(extra="forbid")


class NoCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SkipRow(Exception):
    """This row is never sent (e.g. older than the vendor accepts); logged, not retried."""


class DestinationAuthError(Exception):
    """The vendor refused the credentials: stop the run, nothing more can succeed."""


class CredentialProblem(Exception):
    """`headwater destination test` found a problem; the message says what and how to fix it."""


@dataclass
class HttpRequest:
    """One request as the vendor will see it; `body` is always JSON-shaped for plans."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    encoding: Encoding = "json"
    params: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes | None:
        if self.body is None:
            return None
        if self.encoding == "json":
            return orjson.dumps(self.body)
        if self.encoding == "ndjson":
            return b"\n".join(orjson.dumps(item) for item in self.body) + b"\n"
        from urllib.parse import urlencode

        return urlencode({k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in self.body.items()}).encode()

    def content_type(self) -> str | None:
        return {"json": "application/json", "ndjson": "application/x-ndjson",
                "form": "application/x-www-form-urlencoded"}[self.encoding] if self.body is not None else None


@dataclass
class Batch:
    """Items of one action, in row order; `keys[i]` is the warehouse row key of `items[i]`."""

    action: Action
    keys: list[str]
    items: list[dict[str, Any]]
    fingerprints: list[str]
    sequence: int = 0
    last: bool = False          # the final batch of this action in this run

    def __len__(self) -> int:
        return len(self.keys)

    def split(self) -> tuple["Batch", "Batch"]:
        middle = len(self) // 2
        return (Batch(self.action, self.keys[:middle], self.items[:middle], self.fingerprints[:middle], self.sequence),
                Batch(self.action, self.keys[middle:], self.items[middle:], self.fingerprints[middle:], self.sequence,
                      self.last))

    def only(self, indexes: list[int]) -> "Batch":
        return Batch(self.action, [self.keys[i] for i in indexes], [self.items[i] for i in indexes],
                     [self.fingerprints[i] for i in indexes], self.sequence, self.last)


@dataclass
class Outcome:
    """How the vendor answered one request.

    kind: `ok` (every item accepted except `row_errors`), `retry` (throttled or a transient
    failure; `retry_after` seconds if the vendor said), `reject` (the vendor refused the
    batch as a whole: the engine splits it to find the bad rows), `rows` (the vendor named
    bad rows in `row_errors` and refused the rest too: the engine resends the rest),
    `fatal` (credentials or permissions: stop the run).
    """

    kind: Literal["ok", "retry", "reject", "rows", "fatal"]
    code: str = ""
    message: str = ""
    retry_after: float | None = None
    row_errors: dict[int, tuple[str, str]] = field(default_factory=dict)


@dataclass
class RunContext:
    """What a request builder may need beyond its batch."""

    sync_name: str
    run_id: str
    source: str = ""             # "audience vip" or "model cdp.conversions"
    total_rows: int = 0          # rows in the sync's source now (audience size)
    planned: dict[str, int] = field(default_factory=dict)  # action -> rows planned this run
    settings: dict[str, Any] = field(default_factory=dict)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The response body when it is a JSON object, else None: vendors' error bodies are
    sometimes an HTML page from a proxy, empty, or JSON of another shape, and reading one must
    never raise while a sync is deciding whether to retry."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def id_subjects(people: dict[str, list[str]], key: str, size: int) -> list[dict[str, list[str]]]:
    """The person's profile and user ids, deduplicated and sorted, as deletion subjects of at most
    `size` ids under `key`: for vendors whose deletion API takes a list of ids (Mixpanel, Amplitude)."""
    ids = sorted({str(v) for field_name in ("profile_ids", "user_ids") for v in people.get(field_name) or [] if v})
    return [{key: ids[i:i + size]} for i in range(0, len(ids), size)]


class Destination:
    """Subclass per destination type; class attributes declare, methods translate."""

    type_name: ClassVar[str]
    vendor: ClassVar[str]                            # the normalization rule set (normalize.VENDOR_RULES)
    consent_category: ClassVar[str] = "none"         # email | advertising | analytics | sms | none
    default_base_url: ClassVar[str]
    batch_size: ClassVar[int] = 100
    requests_per_second: ClassVar[float] = 10.0
    concurrency: ClassVar[int] = 4
    supports_remove: ClassVar[bool] = False
    # every mapped field is a match key (audiences): a changed row first removes the version
    # delivered before, or a person whose email changed would stay in the audience twice
    replace_on_change: ClassVar[bool] = False
    supports_deletion: ClassVar[bool] = False        # has a delete-person API: implement deletion_request
    # destination field -> the source column it reads by default (a user's mapping overrides)
    default_mapping: ClassVar[dict[str, str]] = {}
    required_fields: ClassVar[tuple[str, ...]] = ()
    # at least one of these must be mapped and present (matching needs an identifier)
    identifier_fields: ClassVar[tuple[str, ...]] = ()
    emulator: ClassVar[str] = ""                     # "module:factory" of its local emulator
    open_mapping: ClassVar[bool] = False             # any field may be mapped (webhook, slack)
    # the Segment message types an event stream may send here (destinations.streams); empty: none
    stream_types: ClassVar[frozenset[str]] = frozenset()

    Settings: ClassVar[type[BaseModel]] = DestinationSettings
    Credentials: ClassVar[type[BaseModel]] = NoCredentials

    def __init__(self, name: str, base_url: str | None, credentials: dict[str, SecretStr],
                 settings: dict[str, Any], sync_settings: dict[str, Any] | None = None):
        self.name = name
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.credentials = self.Credentials.model_validate(
            {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in credentials.items()})
        self.settings = self.Settings.model_validate({**settings, **(sync_settings or {})})
        self._runtime_secrets: list[str] = []

    # --- secrets --------------------------------------------------------------------------
    def secrets(self) -> list[str]:
        """Every secret value this destination holds, for redaction from plans, logs and errors."""
        values = [v.get_secret_value() for v in self.credentials.__dict__.values() if isinstance(v, SecretStr)]
        values += [str(v) for k, v in self.credentials.__dict__.items() if not isinstance(v, SecretStr) and v and
                   ("secret" in k or "token" in k or "key" in k)]
        return [v for v in values + self._runtime_secrets if v and len(v) >= 4]

    def add_runtime_secret(self, value: str) -> None:
        self._runtime_secrets.append(value)

    def redact(self, text: str) -> str:
        """Secrets out of text in every form they are sent in (headwater.redaction)."""
        return redact(text, self.secrets())

    # --- what each vendor fills in ------------------------------------------------------------
    async def authorize(self, client: httpx.AsyncClient) -> None:
        """Fetch short-lived credentials (OAuth access tokens) once per run; most need nothing."""

    def auth_headers(self) -> dict[str, str]:
        return {}

    def send_headers(self, content: bytes | None, wall: float) -> dict[str, str]:
        """Headers computed as each attempt is sent (a signature over a timestamp): a retry
        delayed by Retry-After must not arrive with a stale stamp. `wall` is Unix time."""
        return {}

    def prepare(self, row: dict[str, Any], action: Action) -> dict[str, Any]:
        """One source row (destination field -> value) as the vendor's item; raise SkipRow to skip."""
        raise NotImplementedError

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest | None:
        """The batch's request; None when a lookup showed the vendor has nothing to change."""
        raise NotImplementedError

    def action_batch_size(self, action: Action) -> int:
        """The most items one request of this action may carry; `batch_size` unless the vendor's
        endpoints differ (Klaviyo imports 10,000 profiles a job but looks up 100 a page)."""
        return self.batch_size

    def lookup_request(self, batch: Batch, context: RunContext) -> HttpRequest | None:
        """A read the batch's request depends on, sent first with the same retries; None for most.

        Why: a few vendors address members only by their own ids (Klaviyo removes list members by
        profile id), so the ids are looked up by our identifiers just before the write.
        """
        return None

    def apply_lookup(self, batch: Batch, response: httpx.Response) -> None:
        """Fold the lookup's answer into `batch.items` before `build_request`."""

    def deletion_request(self, people: dict[str, list[str]], context: RunContext) -> HttpRequest:
        """The vendor's data-deletion call for one person ({"user_ids": [...], "anonymous_ids": [...],
        "emails": [...]}), when `supports_deletion`; see destinations.deletion."""
        raise NotImplementedError

    def deletion_subjects(self, people: dict[str, list[str]]) -> list[dict[str, list[str]]]:
        """The person split into one item per deletion call; each becomes one `deletion_request`.

        Why: some vendors delete by exactly one identifier a call (Klaviyo, Mailchimp), others
        take a list (Mixpanel, Amplitude). An empty list means the vendor holds nothing we could
        name. Raise CredentialProblem when a credential the deletion needs is not configured.
        """
        return [people]

    def deletion_credential(self, name: str, why: str) -> str:
        """The secret `credentials.<name>` a deletion needs, or CredentialProblem saying what it is
        (`why`: "<Vendor> deletes people only with <what, and where to find it>") and how to retry."""
        value = getattr(self.credentials, name, None)
        if value is None:
            raise CredentialProblem(
                f"destination {self.name}: credentials.{name} is not set; {why}. Add it (e.g. "
                f"${{{self.vendor.upper()}_{name.upper()}}}), then run `headwater privacy retry REQUEST_ID`")
        return value.get_secret_value()

    def deletion_lookup_request(self, batch: Batch, context: RunContext) -> HttpRequest | None:
        """A read sent before each deletion call, with the same retries; its failure fails the call.
        Mailchimp checks the list exists, so a 404 from the delete can safely mean "no such member"."""
        return None

    def deletion_auth_headers(self) -> dict[str, str]:
        """Auth for deletion calls; vendors whose privacy API takes another credential override it
        (Mixpanel's GDPR OAuth token, Amplitude's api_key:secret_key)."""
        return self.auth_headers()

    def parse_deletion_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        """How the vendor answered a deletion call; override when "not found" means "already gone"."""
        return self.parse_response(response, batch)

    def stream_item(self, view: Any) -> dict[str, Any]:
        """One streamed event (a destinations.streams.events.EventView) as the vendor's item, in
        the vendor's own model of that message type; raise SkipRow for events it must not get."""
        raise NotImplementedError(f"{self.type_name} does not take event streams")

    def stream_batch_size(self) -> int:
        """Events per streamed request: the vendor's batch size unless its stream differs."""
        return self.action_batch_size("upsert")

    def stream_request(self, batch: Batch, context: RunContext) -> HttpRequest | None:
        """The request for a batch of streamed items; the sync request unless the vendor's
        stream differs (Slack posts one message per event, not a summary)."""
        return self.build_request(batch, context)

    def idempotency_key(self, item: dict[str, Any]) -> str | None:
        """The vendor's dedup key inside an item, stable across retries (event_id, order_id)."""
        return None

    def describe_error(self, response: httpx.Response) -> tuple[str, str]:
        """(vendor error code, message) from an error body."""
        return str(response.status_code), response.text[:300]

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        status = response.status_code
        if status < 300:
            return Outcome("ok")
        code, message = self.describe_error(response)
        if status == 429:
            return Outcome("retry", code, message, retry_after(response))
        if status >= 500:
            return Outcome("retry", code, message, retry_after(response))
        if status in (401, 403):
            return Outcome("fatal", code, message)
        return Outcome("reject", code, message)

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        """A harmless call proving the credentials work; returns what was checked."""
        raise CredentialProblem(f"{self.type_name} has no credential check")

    def summary(self) -> str:
        return f"{self.name} ({self.type_name}) at {self.base_url}"
