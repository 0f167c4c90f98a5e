"""Stripe webhook receipt: signatures checked the way Stripe's own library signs them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest
import stripe

from headwater.config import StripeSourceConfig
from sources.stripe.webhooks import receive, signature_for
from sources.webhooks import WebhookRejected

SECRET = "whsec_current_secret"
OLD_SECRET = "whsec_previous_secret"
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


def entry(*secrets: str) -> StripeSourceConfig:
    return StripeSourceConfig(name="stripe", type="stripe", webhook_secrets=list(secrets or (SECRET,)))


def event(kind: str, obj: dict, event_id: str = "evt_1") -> bytes:
    return orjson.dumps({"id": event_id, "object": "event", "type": kind, "created": int(NOW.timestamp()) - 3,
                         "data": {"object": obj}})


def signed_by_stripe(body: bytes, secret: str = SECRET, at: datetime = NOW) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, int(at.timestamp()))
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


CHARGE = {"id": "ch_9", "object": "charge", "amount": 12345, "amount_refunded": 2000, "currency": "usd",
          "customer": "cus_9", "payment_intent": "pi_9", "metadata": {"order_id": "1001"},
          "billing_details": {"email": "ada@example.com", "phone": "+15550100"}}


def test_body_signed_by_stripes_library_is_accepted_and_kept_raw():
    body = event("charge.succeeded", CHARGE)
    record = receive(entry(), signed_by_stripe(body), body, NOW)
    assert record["raw"] == orjson.loads(body)
    assert (record["vendor"], record["topic"], record["webhook_id"]) == ("stripe", "charge.succeeded", "evt_1")


def test_our_signature_passes_stripes_own_verifier():
    body = event("charge.succeeded", CHARGE)
    header = f"t={int(NOW.timestamp())},v1={signature_for(SECRET, int(NOW.timestamp()), body)}"
    verified = stripe.Webhook.construct_event(body.decode(), header, SECRET, tolerance=10**10)
    assert verified["id"] == "evt_1"


def test_wrong_secret_is_rejected_without_echoing_any_secret():
    body = event("charge.succeeded", CHARGE)
    with pytest.raises(WebhookRejected) as rejected:
        receive(entry(), signed_by_stripe(body, secret="whsec_attacker"), body, NOW)
    assert rejected.value.status == 401
    assert "whsec" not in rejected.value.message


def test_stale_timestamp_is_rejected_even_with_a_valid_signature():
    body = event("charge.succeeded", CHARGE)
    headers = signed_by_stripe(body, at=NOW - timedelta(minutes=6))
    with pytest.raises(WebhookRejected, match="5-minute") as rejected:
        receive(entry(), headers, body, NOW)
    assert rejected.value.status == 401
    receive(entry(), signed_by_stripe(body, at=NOW - timedelta(minutes=4)), body, NOW)  # inside tolerance


def test_tampered_body_is_rejected():
    body = event("charge.succeeded", CHARGE)
    headers = signed_by_stripe(body)
    tampered = body.replace(b"12345", b"99999")
    with pytest.raises(WebhookRejected) as rejected:
        receive(entry(), headers, tampered, NOW)
    assert rejected.value.status == 401


def test_rotation_accepts_either_secret_and_any_of_several_signatures():
    body = event("charge.succeeded", CHARGE)
    t = int(NOW.timestamp())
    header = f"t={t},v1={signature_for('whsec_new_unknown', t, body)},v1={signature_for(OLD_SECRET, t, body)}"
    receive(entry(SECRET, OLD_SECRET), {"stripe-signature": header}, body, NOW)
    with pytest.raises(WebhookRejected):
        receive(entry(SECRET), {"stripe-signature": header}, body, NOW)


@pytest.mark.parametrize("header, status", [(None, 401), ("v1=abc", 400), ("t=notanumber,v1=abc", 400),
                                            ("t=1748779200", 400)])
def test_malformed_signature_header_is_rejected(header, status):
    body = event("charge.succeeded", CHARGE)
    headers = {} if header is None else {"Stripe-Signature": header}
    with pytest.raises(WebhookRejected) as rejected:
        receive(entry(), headers, body, NOW)
    assert rejected.value.status == status


def test_signed_body_that_is_not_an_event_is_a_400():
    body = b'{"hello": "world"}'
    with pytest.raises(WebhookRejected) as rejected:
        receive(entry(), signed_by_stripe(body), body, NOW)
    assert rejected.value.status == 400


def test_replayed_event_yields_the_same_message_ids():
    body = event("charge.succeeded", CHARGE)
    first = receive(entry(), signed_by_stripe(body), body, NOW)
    later = NOW + timedelta(minutes=2)
    again = receive(entry(), signed_by_stripe(body, at=later), body, later)
    assert [m["messageId"] for m in first["messages"]] == [m["messageId"] for m in again["messages"]]
    other = event("charge.succeeded", CHARGE, event_id="evt_2")
    assert receive(entry(), signed_by_stripe(other), other, NOW)["messages"][0]["messageId"] != \
        first["messages"][0]["messageId"]


def test_charge_succeeded_becomes_order_completed_with_the_metadata_order_id():
    body = event("charge.succeeded", CHARGE)
    [message] = receive(entry(), signed_by_stripe(body), body, NOW)["messages"]
    assert (message["type"], message["event"]) == ("track", "Order Completed")
    assert message["properties"]["order_id"] == "1001"
    assert message["properties"]["total"] == 123.45 and message["properties"]["currency"] == "USD"
    assert message["context"]["traits"] == {"email": "ada@example.com", "phone": "+15550100"}
    assert message["context"]["externalIds"] == [{"id": "cus_9", "type": "stripe_customer_id",
                                                  "collection": "users", "encoding": "none"}]
    assert message["context"]["library"] == {"name": "headwater-webhooks"}
    assert "userId" not in message and "anonymousId" not in message
    assert message["receivedAt"] == "2025-06-01T12:00:00.000Z"
    assert message["timestamp"] == message["originalTimestamp"] == "2025-06-01T11:59:57.000Z"


def test_charge_without_order_metadata_uses_the_charge_id_as_order_id():
    body = event("charge.succeeded", {**CHARGE, "metadata": {}})
    [message] = receive(entry(), signed_by_stripe(body), body, NOW)["messages"]
    assert message["properties"]["order_id"] == "ch_9"


def test_checkout_session_completed_becomes_order_completed():
    session = {"id": "cs_test_7", "object": "checkout.session", "amount_total": 5000, "amount_subtotal": 4500,
               "currency": "eur", "customer": None, "metadata": {"order_id": "A-7"},
               "customer_details": {"email": "bo@example.com", "phone": None},
               "total_details": {"amount_tax": 500, "amount_discount": 0}}
    body = event("checkout.session.completed", session)
    [message] = receive(entry(), signed_by_stripe(body), body, NOW)["messages"]
    assert message["event"] == "Order Completed"
    assert message["properties"] == {"order_id": "A-7", "checkout_id": "cs_test_7", "total": 50.0,
                                     "revenue": 45.0, "tax": 5.0, "discount": 0.0, "currency": "EUR"}
    assert message["context"]["traits"] == {"email": "bo@example.com"}
    assert "externalIds" not in message["context"]


def test_charge_refunded_becomes_order_refunded_for_the_refunded_amount():
    body = event("charge.refunded", CHARGE)
    [message] = receive(entry(), signed_by_stripe(body), body, NOW)["messages"]
    assert message["event"] == "Order Refunded"
    assert message["properties"]["order_id"] == "1001" and message["properties"]["total"] == 20.0


def test_customer_updated_becomes_identify_with_traits_and_stripe_id():
    customer = {"id": "cus_3", "object": "customer", "email": "cy@example.com", "name": "Cy", "phone": None}
    body = event("customer.updated", customer)
    [message] = receive(entry(), signed_by_stripe(body), body, NOW)["messages"]
    assert message["type"] == "identify"
    assert message["traits"] == {"email": "cy@example.com", "name": "Cy"}
    assert message["context"]["externalIds"][0]["id"] == "cus_3"


def test_unmapped_event_is_kept_raw_with_no_messages():
    body = event("invoice.paid", {"id": "in_1", "object": "invoice"})
    record = receive(entry(), signed_by_stripe(body), body, NOW)
    assert record["messages"] == [] and record["raw"]["type"] == "invoice.paid"
