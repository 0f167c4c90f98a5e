"""Signed webhooks through the real collect endpoint: verified, spooled, loaded once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest

from headwater.config import parse_config
from headwater.loopback import LoopbackServer
from pipelines.spool_loader import load_spool
from sources.collect.app import create_app
from tests.collect_helpers import spooled_records

STRIPE_SECRET = "whsec_test_rotating_new"
SHOPIFY_SECRET = "shpss_app_secret"


@pytest.fixture
def setup(tmp_path, duckdb_warehouse):
    config = parse_config({
        "warehouse": duckdb_warehouse.url,
        "collect": {"spool_dir": str(tmp_path / "spool")},
        "sources": [
            {"name": "website", "type": "events", "write_key": "wk"},
            {"name": "stripe", "type": "stripe", "api_key": "rk_test_x",
             "webhook_secrets": ["whsec_test_old", STRIPE_SECRET]},
            {"name": "shopify", "type": "shopify", "access_token": "shpat_x", "webhook_secret": SHOPIFY_SECRET},
        ],
    })
    server = LoopbackServer(create_app(config)).start()
    yield config, server, duckdb_warehouse, tmp_path / "spool"
    server.stop()


def stripe_signed(body: bytes, secret: str = STRIPE_SECRET, at: int | None = None) -> dict:
    at = at or int(time.time())
    v1 = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={at},v1={v1}", "Content-Type": "application/json"}


def charge_event(event_id: str) -> bytes:
    return json.dumps({
        "id": event_id, "object": "event", "type": "charge.succeeded", "created": int(time.time()),
        "data": {"object": {"id": "ch_1", "object": "charge", "amount": 4990, "currency": "eur",
                            "customer": "cus_42", "created": int(time.time()), "paid": True, "status": "succeeded",
                            "billing_details": {"email": "Ada@Example.com"}, "metadata": {"order_id": "5001"}}},
    }).encode()


def test_stripe_webhook_is_verified_spooled_and_loaded_once(setup):
    config, server, warehouse, spool_dir = setup
    body = charge_event("evt_1")
    url = f"{server.url}/webhooks/stripe/stripe"
    assert httpx.post(url, content=body, headers=stripe_signed(body)).status_code == 200
    assert httpx.post(url, content=body, headers=stripe_signed(body)).status_code == 200  # Stripe re-delivers
    server.stop()
    load_spool(config)
    [order] = warehouse.query("SELECT order_id, revenue FROM stripe.order_completed")
    assert order["order_id"] == "5001" and order["revenue"] == pytest.approx(49.90)
    assert warehouse.query("SELECT count(*) AS n FROM stripe.webhooks")[0]["n"] == 1


@pytest.mark.parametrize("tamper", ["wrong_secret", "stale", "body"])
def test_bad_stripe_signature_is_401_and_stores_nothing(setup, tamper):
    _, server, _, spool_dir = setup
    body = charge_event("evt_bad")
    headers = {"wrong_secret": stripe_signed(body, secret="whsec_guess"),
               "stale": stripe_signed(body, at=int(time.time()) - 600),
               "body": stripe_signed(body)}[tamper]
    sent = body.replace(b"4990", b"1") if tamper == "body" else body
    response = httpx.post(f"{server.url}/webhooks/stripe/stripe", content=sent, headers=headers)
    assert response.status_code == 401 and STRIPE_SECRET not in response.text
    server.stop()
    assert spooled_records(spool_dir) == []


def test_shopify_webhook_hmac_is_checked_over_the_raw_body(setup):
    config, server, warehouse, _ = setup
    body = json.dumps({"id": 820982911946154508, "email": "jon@example.com", "created_at": "2026-11-20T10:00:00Z",
                       "total_price": "199.00", "subtotal_price": "180.00", "currency": "USD", "customer": {"id": 115310627314723954},
                       "line_items": [{"id": 1, "product_id": 2, "sku": "T-1", "title": "Festival Pass",
                                       "quantity": 1, "price": "199.00"}]}).encode()
    digest = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": digest,
               "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "Content-Type": "application/json"}
    url = f"{server.url}/webhooks/shopify/shopify"
    assert httpx.post(url, content=body + b" ", headers=headers).status_code == 401
    assert httpx.post(url, content=body, headers=headers).status_code == 200
    assert httpx.post(f"{server.url}/webhooks/shopify/stripe", content=body, headers=headers).status_code == 404
    server.stop()
    load_spool(config)
    [order] = warehouse.query("SELECT order_id, revenue, total FROM shopify.order_completed")
    assert str(order["order_id"]) == "820982911946154508"
    assert order["revenue"] == pytest.approx(180.0) and order["total"] == pytest.approx(199.0)
