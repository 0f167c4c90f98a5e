"""Each audience condition kind, compiled to SQL and evaluated on both engines."""

from __future__ import annotations

from tests.audience_world import built_world, members

TRAIT_AUDIENCES = [
    {"name": "big", "where": {"trait": "lifetime_revenue", "op": ">=", "value": 120}},
    {"name": "europe", "where": {"trait": "country", "op": "in", "value": ["GB", "FR"]}},
    {"name": "not_us", "where": {"trait": "country", "op": "!=", "value": "US"}},
    {"name": "example_mail", "where": {"trait": "email", "op": "contains", "value": "ob@example"}},
    {"name": "segmented", "where": {"trait": "rfm_segment", "op": "is_set"}},
    {"name": "unsegmented", "where": {"trait": "rfm_segment", "op": "is_not_set"}},
    {"name": "quoted", "where": {"trait": "country", "value": "x' OR '1'='1"}},
]
EVENT_AUDIENCES = [
    {"name": "viewers", "where": {"event": "Product Viewed"}},
    {"name": "ticket_fans", "where": {"event": "Product Viewed", "at_least": 2,
                                      "where": [{"property": "category", "value": "Ticket"}]}},
    {"name": "recent_viewers", "where": {"event": "Product Viewed", "within_days": 7}},
    {"name": "no_recent_views", "where": {"event": "Product Viewed", "did": False, "within_days": 7}},
    {"name": "big_orders", "where": {"event": "Order Completed", "where": [{"property": "value", "op": ">", "value": 100}]}},
    {"name": "never_sent", "where": {"event": "Wishlist Shared"}},
]
BOOLEAN_AUDIENCES = [
    {"name": "big_or_fan", "where": {"any": [{"audience": "big"}, {"audience": "ticket_fans"}]}},
    {"name": "big_viewer", "where": {"all": [{"audience": "big"}, {"audience": "viewers"}]}},
    {"name": "not_big", "where": {"not": {"audience": "big"}}},
    {"name": "nested", "where": {"all": [{"audience": "big_or_fan"}, {"not": {"trait": "country", "value": "US"}}]}},
]


def test_trait_conditions_compare_profile_columns_with_escaped_values(warehouse):
    built_world(warehouse, TRAIT_AUDIENCES)
    assert members(warehouse, "big") == {"bob", "cy"}
    assert members(warehouse, "europe") == {"ann", "dee"}
    assert members(warehouse, "not_us") == {"ann", "dee"}
    assert members(warehouse, "example_mail") == {"bob"}
    assert members(warehouse, "segmented") == {"bob", "cy", "dee"}
    assert members(warehouse, "unsegmented") == {"ann"}
    assert members(warehouse, "quoted") == set()  # the quote is data, not SQL


def test_event_conditions_count_filter_window_and_negate(warehouse):
    built_world(warehouse, EVENT_AUDIENCES)
    assert members(warehouse, "viewers") == {"ann", "cy", "dee"}
    assert members(warehouse, "ticket_fans") == {"ann"}
    assert members(warehouse, "recent_viewers") == {"ann", "dee"}
    assert members(warehouse, "no_recent_views") == {"bob", "cy"}
    assert members(warehouse, "big_orders") == {"bob"}
    assert members(warehouse, "never_sent") == set()


def test_membership_of_other_audiences_with_and_or_not(warehouse):
    built_world(warehouse, TRAIT_AUDIENCES + EVENT_AUDIENCES + BOOLEAN_AUDIENCES)
    assert members(warehouse, "big_or_fan") == {"ann", "bob", "cy"}
    assert members(warehouse, "big_viewer") == {"cy"}
    assert members(warehouse, "not_big") == {"ann", "dee"}
    assert members(warehouse, "nested") == {"ann"}


def test_shipped_default_audiences(warehouse):
    built_world(warehouse)
    assert members(warehouse, "purchasers") == {"bob", "dee"}
    assert members(warehouse, "cart_abandoners") == {"ann"}     # bob ordered within 24 h; cy's 24 h are not over
    assert members(warehouse, "lapsed_customers") == {"dee"}
    assert members(warehouse, "high_value") == {"bob"}
    assert members(warehouse, "newsletter_subscribers") == {"ann", "dee"}
