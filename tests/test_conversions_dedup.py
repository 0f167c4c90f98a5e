"""cdp.conversions: one row per real purchase across Shopify, Stripe and events, with ad-matching ids."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.conversions_world import NOW, build, config, days_ago, event, load, profile_of, track


def _conversions(warehouse) -> dict[str, dict]:
    return {row["order_id"]: row for row in warehouse.query("SELECT * FROM cdp.conversions")}


def test_shopify_order_its_events_and_its_stripe_charge_are_one_conversion(warehouse):
    paid_at = days_ago(3)
    load(warehouse, "web", "identifies", [event(days_ago(30), user_id="u-ann", email="ann@example.org")])
    track(warehouse, "web", "Order Completed", paid_at + timedelta(seconds=40), user_id="u-ann",
          order_id="1001", revenue=100.0, total=120.0, currency="USD", context_ip="203.0.113.9",
          context_user_agent="Mozilla/5.0 (X11)", context_page_url="https://shop.test/thanks")
    track(warehouse, "shop", "Order Completed", paid_at + timedelta(seconds=5), order_id="1001", total=120.0,
          currency="USD")  # the orders/create webhook
    load(warehouse, "shop", "orders", [
        {"id": 1001, "email": " Ann@Example.org", "customer_id": 77, "total_price": Decimal("120.00"),
         "currency": "USD", "created_at": paid_at, "processed_at": paid_at, "cancelled_at": None}])
    load(warehouse, "pay", "charges", [
        {"id": "ch_1", "amount": 12000, "currency": "usd", "status": "succeeded", "paid": True, "customer": "cus_1",
         "billing_details__email": "ann@example.org", "metadata__order_id": "1001",
         "created": int((paid_at + timedelta(seconds=2)).timestamp())}])
    build(warehouse)
    conversions = _conversions(warehouse)
    assert list(conversions) == ["1001"]
    (ann,) = conversions.values()
    assert (ann["value"], ann["currency"], ann["occurred_at"]) == (120.0, "USD", paid_at)
    assert ann["profile_id"] == profile_of(warehouse, "user_id", "u-ann") is not None
    assert (ann["ip"], ann["user_agent"], ann["page_url"]) == ("203.0.113.9", "Mozilla/5.0 (X11)",
                                                               "https://shop.test/thanks")
    assert ann["email"] == "ann@example.org"
    assert ann["sources"] == "pay,shop,web"
    assert ann["conversion_id"].startswith("cv_")


def test_conversion_id_is_stable_across_builds_and_full_refresh(warehouse):
    load(warehouse, "shop", "orders", [{"id": 5, "email": "bo@example.org", "total_price": Decimal("9.50"),
                                        "currency": "EUR", "created_at": days_ago(1)}])
    build(warehouse)
    first = _conversions(warehouse)["5"]["conversion_id"]
    load(warehouse, "shop", "orders", [{"id": 6, "email": "cy@example.org", "total_price": Decimal("1.00"),
                                        "currency": "EUR", "created_at": days_ago(1)}])
    build(warehouse, full_refresh=True)
    again = _conversions(warehouse)
    assert again["5"]["conversion_id"] == first != again["6"]["conversion_id"]


def test_cancelled_orders_failed_charges_and_future_rows_are_not_conversions(warehouse):
    load(warehouse, "shop", "orders", [
        {"id": 1, "email": "a@example.org", "total_price": Decimal("10.00"), "currency": "USD",
         "created_at": days_ago(5), "cancelled_at": days_ago(4)},
        {"id": 2, "email": "b@example.org", "total_price": Decimal("10.00"), "currency": "USD",
         "created_at": days_ago(5), "cancelled_at": None},
        {"id": 3, "email": "c@example.org", "total_price": Decimal("10.00"), "currency": "USD",
         "created_at": NOW + timedelta(hours=1), "cancelled_at": None}])
    track(warehouse, "web", "Order Completed", days_ago(5), anonymous_id="dev-1", order_id="2", total=10.0)
    track(warehouse, "web", "Order Cancelled", days_ago(1), anonymous_id="dev-1", order_id="2")
    load(warehouse, "pay", "charges", [
        {"id": "ch_ok", "amount": 500, "currency": "jpy", "status": "succeeded", "paid": True,
         "created": int(days_ago(2).timestamp())},
        {"id": "ch_failed", "amount": 500, "currency": "usd", "status": "failed", "paid": False,
         "created": int(days_ago(2).timestamp())}])
    build(warehouse)
    conversions = _conversions(warehouse)
    assert sorted(conversions) == ["ch_ok"]
    assert (conversions["ch_ok"]["value"], conversions["ch_ok"]["currency"]) == (500.0, "JPY")  # zero-decimal


def test_charge_paying_a_checkout_session_is_the_sessions_conversion(warehouse):
    created = int(days_ago(2).timestamp())
    load(warehouse, "pay", "checkout_sessions", [
        {"id": "cs_9", "mode": "payment", "payment_status": "paid", "payment_intent": "pi_9", "amount_total": 4500,
         "currency": "usd", "customer": "cus_9", "client_reference_id": "dev-9", "created": created}])
    load(warehouse, "pay", "charges", [
        {"id": "ch_9", "amount": 4500, "currency": "usd", "status": "succeeded", "paid": True, "customer": "cus_9",
         "payment_intent": "pi_9", "created": created + 3}])
    track(warehouse, "web", "Order Completed", days_ago(2), anonymous_id="dev-9", order_id="cs_9", total=45.0)
    build(warehouse)
    conversions = _conversions(warehouse)
    assert list(conversions) == ["cs_9"]
    assert conversions["cs_9"]["value"] == 45.0
    assert conversions["cs_9"]["profile_id"] == profile_of(warehouse, "anonymous_id", "dev-9") is not None
