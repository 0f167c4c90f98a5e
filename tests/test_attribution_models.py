"""cdp.attribution: each model's credits on a designed journey; credits per conversion and model sum to 1."""

from __future__ import annotations

import math

import pytest

from tests.conversions_world import build, config, days_ago, event, load, track

# the journey: touches at these ages (days before the purchase), oldest first
JOURNEY = [("utm_source=newsletter&utm_medium=email&utm_campaign=june", 20.0),
           ("gclid=G-1", 10.0),
           ("utm_source=fb&utm_medium=paid_social&fbclid=F-1", 4.0),
           ("ttclid=T-1", 1.0)]
BOUGHT = 0.5  # days ago


def _journey(warehouse) -> None:
    pages = [event(days_ago(BOUGHT + age), anonymous_id="dev-j", context_page_url=f"https://shop.test/?{query}")
             for query, age in JOURNEY]
    pages.append(event(days_ago(BOUGHT + 45), anonymous_id="dev-j",
                       context_page_url="https://shop.test/?utm_source=old"))         # outside the 30-day lookback
    pages.append(event(days_ago(BOUGHT + 2), anonymous_id="dev-j", context_page_url="https://shop.test/cart"))
    load(warehouse, "web", "pages", pages)
    track(warehouse, "web", "Order Completed", days_ago(BOUGHT), anonymous_id="dev-j", order_id="J", total=200.0)
    track(warehouse, "web", "Order Completed", days_ago(BOUGHT), anonymous_id="dev-direct", order_id="D", total=5.0)


def _credits(warehouse, order_id: str, model: str) -> dict[int, float]:
    rows = warehouse.query("SELECT touch_position, credit FROM cdp.attribution WHERE order_id = %s AND model = %s",
                           [order_id, model])
    return {row["touch_position"]: row["credit"] for row in rows}


@pytest.fixture
def journey_built(warehouse):
    _journey(warehouse)
    build(warehouse)
    return warehouse


def test_first_and_last_touch_give_all_credit_to_one_end(journey_built):
    assert _credits(journey_built, "J", "first_touch") == {1: 1.0}
    assert _credits(journey_built, "J", "last_touch") == {4: 1.0}


def test_linear_shares_equally_among_the_touches_in_the_lookback(journey_built):
    assert _credits(journey_built, "J", "linear") == pytest.approx({1: 0.25, 2: 0.25, 3: 0.25, 4: 0.25})


def test_time_decay_halves_credit_every_seven_days_of_age(journey_built):
    credits = _credits(journey_built, "J", "time_decay")
    ages = [age for _, age in JOURNEY]
    assert credits[4] / credits[3] == pytest.approx(2 ** ((ages[2] - ages[3]) / 7))
    assert credits[2] / credits[1] == pytest.approx(2 ** ((ages[0] - ages[1]) / 7))
    assert sum(credits.values()) == pytest.approx(1.0)


def test_position_based_gives_forty_percent_to_each_end_and_splits_twenty(journey_built):
    assert _credits(journey_built, "J", "position_based") == pytest.approx({1: 0.4, 2: 0.1, 3: 0.1, 4: 0.4})


def test_touch_channels_come_from_click_ids_then_utm_medium(journey_built):
    rows = journey_built.query("SELECT touch_position, channel, click_id_type, utm_source FROM cdp.attribution "
                               "WHERE order_id = 'J' AND model = 'linear' ORDER BY touch_position")
    assert [(r["channel"], r["click_id_type"]) for r in rows] == [
        ("email", None), ("google_ads", "gclid"), ("meta_ads", "fbclid"), ("tiktok_ads", "ttclid")]
    assert rows[0]["utm_source"] == "newsletter"


def test_credits_of_every_conversion_and_model_sum_to_one(journey_built):
    sums = journey_built.query("SELECT order_id, model, SUM(credit) AS total, SUM(credited_value) AS value "
                               "FROM cdp.attribution GROUP BY order_id, model")
    assert len(sums) == 2 * 5
    assert all(math.isclose(row["total"], 1.0, abs_tol=1e-9) for row in sums)
    assert {row["order_id"]: row["value"] for row in sums if row["model"] == "time_decay"} == pytest.approx(
        {"J": 200.0, "D": 5.0})


def test_a_conversion_without_touchpoints_is_credited_to_direct(journey_built):
    rows = journey_built.query("SELECT model, channel, credit FROM cdp.attribution WHERE order_id = 'D'")
    assert sorted((r["model"], r["channel"], r["credit"]) for r in rows) == [
        (model, "direct", 1.0) for model in sorted(["first_touch", "last_touch", "linear", "time_decay",
                                                    "position_based"])]


def test_a_longer_lookback_brings_older_touches_in(warehouse):
    _journey(warehouse)
    build(warehouse, config(conversions={"attribution_lookback_days": 60}))
    assert _credits(warehouse, "J", "linear") == pytest.approx({i: 0.2 for i in range(1, 6)})
    assert _credits(warehouse, "J", "first_touch") == {1: 1.0}
    (first,) = warehouse.query("SELECT utm_source FROM cdp.attribution WHERE order_id = 'J' AND model = 'first_touch'")
    assert first["utm_source"] == "old"
