"""Webhook: POST the diff as JSON to any URL, signed with HMAC-SHA256.

Body: {"sync", "action": "upsert"|"remove", "rows": [{"key", "fields"}]}. Headers:
`X-Headwater-Timestamp`, `X-Headwater-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`
(verify in constant time and reject stale timestamps), and `Idempotency-Key`, a hash of the
batch's rows and their fingerprints, identical on every retry so a receiver can drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from destinations.base import Batch, CredentialProblem, Destination, DestinationSettings, HttpRequest, RunContext

SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-Headwater-Signature", "X-Headwater-Timestamp"


class WebhookCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signing_secret: SecretStr


class WebhookSettings(DestinationSettings):
    path: str = "/"
    batch_size: int = Field(100, ge=1, le=10_000)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class Webhook(Destination):
    type_name = "webhook"
    vendor = "webhook"
    consent_category = "none"   # your own endpoint; set `consent` on the sync when it carries personal data
    default_base_url = ""
    supports_remove = True
    open_mapping = True
    requests_per_second = 20.0
    Credentials = WebhookCredentials
    Settings = WebhookSettings
    emulator = "destinations.emulators.webhook:create_app"

    def __init__(self, *args, clock=time.time, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.base_url:
            raise ValueError("base_url: a webhook needs the receiver's URL, e.g. https://hooks.example.com")
        self.batch_size = self.settings.batch_size
        self.clock = clock

    def prepare(self, row: dict[str, Any], action: str) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in row.items()}

    stream_types = frozenset({"track", "page", "screen", "identify", "group", "alias"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """The whole message as sent (after the stream's filters and transformation)."""
        return {k: _jsonable(v) if not isinstance(v, (dict, list)) else v for k, v in view.message.items()}

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        body = {"sync": context.sync_name, "action": batch.action,
                "rows": [{"key": key, "fields": item} for key, item in zip(batch.keys, batch.items)]}
        idempotency = hashlib.sha256(orjson.dumps([context.sync_name, batch.action, batch.keys, batch.fingerprints])).hexdigest()
        return HttpRequest("POST", self.base_url + self.settings.path, body=body,
                           headers={"Idempotency-Key": idempotency})

    def send_headers(self, content: bytes | None, wall: float) -> dict[str, str]:
        """Signed as sent, each attempt anew: a retry after Retry-After stays inside the
        receiver's tolerance for the timestamp."""
        timestamp = str(int(wall))
        return {TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self.credentials.signing_secret.get_secret_value(), timestamp, content or b"")}

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        body = orjson.dumps({"sync": None, "action": "ping", "rows": []})
        timestamp = str(int(self.clock()))
        response = await client.post(self.base_url + self.settings.path, content=body, headers={
            "Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.credentials.signing_secret.get_secret_value(), timestamp, body)})
        if response.status_code < 300:
            return f"the receiver accepted a signed ping ({response.status_code})"
        raise CredentialProblem(f"the receiver answered {response.status_code} to a signed ping: "
                                f"{self.redact(response.text[:200])}; check the URL and the signing_secret")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
