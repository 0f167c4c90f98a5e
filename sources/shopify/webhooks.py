"""Shopify webhooks -> one spool record with Segment-spec messages.

`receive(entry, headers, body, received_at)` verifies `X-Shopify-Hmac-Sha256` (base64 of
HMAC-SHA256 over the raw body with the app's secret) in constant time, then turns the
REST-shaped payload (snake_case, numeric ids) into Segment calls: `Order Completed` on
orders/create, `Order Updated` / `Order Cancelled` on orders/updated, `Checkout Started`
on checkouts/create|update, identify on customers/create|update. Identity goes where the
identity models look: `context.traits.email`/`phone` and `context.externalIds` with the
numeric `shopify_customer_id`, the same id the API rows carry.

Shopify signs only the body, not a timestamp: `X-Shopify-Triggered-At` is informational,
and Shopify re-delivers the same webhook for up to 48 hours, so age is not a reason to
refuse. Replays are made harmless instead: every messageId derives from
`X-Shopify-Webhook-Id`, so a re-delivery dedupes in the loader.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import orjson

from sources.webhooks import WebhookRejected, converted

LIBRARY = {"name": "headwater-webhooks", "version": "1"}
TOPICS = ("orders/create", "orders/updated", "customers/create", "customers/update",
          "checkouts/create", "checkouts/update")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def signature(body: bytes, secret: str) -> str:
    """What Shopify puts in X-Shopify-Hmac-Sha256 for this body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(entry, headers: Mapping[str, str], body: bytes) -> None:
    if entry.webhook_secret is None or not entry.webhook_secret.get_secret_value():
        raise WebhookRejected(401, f"source {entry.name!r} has no webhook_secret; set it to the app's "
                                   f"client secret in headwater.yml to accept Shopify webhooks")
    given = _header(headers, "X-Shopify-Hmac-Sha256")
    if not given:
        raise WebhookRejected(401, "missing X-Shopify-Hmac-Sha256 header; only Shopify-signed webhooks are accepted")
    expected = signature(body, entry.webhook_secret.get_secret_value())
    # bytes, never str: compare_digest refuses a str holding non-ASCII, which a hostile header can
    if not hmac.compare_digest(expected.encode(), given.strip().encode("utf-8", "surrogateescape")):
        raise WebhookRejected(401, "X-Shopify-Hmac-Sha256 does not match the body; check that webhook_secret is "
                                   "this app's client secret and that the body reaches us unmodified")


def _iso(value: Any, fallback: datetime) -> str:
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        except ValueError:
            pass
    return fallback.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _identity(customer: dict | None, email: str | None, phone: str | None) -> dict:
    """Segment context for identity: traits.email/phone and the Shopify customer id."""
    context: dict[str, Any] = {"library": dict(LIBRARY)}
    traits = {key: value for key, value in (("email", email), ("phone", phone)) if value}
    if traits:
        context["traits"] = traits
    if customer and customer.get("id") is not None:
        context["externalIds"] = [{"id": str(customer["id"]), "type": "shopify_customer_id",
                                   "collection": "users", "encoding": "none"}]
    return context


def _products(line_items: list[dict]) -> list[dict]:
    return [{
        "product_id": str(item["product_id"]) if item.get("product_id") is not None else None,
        "variant": str(item["variant_id"]) if item.get("variant_id") is not None else None,
        "sku": item.get("sku"), "name": item.get("title") or item.get("name"),
        "price": _number(item.get("price")), "quantity": item.get("quantity"),
    } for item in line_items or []]


def _order_properties(order: dict) -> dict:
    shipping = ((order.get("total_shipping_price_set") or {}).get("shop_money") or {}).get("amount")
    codes = [code.get("code") for code in order.get("discount_codes") or [] if code.get("code")]
    return {
        "order_id": str(order["id"]), "order_number": order.get("name"),
        "checkout_id": str(order["checkout_id"]) if order.get("checkout_id") else None,
        "total": _number(order.get("total_price")), "revenue": _number(order.get("subtotal_price")),
        "tax": _number(order.get("total_tax")), "discount": _number(order.get("total_discounts")),
        "shipping": _number(shipping), "coupon": ", ".join(codes) or None,
        "currency": order.get("currency"), "financial_status": order.get("financial_status"),
        "products": _products(order.get("line_items") or []),
    }


def _order_event(topic: str, order: dict) -> tuple[str, dict, str | None]:
    properties = _order_properties(order)
    if topic == "orders/create":
        return "Order Completed", properties, order.get("created_at")
    if order.get("cancelled_at"):
        properties["reason"] = order.get("cancel_reason")
        return "Order Cancelled", properties, order.get("cancelled_at")
    return "Order Updated", properties, order.get("updated_at")


def _checkout_event(checkout: dict) -> tuple[str, dict, str | None]:
    return "Checkout Started", {
        "checkout_id": str(checkout["id"]), "token": checkout.get("token"),
        "value": _number(checkout.get("total_price")), "revenue": _number(checkout.get("subtotal_price")),
        "tax": _number(checkout.get("total_tax")), "currency": checkout.get("currency") or checkout.get("presentment_currency"),
        "products": _products(checkout.get("line_items") or []),
        "abandoned_checkout_url": checkout.get("abandoned_checkout_url"),
    }, checkout.get("created_at")


def _customer_traits(customer: dict) -> dict:
    address = customer.get("default_address") or {}
    consent = customer.get("email_marketing_consent") or {}
    traits = {
        "email": customer.get("email"), "phone": customer.get("phone"),
        "firstName": customer.get("first_name"), "lastName": customer.get("last_name"),
        "createdAt": customer.get("created_at"), "orders_count": customer.get("orders_count"),
        "total_spent": _number(customer.get("total_spent")), "state": customer.get("state"),
        "tags": customer.get("tags"), "verified_email": customer.get("verified_email"),
        "email_marketing_state": consent.get("state"),
        "address": {key: value for key, value in {
            "street": address.get("address1"), "city": address.get("city"), "state": address.get("province_code"),
            "postalCode": address.get("zip"), "country": address.get("country_code"),
        }.items() if value} or None,
    }
    return {key: value for key, value in traits.items() if value is not None}


def _message_id(webhook_id: str, topic: str) -> str:
    return f"shopify-{webhook_id}"


def to_messages(topic: str, payload: dict, webhook_id: str, received_at: datetime) -> list[dict]:
    """The Segment messages a webhook stands for (none for a topic we only keep raw)."""
    received = _iso(None, received_at)
    base = {"messageId": _message_id(webhook_id, topic), "receivedAt": received, "integrations": {}}
    if topic.startswith("customers/"):
        traits = _customer_traits(payload)
        message = {**base, "type": "identify", "traits": traits,
                   "context": _identity(payload, payload.get("email"), payload.get("phone"))}
        stamp = payload.get("updated_at") if topic.endswith("update") else payload.get("created_at")
    elif topic.startswith("orders/"):
        event, properties, stamp = _order_event(topic, payload)
        customer = payload.get("customer") or {}
        message = {**base, "type": "track", "event": event, "properties": properties,
                   "context": _identity(customer, payload.get("email") or customer.get("email"),
                                        payload.get("phone") or customer.get("phone"))}
    elif topic.startswith("checkouts/"):
        event, properties, stamp = _checkout_event(payload)
        customer = payload.get("customer") or {}
        message = {**base, "type": "track", "event": event, "properties": properties,
                   "context": _identity(customer, payload.get("email") or customer.get("email"),
                                        payload.get("phone") or customer.get("phone"))}
    else:
        return []
    message["timestamp"] = message["originalTimestamp"] = _iso(stamp, received_at)
    return [message]


def receive(entry, headers: Mapping[str, str], body: bytes, received_at: datetime) -> dict:
    """Verify and convert one Shopify webhook; raises WebhookRejected (401 bad signature, 400 malformed)."""
    verify(entry, headers, body)
    topic = _header(headers, "X-Shopify-Topic")
    webhook_id = _header(headers, "X-Shopify-Webhook-Id")
    if not topic:
        raise WebhookRejected(400, "missing X-Shopify-Topic header (e.g. orders/create)")
    if not webhook_id:
        raise WebhookRejected(400, "missing X-Shopify-Webhook-Id header; it is what makes re-deliveries idempotent")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise WebhookRejected(400, f"body is not JSON: {error}") from None
    if not isinstance(payload, dict) or (topic in TOPICS and "id" not in payload):
        raise WebhookRejected(400, f"{topic} payload must be a JSON object with an `id`")
    return {
        "source": entry.name, "kind": "webhook", "vendor": "shopify", "topic": topic, "webhook_id": webhook_id,
        "shop_domain": _header(headers, "X-Shopify-Shop-Domain"),
        "received_at": _iso(None, received_at), "raw": payload,
        **(converted(to_messages, topic, payload, webhook_id, received_at) if topic in TOPICS else {"messages": []}),
    }
