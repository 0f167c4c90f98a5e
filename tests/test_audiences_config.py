"""The audiences section: errors name the audience and the field; defaults can be replaced or disabled."""

from __future__ import annotations

import pytest

from headwater.config import ConfigError, parse_config


def _error(audiences) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config({"audiences": audiences})
    return str(caught.value)


def test_defaults_ship_and_can_be_replaced_or_disabled():
    assert set(parse_config({}).audiences.active()) == {
        "purchasers", "cart_abandoners", "lapsed_customers", "high_value", "newsletter_subscribers"}
    active = parse_config({"audiences": [
        {"name": "high_value", "where": {"trait": "lifetime_revenue", "op": ">", "value": 1000}},
        {"name": "newsletter_subscribers", "enabled": False}]}).audiences.active()
    assert "newsletter_subscribers" not in active
    assert active["high_value"].where.trait == "lifetime_revenue"


def test_a_nested_mistake_names_the_audience_and_the_path():
    message = _error([{"name": "vip", "where": {"all": [{"trait": "country", "value": "US"},
                                                        {"event": "Order Completed", "at_least": 0}]}}])
    assert "audience 'vip' (audiences[0]).where.all[1].at_least" in message
    assert "greater than or equal to 1" in message


@pytest.mark.parametrize("condition, expected", [
    ({"trait": "country", "op": "in", "value": "US"}, "needs a list value"),
    ({"trait": "country"}, "op '=' needs a value"),
    ({"trait": "country; DROP TABLE x", "value": 1}, "is not a column name"),
    ({"trait": "a", "event": "b"}, "exactly one of the keys trait, event, audience, all, any, not"),
    ({"audience": "nobody"}, "names audience 'nobody', which is not defined"),
])
def test_invalid_conditions_are_explained(condition, expected):
    message = _error([{"name": "broken", "where": condition}])
    assert "audience 'broken'" in message and expected in message


def test_audiences_referring_to_each_other_in_a_cycle_are_refused():
    message = _error([{"name": "a", "where": {"audience": "b"}}, {"name": "b", "where": {"not": {"audience": "a"}}}])
    assert "cycle: a -> b -> a" in message


def test_an_audience_referring_to_a_disabled_default_is_refused():
    message = _error([{"name": "purchasers", "enabled": False}])
    assert "audience 'lapsed_customers'" in message and "'purchasers'" in message
