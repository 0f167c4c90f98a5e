"""Shopify webhooks: HMAC verification and conversion to Segment-spec messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

import orjson
import pytest

from headwater.config import ShopifySourceConfig
from sources.shopify.webhooks import receive
from sources.webhooks import WebhookRejected, receiver

SECRET = "shpss_test_secret_123"
RECEIVED = datetime(2025, 3, 2, 12, 0, 0, tzinfo=timezone.utc)
ENTRY = ShopifySourceConfig(name="shop", type="shopify", webhook_secret=SECRET)

ORDER = {
    "id": 820982911946154508, "name": "#1001", "email": "Jon@Example.com", "phone": None,
    "created_at": "2025-03-01T10:00:00-05:00", "updated_at": "2025-03-01T10:00:05-05:00",
    "cancelled_at": None, "cancel_reason": None, "currency": "USD", "financial_status": "paid",
    "total_price": "43.00", "subtotal_price": "40.00", "total_tax": "3.00", "total_discounts": "4.00",
    "total_shipping_price_set": {"shop_money": {"amount": "5.00", "currency_code": "USD"}},
    "discount_codes": [{"code": "WELCOME", "amount": "4.00", "type": "percentage"}],
    "checkout_id": 901414060,
    "customer": {"id": 115310627314723954, "email": "jon@example.com", "phone": "+14155550100"},
    "line_items": [{"id": 866550311766439020, "product_id": 632910392, "variant_id": 808950810, "sku": "TIX-1",
                    "title": "Ticket", "price": "20.00", "quantity": 2}],
}
CUSTOMER = {
    "id": 115310627314723954, "email": "jon@example.com", "phone": "+14155550100", "first_name": "Jon",
    "last_name": "Doe", "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-03-01T09:00:00Z",
    "orders_count": 3, "total_spent": "120.50", "state": "enabled", "tags": "vip", "verified_email": True,
    "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"},
    "default_address": {"address1": "1 Main St", "city": "Ottawa", "province_code": "ON", "zip": "K1A",
                        "country_code": "CA"},
}
CHECKOUT = {"id": 981198479, "token": "abc123", "email": "jon@example.com", "created_at": "2025-03-01T08:00:00Z",
            "updated_at": "2025-03-01T08:05:00Z", "currency": "USD", "total_price": "20.00",
            "subtotal_price": "20.00", "customer": {"id": 115310627314723954},
            "line_items": [{"product_id": 632910392, "variant_id": 808950810, "title": "Ticket", "price": "20.00",
                            "quantity": 1, "sku": "TIX-1"}]}


def signed(payload: dict, topic: str, webhook_id: str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
           secret: str = SECRET, **extra: str) -> tuple[dict, bytes]:
    body = orjson.dumps(payload)
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {"X-Shopify-Hmac-Sha256": digest, "X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": webhook_id,
               "X-Shopify-Shop-Domain": "headwater-demo.myshopify.com", "Content-Type": "application/json", **extra}
    return headers, body


def test_collect_endpoint_finds_this_receiver():
    assert receiver("shopify") is receive


def test_orders_create_becomes_order_completed_with_revenue_products_and_identity():
    headers, body = signed(ORDER, "orders/create")
    record = receive(ENTRY, headers, body, RECEIVED)
    assert record["kind"] == "webhook" and record["source"] == "shop" and record["topic"] == "orders/create"
    assert record["raw"] == ORDER
    [message] = record["messages"]
    assert message["type"] == "track" and message["event"] == "Order Completed"
    properties = message["properties"]
    assert properties["order_id"] == "820982911946154508"
    assert (properties["revenue"], properties["total"], properties["currency"]) == (40.0, 43.0, "USD")
    assert properties["coupon"] == "WELCOME" and properties["shipping"] == 5.0
    assert properties["products"] == [{"product_id": "632910392", "variant": "808950810", "sku": "TIX-1",
                                       "name": "Ticket", "price": 20.0, "quantity": 2}]
    assert message["timestamp"] == "2025-03-01T15:00:00.000Z"  # created_at, in UTC
    assert message["receivedAt"] == "2025-03-02T12:00:00.000Z"
    assert message["context"]["library"]["name"] == "headwater-webhooks"
    assert message["context"]["traits"] == {"email": "Jon@Example.com", "phone": "+14155550100"}
    assert message["context"]["externalIds"] == [{"id": "115310627314723954", "type": "shopify_customer_id",
                                                  "collection": "users", "encoding": "none"}]
    assert "userId" not in message and "anonymousId" not in message


def test_orders_updated_is_order_updated_or_order_cancelled():
    headers, body = signed(ORDER, "orders/updated", webhook_id="u1")
    assert receive(ENTRY, headers, body, RECEIVED)["messages"][0]["event"] == "Order Updated"
    cancelled = {**ORDER, "cancelled_at": "2025-03-02T10:00:00Z", "cancel_reason": "customer"}
    headers, body = signed(cancelled, "orders/updated", webhook_id="u2")
    [message] = receive(ENTRY, headers, body, RECEIVED)["messages"]
    assert message["event"] == "Order Cancelled" and message["properties"]["reason"] == "customer"
    assert message["timestamp"] == "2025-03-02T10:00:00.000Z"


def test_customers_update_becomes_identify_with_segment_traits():
    headers, body = signed(CUSTOMER, "customers/update")
    [message] = receive(ENTRY, headers, body, RECEIVED)["messages"]
    assert message["type"] == "identify"
    traits = message["traits"]
    assert (traits["email"], traits["firstName"], traits["lastName"]) == ("jon@example.com", "Jon", "Doe")
    assert traits["address"] == {"street": "1 Main St", "city": "Ottawa", "state": "ON", "postalCode": "K1A",
                                 "country": "CA"}
    assert traits["email_marketing_state"] == "subscribed" and traits["total_spent"] == 120.5
    assert message["context"]["externalIds"][0]["id"] == "115310627314723954"
    assert message["timestamp"] == "2025-03-01T09:00:00.000Z"


@pytest.mark.parametrize("topic", ["checkouts/create", "checkouts/update"])
def test_checkout_webhooks_become_checkout_started(topic):
    headers, body = signed(CHECKOUT, topic)
    [message] = receive(ENTRY, headers, body, RECEIVED)["messages"]
    assert message["event"] == "Checkout Started"
    assert message["properties"]["checkout_id"] == "981198479" and message["properties"]["value"] == 20.0
    assert message["context"]["traits"]["email"] == "jon@example.com"


def test_redelivered_webhook_keeps_the_same_message_ids():
    headers, body = signed(ORDER, "orders/create", webhook_id="same-delivery")
    first = receive(ENTRY, headers, body, RECEIVED)
    later = receive(ENTRY, {**headers, "X-Shopify-Triggered-At": "2025-03-04T00:00:00Z"}, body,
                    datetime(2025, 3, 4, tzinfo=timezone.utc))
    assert [m["messageId"] for m in first["messages"]] == [m["messageId"] for m in later["messages"]]
    other = receive(ENTRY, signed(ORDER, "orders/create", webhook_id="another")[0], body, RECEIVED)
    assert other["messages"][0]["messageId"] != first["messages"][0]["messageId"]


def test_stale_triggered_at_is_still_accepted_because_shopify_retries_for_48_hours():
    # Shopify signs only the body; the timestamp header is unsigned and re-deliveries keep it.
    headers, body = signed(ORDER, "orders/create", **{"X-Shopify-Triggered-At": "2025-01-01T00:00:00Z"})
    assert receive(ENTRY, headers, body, RECEIVED)["messages"]


def test_wrong_secret_is_rejected_401_without_echoing_any_secret():
    headers, body = signed(ORDER, "orders/create", secret="someone-elses-secret")
    with pytest.raises(WebhookRejected) as caught:
        receive(ENTRY, headers, body, RECEIVED)
    assert caught.value.status == 401
    assert SECRET not in caught.value.message and "someone-elses-secret" not in caught.value.message
    assert headers["X-Shopify-Hmac-Sha256"] not in caught.value.message


def test_tampered_body_is_rejected_401():
    headers, body = signed(ORDER, "orders/create")
    tampered = body.replace(b'"43.00"', b'"0.01"')
    assert tampered != body
    with pytest.raises(WebhookRejected) as caught:
        receive(ENTRY, headers, tampered, RECEIVED)
    assert caught.value.status == 401


def test_missing_signature_header_is_rejected_401():
    headers, body = signed(ORDER, "orders/create")
    del headers["X-Shopify-Hmac-Sha256"]
    with pytest.raises(WebhookRejected) as caught:
        receive(ENTRY, headers, body, RECEIVED)
    assert caught.value.status == 401 and "X-Shopify-Hmac-Sha256" in caught.value.message


def test_source_without_webhook_secret_refuses_with_the_fix():
    headers, body = signed(ORDER, "orders/create")
    with pytest.raises(WebhookRejected) as caught:
        receive(ShopifySourceConfig(name="shop", type="shopify"), headers, body, RECEIVED)
    assert caught.value.status == 401 and "webhook_secret" in caught.value.message


def test_headers_are_matched_case_insensitively():
    headers, body = signed(ORDER, "orders/create")
    lowered = {key.lower(): value for key, value in headers.items()}
    assert receive(ENTRY, lowered, body, RECEIVED)["webhook_id"] == headers["X-Shopify-Webhook-Id"]


def test_signed_but_malformed_payloads_are_400():
    headers, body = signed({"no_id": True}, "orders/create")
    with pytest.raises(WebhookRejected) as caught:
        receive(ENTRY, headers, body, RECEIVED)
    assert caught.value.status == 400 and "id" in caught.value.message
    headers, _ = signed(ORDER, "orders/create")
    headers.pop("X-Shopify-Webhook-Id")
    with pytest.raises(WebhookRejected) as caught:
        receive(ENTRY, headers, orjson.dumps(ORDER), RECEIVED)
    assert caught.value.status == 400 and "X-Shopify-Webhook-Id" in caught.value.message


def test_unsubscribed_topic_is_kept_raw_without_messages():
    headers, body = signed({"id": 1}, "products/update")
    record = receive(ENTRY, headers, body, RECEIVED)
    assert record["raw"] == {"id": 1} and record["messages"] == []
