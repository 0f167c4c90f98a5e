"""TikTok: Events API 2.0 (`/open_api/v1.3/event/track/`) and audience segment mapping.

Events: `Access-Token` header, `event_source: web` with the pixel code as
`event_source_id`, up to 1,000 events a request, `event_id` for deduplication, `ttclid`,
IP and user agent unhashed, email/phone/external_id SHA-256 of normalized values.
Audiences: `/open_api/v1.3/segment/mapping/` with `action` add or delete,
`id_schema` EMAIL_SHA256/PHONE_SHA256, up to 10,000 ids a call.
TikTok answers HTTP 200 with a non-zero `code` for most errors; they are read here.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from destinations.base import (Batch, CredentialProblem, Destination, DestinationSettings, HttpRequest, Outcome,
                               RunContext, SkipRow, json_object, retry_after)
from destinations.event_fields import required_event_time
from destinations.normalize import hashed

BUSINESS_API_URL = "https://business-api.tiktok.com"
THROTTLED = {40100, 51021}
AUTH = {40001, 40104, 40105, 40106}


class TikTokCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    access_token: SecretStr


def _tiktok_body(response: httpx.Response) -> tuple[int, str]:
    body = json_object(response)
    if body is not None:
        try:
            return int(body.get("code", -1)), str(body.get("message", ""))
        except (TypeError, ValueError):  # a code that is not a number: report the raw body
            pass
    return -1, response.text[:300]


class _TikTok(Destination):
    vendor = "tiktok"
    consent_category = "advertising"
    default_base_url = BUSINESS_API_URL
    requests_per_second = 10.0
    concurrency = 4
    Credentials = TikTokCredentials
    emulator = "destinations.emulators.tiktok:create_app"

    def auth_headers(self) -> dict[str, str]:
        return {"Access-Token": self.credentials.access_token.get_secret_value()}

    def parse_response(self, response: httpx.Response, batch: Batch) -> Outcome:
        code, message = _tiktok_body(response)
        if response.status_code == 429 or code in THROTTLED:
            return Outcome("retry", str(code), message, retry_after(response))
        if response.status_code >= 500 or code >= 50000:
            return Outcome("retry", str(code), message, retry_after(response))
        if code == 0 and response.status_code < 300:
            return Outcome("ok")
        if code in AUTH or response.status_code in (401, 403):
            return Outcome("fatal", str(code), f"TikTok refused the access token: {message}")
        return Outcome("reject", str(code), message)

    def describe_error(self, response: httpx.Response) -> tuple[str, str]:
        code, message = _tiktok_body(response)
        return str(code), message

    async def check_credentials(self, client: httpx.AsyncClient) -> str:
        advertiser = getattr(self.settings, "advertiser_id", None)
        if not advertiser:
            raise CredentialProblem("set settings.advertiser_id so the token can be checked against its advertiser")
        response = await client.get(f"{self.base_url}/open_api/v1.3/advertiser/info/",
                                    params={"advertiser_ids": f'["{advertiser}"]'}, headers=self.auth_headers())
        code, message = _tiktok_body(response)
        if response.status_code == 200 and code == 0:
            return f"the access token can read advertiser {advertiser}"
        raise CredentialProblem(self.redact(f"TikTok answered code {code}: {message}; "
                                            f"create a new long-term access token with the advertiser's permissions"))


class TikTokEventsSettings(DestinationSettings):
    pixel_code: str
    event_name: str = "CompletePayment"
    advertiser_id: str | None = None
    test_event_code: str | None = None


# Segment's e-commerce spec -> TikTok's standard events
STREAM_EVENT_NAMES = {
    "Order Completed": "CompletePayment", "Order Placed": "PlaceAnOrder", "Product Added": "AddToCart",
    "Checkout Started": "InitiateCheckout", "Product Viewed": "ViewContent", "Products Searched": "Search",
    "Signed Up": "CompleteRegistration", "Payment Info Entered": "AddPaymentInfo",
    "Product Added to Wishlist": "AddToWishlist"}


class TikTokEvents(_TikTok):
    type_name = "tiktok_events"
    batch_size = 1000
    default_mapping = {"event_id": "conversion_id", "event_time": "occurred_at", "value": "value",
                       "currency": "currency", "order_id": "order_id", "email": "email", "phone": "phone",
                       "external_id": "profile_id", "ttclid": "ttclid", "ip": "ip", "user_agent": "user_agent",
                       "page_url": "page_url"}
    Settings = TikTokEventsSettings

    def prepare(self, row: dict[str, Any], action: str) -> dict[str, Any]:
        occurred = required_event_time(row)
        user = {k: v for k, v in (("email", hashed("tiktok", "email", row.get("email"))),
                                  ("phone", hashed("tiktok", "phone", row.get("phone"))),
                                  ("external_id", hashed("tiktok", "external_id", row.get("external_id"))),
                                  ("ttclid", row.get("ttclid")), ("ip", row.get("ip")),
                                  ("user_agent", row.get("user_agent"))) if v}
        if not user:
            raise SkipRow("no user information to match on (email, phone, external_id, ttclid...)")
        event: dict[str, Any] = {"event": self.settings.event_name, "event_time": int(occurred.timestamp()),
                                 "event_id": str(row["event_id"]), "user": user}
        properties = {k: v for k, v in (("value", None if row.get("value") is None else float(row["value"])),
                                        ("currency", str(row["currency"]).upper() if row.get("currency") else None),
                                        ("order_id", row.get("order_id"))) if v is not None}
        if properties:
            event["properties"] = properties
        if row.get("page_url"):
            event["page"] = {"url": str(row["page_url"])}
        return event

    stream_types = frozenset({"track", "page"})

    def stream_item(self, view: Any) -> dict[str, Any]:
        """Segment's e-commerce events as TikTok's standard events (Order Completed ->
        CompletePayment), a page as Pageview; messageId is the event_id TikTok deduplicates on."""
        row = {"event_id": view.message_id, "event_time": view.timestamp, "value": view.revenue,
               "currency": view.currency, "order_id": view.order_id, "email": view.email, "phone": view.phone,
               "external_id": view.user_id, "ttclid": view.properties.get("ttclid"), "ip": view.ip,
               "user_agent": view.user_agent, "page_url": view.page_url}
        event = self.prepare(row, "upsert")
        event["event"] = "Pageview" if view.type == "page" else STREAM_EVENT_NAMES.get(view.event, view.event)
        return event

    def idempotency_key(self, item: dict[str, Any]) -> str | None:
        return item.get("event_id")

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        body: dict[str, Any] = {"event_source": "web", "event_source_id": self.settings.pixel_code, "data": batch.items}
        if self.settings.test_event_code:
            body["test_event_code"] = self.settings.test_event_code
        return HttpRequest("POST", f"{self.base_url}/open_api/v1.3/event/track/", body=body)


class TikTokAudienceSettings(DestinationSettings):
    advertiser_id: str
    audience_id: str
    id_type: Literal["EMAIL_SHA256", "PHONE_SHA256"] = "EMAIL_SHA256"


class TikTokAudience(_TikTok):
    type_name = "tiktok_audience"
    replace_on_change = True
    batch_size = 10_000
    supports_remove = True
    default_mapping = {"email": "email", "phone": "phone"}
    Settings = TikTokAudienceSettings

    def prepare(self, row: dict[str, Any], action: str) -> dict[str, Any]:
        field = "email" if self.settings.id_type == "EMAIL_SHA256" else "phone"
        value = hashed("tiktok", field, row.get(field))
        if not value:
            raise SkipRow(f"no usable {field} for id_type {self.settings.id_type}")
        return {"id": value, "audience_ids": [self.settings.audience_id]}

    def build_request(self, batch: Batch, context: RunContext) -> HttpRequest:
        body = {"advertiser_ids": [self.settings.advertiser_id], "action": "add" if batch.action == "upsert" else "delete",
                "id_schema": [self.settings.id_type], "audience_ids": [self.settings.audience_id],
                "batch_data": [[item] for item in batch.items]}
        return HttpRequest("POST", f"{self.base_url}/open_api/v1.3/segment/mapping/", body=body)
