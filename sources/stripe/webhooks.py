"""Stripe webhooks: verify `Stripe-Signature`, turn the event into Segment-spec messages.

Why verification looks like this: Stripe signs `"{t}.{raw body}"` with HMAC-SHA256 under the
endpoint's secret and may send several `v1=` signatures (one per active secret while a
secret is rolled), so any configured secret matching any `v1` passes; comparisons are
constant-time and a timestamp more than 5 minutes from receipt is refused as a replay.
messageIds derive from Stripe's event id, so a re-delivered event deduplicates on load.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import orjson

from sources.webhooks import WebhookRejected, converted

TOLERANCE_SECONDS = 300
LIBRARY = {"name": "headwater-webhooks"}


def signature_for(secret: str, timestamp: int, body: bytes) -> str:
    """The hex `v1` signature Stripe sends for this body at this timestamp."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


MAX_TIMESTAMP_DIGITS = 12  # Unix seconds until the year 33658; more is no timestamp


def _signature_parts(header: str) -> tuple[int, list[bytes]]:
    """`t` and the `v1` signatures of a Stripe-Signature header, or WebhookRejected(400).

    A header that does not parse is malformed, not merely unsigned, so it is a 400; other
    schemes (`v0=`) are ignored as Stripe's libraries do.
    """
    timestamp: int | None = None
    signatures: list[bytes] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            if not (value.isascii() and value.isdigit() and len(value) <= MAX_TIMESTAMP_DIGITS):
                raise WebhookRejected(400, "Stripe-Signature t= must be a Unix timestamp in seconds")
            timestamp = int(value)
        elif key == "v1":
            if not (value.isascii() and len(value) == 64 and all(c in "0123456789abcdef" for c in value)):
                raise WebhookRejected(400, "Stripe-Signature v1= must be 64 lowercase hex digits")
            signatures.append(value.encode("ascii"))
    if timestamp is None or not signatures:
        raise WebhookRejected(400, "Stripe-Signature needs a t= timestamp and at least one v1= signature")
    return timestamp, signatures


def verify(secrets: list[str], header: str | None, body: bytes, received_at: datetime) -> None:
    """Raise WebhookRejected unless the header carries a fresh, matching signature: 401 when
    it is missing, stale or wrong, 400 when it does not parse."""
    if not secrets:
        raise WebhookRejected(401, "no webhook secret is configured for this Stripe source (webhook_secrets)")
    if not header:
        raise WebhookRejected(401, "missing Stripe-Signature header")
    timestamp, signatures = _signature_parts(header)
    if abs(received_at.timestamp() - timestamp) > TOLERANCE_SECONDS:
        raise WebhookRejected(401, "Stripe-Signature timestamp is outside the 5-minute tolerance")
    matched = False
    for secret in secrets:
        expected = signature_for(secret, timestamp, body).encode("ascii")
        for signature in signatures:
            matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise WebhookRejected(401, "Stripe-Signature does not match any configured webhook secret")


def _iso(moment: datetime | int | float) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _money(cents: Any) -> float | None:
    return round(cents / 100, 2) if isinstance(cents, (int, float)) else None


def _context(customer_id: str | None, email: str | None = None, phone: str | None = None) -> dict:
    traits = {k: v for k, v in (("email", email), ("phone", phone)) if v}
    context: dict[str, Any] = {"library": dict(LIBRARY)}
    if traits:
        context["traits"] = traits
    if customer_id:
        context["externalIds"] = [{"id": customer_id, "type": "stripe_customer_id",
                                   "collection": "users", "encoding": "none"}]
    return context


def _customer_id(obj: dict) -> str | None:
    customer = obj.get("customer")
    return customer.get("id") if isinstance(customer, dict) else customer


def _order_completed_from_charge(charge: dict) -> tuple[dict, dict]:
    billing = charge.get("billing_details") or {}
    properties = {
        "order_id": (charge.get("metadata") or {}).get("order_id") or charge.get("id"),
        "checkout_id": charge.get("payment_intent"),
        "total": _money(charge.get("amount")),
        "revenue": _money(charge.get("amount")),
        "currency": (charge.get("currency") or "").upper() or None,
        "payment_id": charge.get("id"),
    }
    context = _context(_customer_id(charge), billing.get("email") or charge.get("receipt_email"), billing.get("phone"))
    return properties, context


def _order_completed_from_session(session: dict) -> tuple[dict, dict]:
    details = session.get("customer_details") or {}
    properties = {
        "order_id": (session.get("metadata") or {}).get("order_id") or session.get("id"),
        "checkout_id": session.get("id"),
        "total": _money(session.get("amount_total")),
        "revenue": _money(session.get("amount_subtotal", session.get("amount_total"))),
        "tax": _money((session.get("total_details") or {}).get("amount_tax")),
        "discount": _money((session.get("total_details") or {}).get("amount_discount")),
        "currency": (session.get("currency") or "").upper() or None,
        "payment_id": session.get("payment_intent"),
    }
    context = _context(_customer_id(session), details.get("email") or session.get("customer_email"),
                       details.get("phone"))
    return properties, context


def _order_refunded(charge: dict) -> tuple[dict, dict]:
    properties = {
        "order_id": (charge.get("metadata") or {}).get("order_id") or charge.get("id"),
        "total": _money(charge.get("amount_refunded")),
        "currency": (charge.get("currency") or "").upper() or None,
        "payment_id": charge.get("id"),
    }
    billing = charge.get("billing_details") or {}
    return properties, _context(_customer_id(charge), billing.get("email") or charge.get("receipt_email"))


def messages_for(event: dict, received_at: datetime) -> list[dict]:
    """The Segment-spec messages one Stripe event stands for (none for other types)."""
    obj = (event.get("data") or {}).get("object") or {}
    kind = event.get("type", "")
    timestamp = _iso(event.get("created", received_at))
    base = {"messageId": f"stripe-{event['id']}", "timestamp": timestamp, "originalTimestamp": timestamp,
            "receivedAt": _iso(received_at)}
    if kind in ("customer.created", "customer.updated"):
        traits = {k: obj.get(k) for k in ("email", "name", "phone") if obj.get(k)}
        context = _context(obj.get("id"), obj.get("email"), obj.get("phone"))
        return [{**base, "type": "identify", "traits": traits, "context": context}]
    builders = {"charge.succeeded": ("Order Completed", _order_completed_from_charge),
                "checkout.session.completed": ("Order Completed", _order_completed_from_session),
                "charge.refunded": ("Order Refunded", _order_refunded)}
    if kind not in builders:
        return []
    name, build = builders[kind]
    properties, context = build(obj)
    properties = {k: v for k, v in properties.items() if v is not None}
    return [{**base, "type": "track", "event": name, "properties": properties, "context": context}]


def receive(entry, headers: Mapping[str, str], body: bytes, received_at: datetime) -> dict:
    """Verify one delivery to /webhooks/stripe/{entry.name}; return its spool record."""
    secrets = [s.get_secret_value() for s in entry.webhook_secrets]
    verify(secrets, _header(headers, "stripe-signature"), body, received_at)
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise WebhookRejected(400, "the body is not JSON; Stripe sends an event object") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise WebhookRejected(400, "the body is not a Stripe event: it needs string fields id and type")
    return {"source": entry.name, "kind": "webhook", "vendor": "stripe", "topic": event["type"],
            "webhook_id": event["id"], "received_at": _iso(received_at), "raw": event,
            **converted(messages_for, event, received_at)}
