"""Profiles, consent, built-in order traits and cdp.events on both engines, from hand-made raw tables."""

from __future__ import annotations

from datetime import timedelta

from headwater.config import parse_config
from tests.identity_world import START, at, load_raw, row
from models.build import BuildContext, build_models

DAY = 24 * 60  # minutes
AS_OF = START + timedelta(days=10)


def settings(traits: dict | list | None = None, cloud: tuple[str, ...] = ()):
    raw = {"sources": [{"name": "web", "type": "events", "write_key": "k1"},
                       {"name": "app", "type": "events", "write_key": "k2"},
                       *({"name": vendor, "type": vendor} for vendor in cloud)]}
    if traits is not None:
        raw["traits"] = traits
    return parse_config(raw)


def build(warehouse, cfg=None, as_of=AS_OF):
    return build_models(BuildContext(warehouse, cfg or settings(), as_of=as_of))


def profile(warehouse, user_id: str) -> dict:
    rows = warehouse.query("SELECT profiles.* FROM cdp.profiles AS profiles JOIN cdp.profile_identities AS ids "
                           "ON ids.profile_id = profiles.profile_id WHERE ids.id_type = 'user_id' AND ids.id_value = %s",
                           [user_id])
    assert len(rows) == 1, rows
    return rows[0]


def track(warehouse, source: str, table: str, minutes: int, user_id: str, event: str, **properties) -> None:
    """A track call as the loader writes it: a tracks row and a per-event row with the same id."""
    call = row(minutes, user_id=user_id)
    load_raw(warehouse, source, "tracks", [{**call, "event": table, "event_text": event}])
    load_raw(warehouse, source, table, [{**call, "event": table, "event_text": event, **properties}])


def test_latest_non_null_trait_wins_across_sources_unless_a_source_has_precedence(warehouse):
    load_raw(warehouse, "web", "identifies", [
        row(1, user_id="u-1", email="ann@example.org", first_name="Ann", plan="free"),
        row(3, user_id="u-1", plan="pro"),
        row(20, user_id="u-1", first_name=None, plan=None),  # later nulls never erase a value
    ])
    load_raw(warehouse, "app", "identifies", [row(10, user_id="u-1", plan="gold", last_name="Lee")])
    build(warehouse)
    ann = profile(warehouse, "u-1")
    assert (ann["first_name"], ann["last_name"], ann["plan"], ann["email"]) == ("Ann", "Lee", "gold", "ann@example.org")

    build(warehouse, settings({"source_precedence": ["web"]}))
    ann = profile(warehouse, "u-1")
    assert (ann["plan"], ann["last_name"]) == ("pro", "Lee")  # web wins where it has a value


def test_primary_email_is_the_most_recent_unless_configured_first_seen(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, user_id="u-1", email="old@example.org"),
                                              row(9, user_id="u-1", email="new@example.org")])
    build(warehouse)
    assert profile(warehouse, "u-1")["email"] == "new@example.org"
    build(warehouse, settings({"primary_identifier": "first_seen"}))
    assert profile(warehouse, "u-1")["email"] == "old@example.org"


def _consent_world(warehouse) -> None:
    load_raw(warehouse, "web", "identifies", [row(1 * DAY, user_id="u-1", email="ann@example.org", consent_email="true",
                                                  consent_analytics="true")])
    load_raw(warehouse, "web", "tracks", [row(2 * DAY, user_id="u-1", event="x", event_text="X",
                                              context_consent_category_preferences_email="false",
                                              context_consent_category_preferences_analytics="true")])
    load_raw(warehouse, "mailchimp", "members", [{"id": "m-1", "email_address": "ANN@example.org",
                                                  "status": "subscribed", "last_changed": at(3 * DAY).isoformat()}])
    load_raw(warehouse, "shopify", "customers", [{
        "id": "74001", "email": "ann@example.org", "updated_at": at(4 * DAY).isoformat(),
        "email_marketing_state": "UNSUBSCRIBED", "email_consent_updated_at": at(4 * DAY).isoformat(),
        "sms_marketing_state": "SUBSCRIBED", "sms_consent_updated_at": at(4 * DAY).isoformat()}])


def test_consent_latest_signal_wins_across_the_four_inputs_and_history_keeps_each_change(warehouse):
    _consent_world(warehouse)
    build(warehouse, settings(cloud=("mailchimp", "shopify")))
    ann = profile(warehouse, "u-1")
    assert (ann["consent_email"], ann["consent_sms"], ann["consent_analytics"], ann["consent_advertising"]) == \
        (False, True, True, False)  # advertising: never said -> not granted
    history = warehouse.query("SELECT category, granted, changed_at, signal FROM cdp.consent_history "
                              "WHERE profile_id = %s ORDER BY category, changed_at", [ann["profile_id"]])
    email = [(h["granted"], h["signal"]) for h in history if h["category"] == "email"]
    assert email == [(True, "identify_trait"), (False, "context_consent"), (True, "mailchimp_status"),
                     (False, "shopify_marketing_consent")]
    analytics = [h for h in history if h["category"] == "analytics"]
    assert len(analytics) == 1  # the repeated grant on day 2 is not a change

    build(warehouse, settings(cloud=("mailchimp", "shopify")), as_of=START + timedelta(days=3, hours=1))
    assert profile(warehouse, "u-1")["consent_email"] is True  # as of day 3 Mailchimp's subscribe was latest


def test_unknown_consent_follows_the_configured_default(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, user_id="u-1", consent_sms="false")])
    build(warehouse, settings({"consent_default": {"advertising": True, "sms": True}}))
    ann = profile(warehouse, "u-1")
    assert (ann["consent_advertising"], ann["consent_sms"], ann["consent_email"]) == (True, False, False)


def _orders(warehouse, user: str, last_day: int, count: int, value: float = 10.0) -> None:
    for n in range(count):
        minutes = (last_day - n * 0.1) * DAY
        track(warehouse, "web", "order_completed", int(minutes), user, "Order Completed",
              order_id=f"{user}-o{n}", total=str(value), currency="USD")


def test_order_traits_and_rfm_segments_on_designed_buyers(warehouse):
    # (user, day of last order, orders): recency rank and frequency rank give each a known grid cell
    designed = {"b5": (5, 5, "Champions"), "b4": (3, 4, "Loyal"), "b3": (2, 3, "At Risk"),
                "b2": (1, 2, "Hibernating"), "b1": (4, 1, "Promising")}
    for user, (last_day, count, _) in designed.items():
        _orders(warehouse, user, last_day, count)
    track(warehouse, "web", "order_completed", 11 * DAY, "b5", "Order Completed", order_id="late", total="999",
          currency="USD")  # after as_of: not counted
    load_raw(warehouse, "web", "identifies", [row(1, user_id="nobody", email="n@example.org")])
    build(warehouse)
    for user, (last_day, count, segment) in designed.items():
        buyer = profile(warehouse, user)
        assert (buyer["order_count"], buyer["rfm_frequency"], buyer["rfm_segment"]) == (count, count, segment), user
        assert buyer["lifetime_revenue"] == 10.0 * count and buyer["average_order_value"] == 10.0
        assert buyer["rfm_monetary"] == count
        assert buyer["last_order_at"] == at(last_day * DAY)
        assert buyer["first_order_at"] == at(int((last_day - (count - 1) * 0.1) * DAY))
        assert buyer["days_since_last_order"] == 10 - last_day
    recency = {user: profile(warehouse, user)["rfm_recency"] for user in designed}
    assert recency == {"b5": 5, "b1": 4, "b4": 3, "b3": 2, "b2": 1}
    nobody = profile(warehouse, "nobody")
    assert (nobody["order_count"], nobody["lifetime_revenue"], nobody["rfm_segment"]) == (0, 0, None)


def test_favourite_category_and_email_engagement_in_the_last_30_days(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, user_id="u-1", email="ann@example.org")])
    for minutes, category in ((10, "concert"), (20, "merch"), (30, "merch"), (40, "concert"), (50, "workshop")):
        track(warehouse, "web", "product_added", minutes, "u-1", "Product Added", category=category)
    load_raw(warehouse, "mailchimp", "members", [{"id": "m-1", "email_address": "ann@example.org",
                                                  "status": "subscribed"}])
    activity = [("open", 9), ("open", 5), ("click", 5), ("open", 45)]  # days before as_of
    load_raw(warehouse, "mailchimp", "email_activity", [
        {"activity_id": f"a{i}", "email_address": "Ann@Example.org", "email_id": "m-1", "action": action,
         "timestamp": AS_OF - timedelta(days=days)} for i, (action, days) in enumerate(activity)])
    build(warehouse, settings(cloud=("mailchimp",)))
    ann = profile(warehouse, "u-1")
    assert ann["favourite_product_category"] == "concert"  # tied with merch, added most recently
    assert (ann["email_opens_30d"], ann["email_clicks_30d"]) == (2, 1)


def test_events_table_holds_every_call_with_its_profile_up_to_as_of(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, anonymous_id="d-1", user_id="u-1")])
    load_raw(warehouse, "web", "pages", [row(2, anonymous_id="d-1", name="Home")])
    track(warehouse, "app", "signed_up", 3, "u-1", "Signed Up")
    load_raw(warehouse, "web", "pages", [row(11 * DAY, anonymous_id="d-1")])  # after as_of
    build(warehouse)
    ann = profile(warehouse, "u-1")["profile_id"]
    events = warehouse.query("SELECT source, event_type, event, event_table, profile_id FROM cdp.events "
                             "ORDER BY occurred_at")
    assert [(e["source"], e["event_type"], e["event"], e["event_table"]) for e in events] == [
        ("web", "identify", "Identify", "identifies"), ("web", "page", "Page Viewed", "pages"),
        ("app", "track", "Signed Up", "signed_up")]
    assert {e["profile_id"] for e in events} == {ann}
