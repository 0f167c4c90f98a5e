"""Analyst-defined computed traits (traits.computed): every kind, windows, filters, and clear errors."""

from __future__ import annotations

import pytest

from headwater.config import ConfigError
from models.catalog import ModelError
from tests.test_profiles_models import DAY, build, profile, settings, track

ORDERS = [  # (day, revenue, currency, coupon); as_of is day 10
    (1, "10", "USD", "A"), (5, "30", "EUR", "B"), (8, "50", "USD", "A"), (9, "5", "USD", None)]

TRAITS = [
    {"name": "usd_orders", "kind": "event_counter", "event": "Order Completed", "where": {"currency": "USD"}},
    {"name": "orders_7d", "kind": "event_counter", "event": "Order Completed", "window_days": 7},
    {"name": "big_orders", "kind": "event_counter", "event": "Order Completed",
     "where": [{"property": "revenue", "op": ">=", "value": 30}]},
    {"name": "usd_revenue", "kind": "aggregation", "function": "sum", "event": "Order Completed",
     "property": "revenue", "where": [{"property": "currency", "op": "in", "value": ["USD"]}]},
    {"name": "avg_revenue_7d", "kind": "aggregation", "function": "avg", "event": "Order Completed",
     "property": "revenue", "window_days": 7},
    {"name": "max_revenue", "kind": "aggregation", "function": "max", "event": "Order Completed", "property": "revenue"},
    {"name": "first_coupon", "kind": "first", "event": "Order Completed", "property": "coupon"},
    {"name": "last_coupon_7d", "kind": "last", "event": "Order Completed", "property": "coupon", "window_days": 7},
    {"name": "top_coupon", "kind": "most_frequent", "event": "Order Completed", "property": "coupon"},
    {"name": "currencies", "kind": "unique_list", "event": "Order Completed", "property": "currency"},
    {"name": "couponed_currencies", "kind": "unique_list", "event": "Order Completed", "property": "currency",
     "where": [{"property": "coupon", "op": "exists"}]},
    {"name": "never_sent", "kind": "event_counter", "event": "Refund Requested"},
]


def test_each_configured_trait_kind_with_windows_and_filters(warehouse):
    for day, revenue, currency, coupon in ORDERS:
        properties = {"revenue": revenue, "currency": currency, **({"coupon": coupon} if coupon else {})}
        track(warehouse, "web", "order_completed", day * DAY, "u-1", "Order Completed", **properties)
    track(warehouse, "app", "order_completed", 12 * DAY, "u-1", "Order Completed", revenue="900", currency="USD")
    track(warehouse, "web", "order_completed", 2 * DAY, "u-2", "Order Completed", revenue="1", currency="GBP")
    build(warehouse, settings(TRAITS))
    ann = profile(warehouse, "u-1")
    assert {name: ann[name] for name in ("usd_orders", "orders_7d", "big_orders", "never_sent")} == \
        {"usd_orders": 3, "orders_7d": 3, "big_orders": 2, "never_sent": 0}  # day-12 order is after as_of
    assert (ann["usd_revenue"], ann["avg_revenue_7d"], ann["max_revenue"]) == (65.0, 85.0 / 3, 50.0)
    assert (ann["first_coupon"], ann["last_coupon_7d"], ann["top_coupon"]) == ("A", "A", "A")
    assert (ann["currencies"], ann["couponed_currencies"]) == ("EUR,USD", "EUR,USD")
    other = profile(warehouse, "u-2")
    assert (other["usd_orders"], other["usd_revenue"], other["currencies"]) == (0, None, "GBP")
    columns = list(warehouse.query("SELECT * FROM cdp.profile_traits LIMIT 1")[0])
    assert columns == ["profile_id", "favourite_product_category", *(t["name"] for t in TRAITS)]


def test_filter_values_are_escaped_not_spliced_into_sql(warehouse):
    track(warehouse, "web", "order_completed", DAY, "u-1", "Order Completed", coupon="x' OR '1'='1")
    track(warehouse, "web", "order_completed", DAY, "u-1", "Order Completed", coupon="other")
    traits = [{"name": "tricky", "kind": "event_counter", "event": "Order Completed",
               "where": {"coupon": "x' OR '1'='1"}}]
    build(warehouse, settings(traits))
    assert profile(warehouse, "u-1")["tricky"] == 1


@pytest.mark.parametrize("trait, message", [
    ({"name": "spend", "kind": "aggregation", "event": "Order Completed", "property": "revenue"},
     "traits.computed[0]: Value error, trait 'spend' (aggregation): function is required: sum, avg, min or max"),
    ({"name": "spend", "kind": "aggregation", "function": "sum", "event": "Order Completed",
      "property": "revenue; DROP TABLE cdp.profiles"},
     "traits.computed[0].property: Value error, 'revenue; DROP TABLE cdp.profiles' is not a valid property name"),
    ({"name": "Order Count", "kind": "event_counter", "event": "Order Completed"},
     "traits.computed[0].name: Value error, 'Order Count' is not a valid trait name"),
    ({"name": "order_count", "kind": "event_counter", "event": "Order Completed"},
     "traits.computed[0].name: Value error, 'order_count' is a built-in column of cdp.profiles"),
    ({"name": "n", "kind": "event_counter", "event": "Order Completed", "where": [{"property": "x", "op": "in",
                                                                                   "value": 3}]},
     "traits.computed[0].where[0]: Value error, op in needs value: a non-empty list"),
    ({"name": "n", "kind": "last", "event": "Order Completed"},
     "trait 'n' (last): property is required"),
])
def test_bad_trait_definition_names_the_trait_and_field(trait, message):
    with pytest.raises(ConfigError) as raised:
        settings([trait])
    assert message in str(raised.value)


def test_unknown_property_fails_the_build_naming_trait_and_known_properties(duckdb_warehouse):
    track(duckdb_warehouse, "web", "order_completed", DAY, "u-1", "Order Completed", revenue="3", currency="USD")
    traits = [{"name": "spend", "kind": "aggregation", "function": "sum", "event": "Order Completed",
               "property": "revnue"}]
    with pytest.raises(ModelError) as raised:
        build(duckdb_warehouse, settings(traits))
    text = str(raised.value)
    assert "trait 'spend': property 'revnue' is not a property of event 'Order Completed'" in text
    assert "revenue" in text.split("its properties are:")[1]
