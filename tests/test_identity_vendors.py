"""Shopify, Stripe and Mailchimp rows join profiles; order ids outrank a shared household email."""

from __future__ import annotations

from datetime import datetime, timezone

from headwater.config import parse_config
from tests.identity_world import at, build, load_raw, profile_of, profiles, row


def all_sources():
    return parse_config({"sources": [
        {"name": "web", "type": "events", "write_key": "k"}, {"name": "shop", "type": "shopify"},
        {"name": "pay", "type": "stripe"}, {"name": "news", "type": "mailchimp"}]})


def unix(minutes: int) -> int:
    return int(at(minutes).timestamp())


def test_vendor_customers_join_the_person_by_email_and_phone(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, user_id="u-1", email="Ann@Example.org")])
    load_raw(warehouse, "shop", "customers", [{"id": "7400001", "email": "ann@example.org", "phone": "+1 415 555 0132",
                                               "created_at": at(2)}])
    load_raw(warehouse, "pay", "customers", [{"id": "cus_A", "email": " ANN@example.org", "created": unix(3)}])
    load_raw(warehouse, "news", "members", [{"id": "5f1d...", "email_address": "ann@example.org",
                                             "merge_fields__phone": "(415) 555-0132", "timestamp_opt": at(4)}])
    build(warehouse, all_sources())
    ann = profile_of(warehouse, "user_id", "u-1")
    assert profiles(warehouse)[ann] == {
        ("user_id", "u-1"), ("email", "ann@example.org"), ("phone", "+14155550132"),
        ("shopify_customer_id", "7400001"), ("stripe_customer_id", "cus_A"), ("mailchimp_member_id", "5f1d...")}
    first_seen = warehouse.query("SELECT first_seen_at FROM cdp.profile_identities WHERE id_value = 'cus_A'")
    assert first_seen[0]["first_seen_at"] == datetime.fromtimestamp(unix(3), timezone.utc)  # Stripe's unix seconds


def test_order_id_keeps_a_household_members_purchase_on_their_own_profile(warehouse):
    """Mum and son share one email; the son's order (event + Shopify + Stripe) stays his."""
    load_raw(warehouse, "web", "identifies", [row(1, user_id="u-mum", email="family@home.io"),
                                              row(50, user_id="u-son", email="family@home.io")])
    load_raw(warehouse, "web", "order_completed", [row(60, user_id="u-son", order_id="5900042")])
    load_raw(warehouse, "shop", "orders", [{"id": "5900042", "customer_id": "7400042", "email": "family@home.io",
                                            "created_at": at(60)}])
    load_raw(warehouse, "shop", "customers", [{"id": "7400042", "email": "family@home.io", "created_at": at(59)}])
    load_raw(warehouse, "pay", "charges", [{"id": "ch_1", "customer": "cus_S", "billing_details__email": "family@home.io",
                                            "metadata__order_id": "5900042", "created": unix(60)}])
    build(warehouse, all_sources())
    son, mum = profile_of(warehouse, "user_id", "u-son"), profile_of(warehouse, "user_id", "u-mum")
    assert son != mum
    assert profile_of(warehouse, "email", "family@home.io") not in (son, mum)  # shared: it joins nobody
    for id_type, value in (("order_id", "5900042"), ("shopify_customer_id", "7400042"), ("stripe_customer_id", "cus_S")):
        assert profile_of(warehouse, id_type, value) == son, id_type


def test_international_phone_with_00_prefix_is_read_as_international(warehouse):
    load_raw(warehouse, "web", "identifies", [row(1, user_id="u-1", phone="0061 410 000 328"),
                                              row(2, user_id="u-2", phone="0600 000 448", country="FR")])
    build(warehouse)
    assert profile_of(warehouse, "phone", "+61410000328") == profile_of(warehouse, "user_id", "u-1")
    assert profile_of(warehouse, "phone", "+33600000448") == profile_of(warehouse, "user_id", "u-2")


def test_abandoned_checkout_joins_a_guest_device_to_the_customer_its_email_names(warehouse):
    """A visitor who never logged in starts a checkout and types their email: Shopify files the
    abandoned checkout under that customer, and the checkout id joins the browser to them."""
    load_raw(warehouse, "web", "identifies", [row(1, user_id="u-1", anonymous_id="laptop", email="ann@example.org")])
    load_raw(warehouse, "web", "pages", [row(100, anonymous_id="phone-browser")])
    load_raw(warehouse, "web", "checkout_started", [row(101, anonymous_id="phone-browser", checkout_id="3100000000007")])
    load_raw(warehouse, "shop", "abandoned_checkouts", [{"id": "3100000000007", "customer_id": "7400001",
                                                         "created_at": at(101)}])
    load_raw(warehouse, "shop", "customers", [{"id": "7400001", "email": "ann@example.org", "created_at": at(2)}])
    load_raw(warehouse, "web", "pages", [row(200, anonymous_id="stranger")])
    build(warehouse, all_sources())
    ann = profile_of(warehouse, "user_id", "u-1")
    assert profile_of(warehouse, "anonymous_id", "phone-browser") == ann
    assert profile_of(warehouse, "checkout_id", "3100000000007") == ann
    assert profile_of(warehouse, "anonymous_id", "stranger") != ann


def test_newsletter_link_mc_eid_joins_the_browser_to_the_list_member(warehouse):
    """Mailchimp's link tracking appends mc_cid and mc_eid (the member's unique_email_id)."""
    load_raw(warehouse, "news", "members", [{"id": "5f1d", "email_address": "ann@example.org",
                                             "unique_email_id": "9f3e2d1c0b", "timestamp_opt": at(1)}])
    load_raw(warehouse, "web", "pages", [
        row(10, anonymous_id="tablet", context_page_search="?utm_source=mailchimp&mc_cid=c1&mc_eid=9f3e2d1c0b"),
        row(11, anonymous_id="other", context_page_search="?xmc_eid=9f3e2d1c0b&utm_source=google"),
        row(12, anonymous_id="plain", context_page_search="")])
    build(warehouse, all_sources())
    ann = profile_of(warehouse, "mailchimp_member_id", "5f1d")
    assert profile_of(warehouse, "anonymous_id", "tablet") == ann
    assert profile_of(warehouse, "mailchimp_unique_email_id", "9f3e2d1c0b") == ann
    assert profile_of(warehouse, "anonymous_id", "other") != ann  # only a whole mc_eid parameter counts
    assert len({profile_of(warehouse, "anonymous_id", device) for device in ("other", "plain")} - {ann}) == 2


def test_member_row_anchored_on_a_shared_email_still_ties_its_own_ids_together(warehouse):
    """Mum and son share an email; her list member's id and email id stay with her phone when
    the email (the row's anchor) is isolated as shared: the row's second anchor ties them."""
    load_raw(warehouse, "web", "identifies", [row(1, user_id="u-mum", email="family@home.io", phone="+14155550100"),
                                              row(2, user_id="u-son", email="family@home.io")])
    load_raw(warehouse, "news", "members", [{"id": "m-fam", "email_address": "family@home.io",
                                             "unique_email_id": "e1d2c3b4a5", "merge_fields__phone": "+1 415 555 0100",
                                             "timestamp_opt": at(3)}])
    build(warehouse, all_sources())
    mum, son = profile_of(warehouse, "user_id", "u-mum"), profile_of(warehouse, "user_id", "u-son")
    assert mum != son and profile_of(warehouse, "email", "family@home.io") not in (mum, son)
    assert profile_of(warehouse, "mailchimp_member_id", "m-fam") == mum
    assert profile_of(warehouse, "mailchimp_unique_email_id", "e1d2c3b4a5") == mum
