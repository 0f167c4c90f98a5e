"""Meta: the Conversions API (`POST /{pixel}/events`) and Custom Audiences (`/{audience}/users`).

Conversions: up to 1,000 events a request, deduplicated by Meta on `event_id` (+ event
name), `action_source` required, `user_data` em/ph/fn/ln/ct/st/zp/country/external_id as
SHA-256 of Meta-normalized values, `fbc`/`fbp`/IP/user agent unhashed, and no event older
than 7 days (Meta refuses them, so they are skipped here and logged).
Custom Audiences: multi-key schema, up to 10,000 rows a call, `DELETE` to remove, a
session (`session_id`, `batch_seq`, `last_batch_flag`) when an upload spans batches.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from destinations.base import (Batch, CredentialProblem, Destination, DestinationSettings, HttpRequest, Outcome,
                               RunContext, SkipRow, json_object, retry_after)
from destinations.event_fields import required_event_time
from destinations.normalize import hashed
from pydantic import BaseModel, ConfigDict

GRAPH_URL = "https://graph.facebook.com"
API_VERSION = "v24.0"
MAX_EVENT_AGE = timedelta(days=7)
THROTTLE_CODES = {4, 17, 32, 613, 80004}   # Meta's rate-limit error codes
AUTH_CODES = {190, 102, 10, 200}            # invalid/expired token, missing permission


class MetaCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    access_token: SecretStr


def _meta_error(response: httpx.Response) -> tuple[str, str, int]:
    body = json_object(response)
    if body is None:
        return str(response.status_code), response.text[:300], 0
    error = body.get("error", {})
    code = int(error.get("code") or 0)
    subcode = error.get("error_subcode")
    label = f"{code}" + (f"/{subcode}" if subcode else "")
    message = error.get("error_user_msg") or error.get("message") or response.text[:300]
    return label, message, code


class _MetaBase(Destination):
    vendor = "meta"
    consent_category = "advertising"
    default_base_url = GRAPH_URL
    Credentials = MetaCredentials

    def describe_error(self, response: httpx.Response) -> tuple[str, str]:
        label, message, _ = _meta_error(response)
        return label, message

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        if response.status_code < 300:
            return Outcome("ok")
        label, message, code = _meta_error(response)
        if response.status_code == 429 or code in THROTTLE_CODES:
            return Outcome("retry", label, message, retry_after(response))
        if response.status_code >= 500:
            return Outcome("retry", label, message, retry_after(response))
        if code in AUTH_CODES or response.status_code in (401, 403):
            return Outcome("fatal", label, f"Meta refused the access token or its permissions: {message}")
        return Outcome("reject", label, message)

    def _token(self) -> str:
        return self.credentials.access_token.get_secret_value()

    async def _check_object(self, client: httpx.AsyncClient, object_id: str, what: str) -> str:
        url = f"{self.base_url}/{self.settings.api_version}/{object_id}"
        response = await client.get(url, params={"fields": "id,name", "access_token": self._token()})
        if response.status_code == 200:
            return f"{what} {object_id} is readable with this access token"
        label, message, code = _meta_error(response)
        hint = ("the access_token is invalid or expired: generate a new system-user token" if code == 190
                else f"check the {what} id and that the token's system user has access to it")
        raise CredentialProblem(self.redact(f"Meta answered {response.status_code} ({label}: {message}); {hint}"))


class MetaConversionsSettings(DestinationSettings):
    pixel_id: str
    api_version: str = API_VERSION
    event_name: str = "Purchase"
    action_source: Literal["website", "app", "physical_store", "system_generated", "email", "phone_call",
                           "chat", "business_messaging", "other"] = "website"
    test_event_code: str | None = None


_USER_DATA_HASHED = {"email": "em", "phone": "ph", "first_name": "fn", "last_name": "ln", "city": "ct",
                     "state": "st", "postal_code": "zp", "country": "country", "external_id": "external_id"}


# Segment's e-commerce spec -> Meta's standard events
STREAM_EVENT_NAMES = {
    "Order Completed": "Purchase", "Product Added": "AddToCart", "Checkout Started": "InitiateCheckout",
    "Product Viewed": "ViewContent", "Products Searched": "Search", "Signed Up": "CompleteRegistration",
    "Payment Info Entered": "AddPaymentInfo", "Product Added to Wishlist": "AddToWishlist"}


class MetaConversions(_MetaBase):
    type_name = "meta_conversions"
    batch_size = 1000
    requests_per_second = 20.0
    concurrency = 4
    default_mapping = {"event_id": "conversion_id", "event_time": "occurred_at", "value": "value",
                       "currency": "currency", "order_id": "order_id", "email": "email", "phone": "phone",
                       "external_id": "profile_id", "fbc": "fbc", "fbp": "fbp", "ip": "ip",
                       "user_agent": "user_agent", "event_source_url": "page_url"}
    emulator = "destinations.emulators.meta:create_app"
    Settings = MetaConversionsSettings

    def __init__(self, *args, clock=lambda: datetime.now(timezone.utc), **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = clock

    def prepare(self, row: dict[str, Any], action: str) -> dict[str, Any]:
        occurred = required_event_time(row)
        if self.clock() - occurred > MAX_EVENT_AGE:
            raise SkipRow(f"occurred {occurred:%Y-%m-%d}, more than 7 days ago: Meta accepts no older events")
        user: dict[str, Any] = {}
        country = row.get("country")
        for field, key in _USER_DATA_HASHED.items():
            value = hashed("meta", field, row.get(field), country) if row.get(field) is not None else None
            if value:
                user[key] = [value]
        for field, key in (("ip", "client_ip_address"), ("user_agent", "client_user_agent"), ("fbc", "fbc"),
                           ("fbp", "fbp")):
            if row.get(field):
                user[key] = str(row[field])
        if not user:
            raise SkipRow("no customer information to match on (email, phone, fbc, fbp, ip...)")
        event: dict[str, Any] = {"event_name": self.settings.event_name, "event_time": int(occurred.timestamp()),
                                 "event_id": str(row["event_id"]), "action_source": self.settings.action_source,
                                 "user_data": user}
        if row.get("event_source_url"):
            event["event_source_url"] = str(row["event_source_url"])
        custom = {k: v for k, v in (("value", _number(row.get("value"))), ("currency", _upper(row.get("currency"))),
                                    ("order_id", row.get("order_id"))) if v is not None}
        if custom:
            event["custom_data"] = custom
        return event

    stream_types = frozenset({"track", "page"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """Segment's e-commerce events as Meta's standard events (Order Completed -> Purchase),
        others as custom events of their own name, a page as PageView; messageId is the event_id
        Meta deduplicates on (with the pixel's, when the browser sends the same id)."""
        row = {"event_id": view.message_id, "event_time": view.timestamp, "value": view.revenue,
               "currency": view.currency, "order_id": view.order_id, "email": view.email, "phone": view.phone,
               "first_name": view.first_name, "last_name": view.last_name, "city": view.city,
               "country": view.country, "external_id": view.user_id, "ip": view.ip, "user_agent": view.user_agent,
               "fbp": view.properties.get("fbp"), "fbc": view.properties.get("fbc"), "event_source_url": view.page_url}
        event = self.prepare(row, "upsert")
        event["event_name"] = "PageView" if view.type == "page" else STREAM_EVENT_NAMES.get(view.event, view.event)
        return event

    def idempotency_key(self, item: dict[str, Any]) -> str | None:
        return item.get("event_id")

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        body: dict[str, Any] = {"data": batch.items, "access_token": self._token()}
        if self.settings.test_event_code:
            body["test_event_code"] = self.settings.test_event_code
        return HttpRequest("POST", f"{self.base_url}/{self.settings.api_version}/{self.settings.pixel_id}/events",
                           body=body)

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        return await self._check_object(client, self.settings.pixel_id, "pixel")


class MetaAudienceSettings(DestinationSettings):
    audience_id: str
    api_version: str = API_VERSION


AUDIENCE_SCHEMA = (("EMAIL", "email"), ("PHONE", "phone"), ("FN", "first_name"), ("LN", "last_name"),
                   ("CT", "city"), ("ST", "state"), ("ZIP", "postal_code"), ("COUNTRY", "country"))


class MetaCustomAudience(_MetaBase):
    type_name = "meta_audience"
    replace_on_change = True
    batch_size = 10_000
    requests_per_second = 10.0
    concurrency = 4
    supports_remove = True
    default_mapping = {"email": "email", "phone": "phone", "first_name": "first_name", "last_name": "last_name",
                       "city": "city", "state": "state", "postal_code": "postal_code", "country": "country"}
    emulator = "destinations.emulators.meta:create_app"
    Settings = MetaAudienceSettings

    def prepare(self, row: dict[str, Any], action: str) -> list[str]:
        country = row.get("country")
        values = [hashed("meta", field, row.get(field), country) or "" for _, field in AUDIENCE_SCHEMA]
        if not (values[0] or values[1]):
            raise SkipRow("no usable email or phone to match on")
        return values

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        body: dict[str, Any] = {"payload": {"schema": [name for name, _ in AUDIENCE_SCHEMA], "data": batch.items},
                                "access_token": self._token()}
        planned = context.planned.get(batch.action, 0)
        if planned > self.batch_size:  # a multi-batch upload: one session, closed by the last batch
            session_id = int(hashlib.sha256(f"{context.run_id}:{batch.action}".encode()).hexdigest()[:15], 16)
            body["session"] = {"session_id": session_id, "batch_seq": batch.sequence,
                               "last_batch_flag": batch.last, "estimated_num_total": planned}
        method = "POST" if batch.action == "upsert" else "DELETE"
        return HttpRequest(method, f"{self.base_url}/{self.settings.api_version}/{self.settings.audience_id}/users",
                           body=body)

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        """A 200 may still name invalid entries (`invalid_entry_samples`): those rows failed."""
        outcome = super().parse_response(response, batch)
        if outcome.kind != "ok":
            return outcome
        samples = (json_object(response) or {}).get("invalid_entry_samples") or {}
        if samples:
            for index, row in enumerate(batch.items):
                bad = next((value for value in row if value in samples), None)
                if bad is not None:
                    outcome.row_errors[index] = ("invalid_entry", f"Meta refused the entry: {samples[bad]}")
        return outcome

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        return await self._check_object(client, self.settings.audience_id, "custom audience")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _upper(value: Any) -> str | None:
    return None if value is None else str(value).upper()
