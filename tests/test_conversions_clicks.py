"""Click ids on cdp.conversions: from the buyer's landing pages, only within the click lookback."""

from __future__ import annotations

from datetime import timedelta

from tests.conversions_world import build, config, days_ago, event, load, track


def _landing(when, anonymous_id: str, query: str, **columns) -> dict:
    return event(when, anonymous_id=anonymous_id, context_page_url=f"https://shop.test/landing?{query}",
                 context_page_search=f"?{query}", **columns)


def _buy(warehouse, when, anonymous_id: str, order_id: str) -> None:
    track(warehouse, "web", "Order Completed", when, anonymous_id=anonymous_id, order_id=order_id, total=10.0,
          currency="USD")


def _conversion(warehouse, order_id: str) -> dict:
    (row,) = warehouse.query("SELECT * FROM cdp.conversions WHERE order_id = %s", [order_id])
    return row


def test_fbclid_becomes_fbc_with_the_landing_time_in_milliseconds(warehouse):
    landed = days_ago(2).replace(microsecond=123000)
    load(warehouse, "web", "pages", [_landing(landed, "dev-1", "utm_source=facebook&fbclid=IwAR0abc-_Z&x=1",
                                              context_fbp="fb.1.1700000000000.987654321")])
    _buy(warehouse, days_ago(1), "dev-1", "o-1")
    build(warehouse)
    row = _conversion(warehouse, "o-1")
    assert row["fbc"] == f"fb.1.{int(landed.timestamp()) * 1000 + 123}.IwAR0abc-_Z"
    assert row["fbp"] == "fb.1.1700000000000.987654321"


def test_click_ids_come_from_the_latest_landing_page_within_the_lookback_only(warehouse):
    load(warehouse, "web", "pages", [
        _landing(days_ago(100), "dev-2", "gclid=TOO-OLD&ttclid=TT-OLD"),          # before the 90-day lookback
        _landing(days_ago(40), "dev-2", "gclid=OLDER"),
        _landing(days_ago(10), "dev-2", "utm_source=google&gclid=NEWEST&gbraid=GB1#top"),
        _landing(days_ago(0.5), "dev-2", "wbraid=AFTER-PURCHASE"),                # after the purchase
        _landing(days_ago(5), "dev-other", "ttclid=SOMEONE-ELSE"),                # another person
    ])
    _buy(warehouse, days_ago(1), "dev-2", "o-2")
    build(warehouse)
    row = _conversion(warehouse, "o-2")
    assert (row["gclid"], row["gbraid"], row["wbraid"], row["ttclid"], row["fbc"]) == (
        "NEWEST", "GB1", None, None, None)


def test_a_shorter_configured_click_lookback_drops_older_clicks(warehouse):
    load(warehouse, "web", "pages", [_landing(days_ago(10), "dev-3", "gclid=TEN-DAYS")])
    _buy(warehouse, days_ago(1), "dev-3", "o-3")
    build(warehouse, config(conversions={"click_lookback_days": 5}))
    assert _conversion(warehouse, "o-3")["gclid"] is None
    build(warehouse, config(conversions={"click_lookback_days": 10}))
    assert _conversion(warehouse, "o-3")["gclid"] == "TEN-DAYS"


def test_clicks_before_login_count_once_the_device_is_linked_to_the_buyer(warehouse):
    load(warehouse, "web", "pages", [_landing(days_ago(6), "dev-4", "ttclid=TT-4")])
    load(warehouse, "web", "identifies", [event(days_ago(5), anonymous_id="dev-4", user_id="u-4")])
    load(warehouse, "shop", "orders", [{"id": 44, "email": "dee@example.org", "total_price": 30.0,
                                        "currency": "USD", "created_at": days_ago(1)}])
    load(warehouse, "web", "identifies", [event(days_ago(4), user_id="u-4", email="DEE@example.org")])
    build(warehouse)
    row = _conversion(warehouse, "44")
    assert row["ttclid"] == "TT-4"
    assert row["email"] == "dee@example.org"
