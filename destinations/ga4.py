"""Google Analytics 4: conversions as Measurement Protocol events (`/mp/collect`).

The Measurement Protocol (https://developers.google.com/analytics/devguides/collection/protocol/ga4)
authenticates with `measurement_id` and `api_secret` in the query string, and every request
carries ONE `client_id` (and optional `user_id`) with up to 25 events, so each conversion is
its own request. Google's limits: event and parameter names at most 40 characters, letters,
digits and `_`, starting with a letter, no reserved names or `google_`/`ga_`/`firebase_`
prefixes; at most 25 parameters; string values at most 100 characters; `timestamp_micros`
no more than 72 hours old (older rows are skipped, never sent).

Why the debug route: `/mp/collect` answers 2xx even to a malformed event and silently
drops it. So a row that breaks a documented rule is not sent there; it goes to Google's
validation server, `/debug/mp/collect`, which records nothing, and its
`validationMessages` become the row's error in cdp.sync_errors (retried next run).
Imports httpx, pydantic and destinations.base / event_fields.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from destinations.base import (Action, Batch, CredentialProblem, Destination, DestinationSettings, HttpRequest,
                               Outcome, RunContext, SkipRow, now_utc)
from destinations.event_fields import as_utc, json_safe

DEFAULT_BASE_URL = "https://www.google-analytics.com"   # EU collection: https://region1.google-analytics.com
MAX_AGE = timedelta(hours=72)
MAX_EVENTS, MAX_PARAMS, NAME_MAX, VALUE_MAX = 25, 25, 40, 100
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MEASUREMENT_ID = re.compile(r"^G-[A-Z0-9]{4,}$")
RESERVED_PREFIXES = ("google_", "ga_", "firebase_", "gtag.")
RESERVED_EVENTS = frozenset({
    "ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward", "adunit_exposure",
    "app_background", "app_clear_data", "app_exception", "app_remove", "app_store_refund",
    "app_store_subscription_cancel", "app_store_subscription_convert", "app_store_subscription_renew",
    "app_update", "app_upgrade", "dynamic_link_app_open", "dynamic_link_app_update", "dynamic_link_first_open",
    "error", "first_open", "first_visit", "in_app_purchase", "notification_dismiss", "notification_foreground",
    "notification_open", "notification_receive", "os_update", "session_start", "session_start_with_rollout",
    "user_engagement"})
RESERVED_PARAMS = frozenset({"firebase_conversion"})


def name_problem(kind: str, name: str, reserved: frozenset[str]) -> tuple[str, str] | None:
    """(GA4 validation code, description) when a name breaks Google's rules, else None."""
    if len(name) > NAME_MAX:
        return "NAME_INVALID", f"{kind} name [{name}] is longer than {NAME_MAX} characters"
    if not _NAME.match(name):
        return "NAME_INVALID", f"{kind} name [{name}] must start with a letter and use only letters, digits and _"
    if name in reserved or name.lower().startswith(RESERVED_PREFIXES):
        return "NAME_RESERVED", f"{kind} name [{name}] is reserved by Google Analytics"
    return None


def event_problems(event: dict[str, Any]) -> list[tuple[str, str]]:
    """Every documented rule one event breaks; shared by the destination and its emulator."""
    problems = []
    name = str(event.get("name", ""))
    if (bad := name_problem("event", name, RESERVED_EVENTS)) is not None:
        problems.append(bad)
    params = event.get("params") or {}
    if len(params) > MAX_PARAMS:
        problems.append(("EXCEEDED_MAX_ENTITIES", f"event [{name}] has {len(params)} params; at most {MAX_PARAMS}"))
    for key, value in params.items():
        if (bad := name_problem("param", key, RESERVED_PARAMS)) is not None:
            problems.append(bad)
        if isinstance(value, str) and len(value) > VALUE_MAX:
            problems.append(("VALUE_OUT_OF_BOUNDS", f"param [{key}] value is longer than {VALUE_MAX} characters"))
    return problems


class GA4Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_secret: SecretStr


class GA4Settings(DestinationSettings):
    measurement_id: str = Field(description="the web data stream's Measurement ID, G-XXXXXXX")
    event_name: str = "purchase"

    @field_validator("measurement_id")
    @classmethod
    def _measurement_id(cls, value: str) -> str:
        if not _MEASUREMENT_ID.match(value):
            raise ValueError("must be a GA4 Measurement ID like G-ABC123DEF (Admin > Data streams)")
        return value

    @field_validator("event_name")
    @classmethod
    def _event_name(cls, value: str) -> str:
        problem = name_problem("event", value, RESERVED_EVENTS)
        if problem:
            raise ValueError(problem[1])
        return value


# Segment's e-commerce spec -> GA4's recommended events
STREAM_EVENT_NAMES = {
    "Order Completed": "purchase", "Order Refunded": "refund", "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart", "Cart Viewed": "view_cart", "Checkout Started": "begin_checkout",
    "Payment Info Entered": "add_payment_info", "Product Viewed": "view_item", "Product List Viewed": "view_item_list",
    "Product Added to Wishlist": "add_to_wishlist", "Products Searched": "search", "Promotion Viewed": "view_promotion",
    "Promotion Clicked": "select_promotion", "Signed Up": "sign_up", "Signed In": "login"}


def snake_name(text: str) -> str:
    """`Video Played` -> `video_played`, within GA4's 40 characters."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "event"
    return (name if name[0].isalpha() else f"e_{name}")[:NAME_MAX]


class GA4Events(Destination):
    """Conversions as GA4 `purchase` events (one client per request)."""

    type_name = "ga4_events"
    vendor = "ga4"
    consent_category = "analytics"
    default_base_url = DEFAULT_BASE_URL
    batch_size = 1            # a Measurement Protocol request belongs to one client_id
    requests_per_second = 20.0
    concurrency = 8
    default_mapping = {"client_id": "profile_id", "user_id": "profile_id", "transaction_id": "order_id",
                       "value": "value", "currency": "currency", "timestamp": "occurred_at"}
    required_fields = ("client_id", "timestamp")
    emulator = "destinations.emulators.ga4:create_app"
    Settings = GA4Settings
    Credentials = GA4Credentials

    def _params(self) -> dict[str, str]:
        return {"measurement_id": self.settings.measurement_id,
                "api_secret": self.credentials.api_secret.get_secret_value()}

    def prepare(self, row: dict[str, Any], action: Action) -> dict[str, Any]:
        moment = as_utc(row.get("timestamp"))
        if moment is None:
            raise SkipRow("timestamp: missing or not a timestamp; map the conversion time to timestamp")
        now = now_utc()
        if now - moment > MAX_AGE:
            raise SkipRow(f"timestamp: {moment.isoformat()} is more than 72 hours old; GA4 drops such events")
        if not row.get("client_id"):
            raise SkipRow("client_id: missing; GA4 needs the client id of a web stream")
        params = {k: json_safe(row[k]) for k in ("transaction_id", "value", "currency") if row.get(k) is not None}
        if "value" in params and "currency" not in params:
            params.pop("value")  # GA4 ignores a value without a currency; send neither half-truth
        body: dict[str, Any] = {"client_id": str(row["client_id"]),
                                "timestamp_micros": int(min(moment, now).timestamp() * 1_000_000),
                                "events": [{"name": self.settings.event_name, "params": params}]}
        if row.get("user_id"):
            body["user_id"] = str(row["user_id"])
        return body

    def idempotency_key(self, item: dict[str, Any]) -> str | None:
        return item["events"][0]["params"].get("transaction_id")

    stream_types = frozenset({"track", "page"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """Segment's e-commerce events as GA4's recommended events (Order Completed -> purchase),
        others under their snake_case name, a page as page_view; scalar properties as params."""
        moment = as_utc(view.timestamp)
        if moment is None:
            raise SkipRow("timestamp: missing or not a time")
        now = now_utc()
        if now - moment > MAX_AGE:
            raise SkipRow(f"timestamp: {moment.isoformat()} is more than 72 hours old; GA4 drops such events")
        client_id = view.anonymous_id or view.user_id
        if not client_id:
            raise SkipRow("anonymousId and userId: both missing; GA4 needs a client id")
        params: dict[str, Any] = {}
        for key, value in view.properties.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                params[snake_name(key)] = value[:VALUE_MAX] if isinstance(value, str) else value
        if view.type == "page":
            name = "page_view"
            params.update({k: v for k, v in (("page_location", view.page_url), ("page_title", view.page_title)) if v})
        else:
            name = STREAM_EVENT_NAMES.get(view.event or "", snake_name(view.event or "event"))
        for key, value in (("transaction_id", view.order_id), ("currency", view.currency)):
            if value:
                params[key] = str(value).upper() if key == "currency" else value
        if view.revenue is not None and view.currency:
            params["value"] = json_safe(view.revenue)
        body: dict[str, Any] = {"client_id": client_id, "timestamp_micros": int(min(moment, now).timestamp() * 1_000_000),
                                "events": [{"name": name, "params": params}]}
        if view.user_id:
            body["user_id"] = view.user_id
        return body

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        [item] = batch.items
        broken = any(event_problems(event) for event in item["events"])
        path = "/debug/mp/collect" if broken else "/mp/collect"
        return HttpRequest("POST", f"{self.base_url}{path}", {}, item, params=self._params())

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        if response.status_code < 300 and response.url.path.endswith("/debug/mp/collect"):
            try:
                messages = response.json().get("validationMessages") or []
            except (ValueError, AttributeError):
                messages = []
            first = messages[0] if messages else {"validationCode": "VALUE_INVALID",
                                                  "description": "the event breaks a Measurement Protocol limit"}
            return Outcome("ok", row_errors={0: (str(first.get("validationCode")), str(first.get("description"))[:300])})
        return super().parse_response(response, batch)

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        """Google's validation server checks a sample event; it cannot verify api_secret (Google's docs say so)."""
        sample = {"client_id": "headwater.credential-check", "events": [{"name": self.settings.event_name,
                                                                          "params": {"currency": "USD", "value": 0}}]}
        response = await client.post(f"{self.base_url}/debug/mp/collect", params=self._params(), json=sample)
        if response.status_code >= 300:
            raise CredentialProblem(f"GA4's validation server answered {response.status_code}")
        messages = response.json().get("validationMessages") or []
        if messages:
            raise CredentialProblem(f"GA4 rejects the event shape: {messages[0].get('description')}")
        return (f"measurement_id {self.settings.measurement_id} and event {self.settings.event_name!r} pass Google's "
                "validation server; GA4 cannot verify api_secret (a wrong one drops events silently), so check it "
                "in Admin > Data streams > Measurement Protocol API secrets")
