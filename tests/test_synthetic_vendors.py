"""Vendor records keep the vendors' documented shapes and agree with each other and with
the events: what the emulators serve and the loaders parse."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sources.synthetic import generate_world, iter_events, iter_vendor_records

END = datetime(2026, 11, 1, tzinfo=UTC)
GID = re.compile(r"^gid://shopify/(\w+)/(\d+)$")
MONEY = re.compile(r"^\d+\.\d{2}$")
STRIPE_REQUIRED = {
    "customers": ("cus_", "customer", {"email", "name", "metadata", "created"}),
    "charges": ("ch_", "charge", {"amount", "currency", "customer", "payment_intent", "paid", "status", "billing_details", "metadata"}),
    "payment_intents": ("pi_", "payment_intent", {"amount", "currency", "customer", "status", "latest_charge"}),
    "invoices": ("in_", "invoice", {"customer", "amount_paid", "status", "parent", "lines", "period_start"}),
    "subscriptions": ("sub_", "subscription", {"customer", "status", "items", "start_date"}),
    "refunds": ("re_", "refund", {"amount", "charge", "status"}),
    "checkout_sessions": ("cs_", "checkout.session", {"mode", "status", "payment_status", "customer", "amount_total"}),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("vendors")
    generate_world(out, 400, seed=21, end=END)
    return out


def _refs(node, found):
    """Every {id: gid, legacyResourceId} pair anywhere inside a Shopify node."""
    if isinstance(node, dict):
        if "id" in node and isinstance(node["id"], str) and node["id"].startswith("gid://"):
            found.append(node)
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


@pytest.mark.parametrize("kind", ["products", "customers", "orders", "abandoned_checkouts"])
def test_shopify_gid_and_legacy_resource_id_agree(world, kind):
    rows = list(iter_vendor_records(world, "shopify", kind))
    assert rows
    for row in rows:
        assert GID.match(row["id"]) and row["legacyResourceId"] == GID.match(row["id"]).group(2)
        for ref in _refs(row, []):
            if "legacyResourceId" in ref:
                assert GID.match(ref["id"]).group(2) == ref["legacyResourceId"]


def test_shopify_orders_add_up_and_reference_real_customers_and_variants(world):
    customers = {c["id"]: c for c in iter_vendor_records(world, "shopify", "customers")}
    variants = {v["id"] for p in iter_vendor_records(world, "shopify", "products") for v in p["variants"]["nodes"]}
    orders = list(iter_vendor_records(world, "shopify", "orders"))
    for order in orders:
        total = Decimal(order["totalPriceSet"]["shopMoney"]["amount"])
        lines = sum(Decimal(li["originalUnitPriceSet"]["shopMoney"]["amount"]) * li["quantity"]
                    for li in order["lineItems"]["nodes"])
        discount = Decimal(order["totalDiscountsSet"]["shopMoney"]["amount"])
        assert MONEY.match(order["totalPriceSet"]["shopMoney"]["amount"])
        assert total == lines - discount
        assert all(li["variant"]["id"] in variants for li in order["lineItems"]["nodes"])
        if order["customer"] is not None:
            assert order["customer"]["id"] in customers
    spent = defaultdict(Decimal)
    count = Counter()
    for order in orders:
        if order["customer"]:
            count[order["customer"]["id"]] += 1
            spent[order["customer"]["id"]] += Decimal(order["totalPriceSet"]["shopMoney"]["amount"]) - Decimal(
                order["totalRefundedSet"]["shopMoney"]["amount"])
    for customer_id, customer in customers.items():
        assert int(customer["numberOfOrders"]) == count[customer_id]
        assert Decimal(customer["amountSpent"]["amount"]) == spent[customer_id]


def test_shopify_keeps_one_customer_per_email(world):
    emails = Counter(c["email"] for c in iter_vendor_records(world, "shopify", "customers"))
    assert emails and max(emails.values()) == 1


@pytest.mark.parametrize("kind", list(STRIPE_REQUIRED))
def test_stripe_objects_have_their_documented_required_fields(world, kind):
    prefix, obj, required = STRIPE_REQUIRED[kind]
    rows = list(iter_vendor_records(world, "stripe", kind))
    assert rows, kind
    for row in rows:
        assert row["id"].startswith(prefix) and row["object"] == obj
        assert isinstance(row["created"], int) and row["livemode"] is False
        assert required <= set(row), required - set(row)
        for key in ("amount", "amount_total", "amount_paid"):
            if key in row:
                assert isinstance(row[key], int)


def test_stripe_references_resolve(world):
    ids = {kind: {r["id"]: r for r in iter_vendor_records(world, "stripe", kind)} for kind in STRIPE_REQUIRED}
    for charge in ids["charges"].values():
        assert charge["customer"] in ids["customers"] and charge["payment_intent"] in ids["payment_intents"]
        assert ids["payment_intents"][charge["payment_intent"]]["latest_charge"] == charge["id"]
    for refund in ids["refunds"].values():
        assert ids["charges"][refund["charge"]]["refunded"] is True
    for invoice in ids["invoices"].values():
        assert invoice["parent"]["subscription_details"]["subscription"] in ids["subscriptions"]


def test_a_charge_paying_a_shopify_order_names_it_and_matches_its_total(world):
    orders = {o["legacyResourceId"]: o for o in iter_vendor_records(world, "shopify", "orders")}
    paid = [c for c in iter_vendor_records(world, "stripe", "charges") if "order_id" in c["metadata"]]
    assert paid
    for charge in paid:
        order = orders[charge["metadata"]["order_id"]]
        assert "stripe" in order["paymentGatewayNames"]
        assert charge["amount"] == int(Decimal(order["totalPriceSet"]["shopMoney"]["amount"]) * 100)


def test_workshop_bookings_are_stripe_checkout_sessions_seen_in_events(world):
    sessions = {s["id"] for s in iter_vendor_records(world, "stripe", "checkout_sessions")}
    booked = {m["properties"]["order_id"] for s in ("website", "app") for m in iter_events(world, s)
              if m.get("event") == "Order Completed" and m["properties"]["order_id"].startswith("cs_")}
    assert booked and booked == sessions


def test_mailchimp_member_id_is_md5_of_lowercase_email(world):
    members = list(iter_vendor_records(world, "mailchimp", "members"))
    assert members
    for member in members:
        assert member["id"] == hashlib.md5(member["email_address"].lower().encode()).hexdigest()
        assert member["status"] in {"subscribed", "unsubscribed", "cleaned", "pending"}
    assert len({m["id"] for m in members}) == len(members)


def test_mailchimp_reports_total_the_email_activity(world):
    members = {m["id"] for m in iter_vendor_records(world, "mailchimp", "members")}
    opens, clicks, sent, unsubscribed = Counter(), Counter(), Counter(), Counter()
    for row in iter_vendor_records(world, "mailchimp", "email_activity"):
        assert row["email_id"] in members
        sent[row["campaign_id"]] += 1
        actions = Counter(a["action"] for a in row["activity"])
        opens[row["campaign_id"]] += actions["open"]
        clicks[row["campaign_id"]] += actions["click"]
    for row in iter_vendor_records(world, "mailchimp", "unsubscribes"):
        unsubscribed[row["campaign_id"]] += 1
    reports = list(iter_vendor_records(world, "mailchimp", "reports"))
    assert reports and sum(opens.values()) > 0 and sum(clicks.values()) > 0
    for report in reports:
        assert report["emails_sent"] == sent[report["id"]]
        assert report["opens"]["opens_total"] == opens[report["id"]]
        assert report["clicks"]["clicks_total"] == clicks[report["id"]]
        assert report["unsubscribed"] == unsubscribed[report["id"]]
    (audience,) = list(iter_vendor_records(world, "mailchimp", "lists"))
    assert {c["recipients"]["list_id"] for c in iter_vendor_records(world, "mailchimp", "campaigns")} == {audience["id"]}


def test_newsletter_landings_carry_mc_eid_only_for_confirmed_list_members(world):
    """Mailchimp's e-commerce link tracking tags campaign links with mc_cid (campaign id) and
    mc_eid (the member's unique_email_id): only people on the list arrive that way."""
    from urllib.parse import parse_qs

    from sources.synthetic.truth import iter_truth

    owner = {(r["kind"], r["key"]): r["person_id"] for r in iter_truth(world, "records")
             if r["kind"] in ("event", "mailchimp_member")}
    members = {}
    for member in iter_vendor_records(world, "mailchimp", "members"):
        members[member["unique_email_id"]] = (member, owner[("mailchimp_member", f"{member['list_id']}:{member['id']}")])
    campaigns = {c["id"]: c for c in iter_vendor_records(world, "mailchimp", "campaigns")}
    clicks = {(a["campaign_id"], a["email_id"]): {x["url"] for x in a["activity"] if x["action"] == "click"}
              for a in iter_vendor_records(world, "mailchimp", "email_activity")}
    landings = 0
    for message in iter_events(world, "website"):
        if message["type"] != "page":
            continue
        params = parse_qs(message["context"]["page"]["search"].lstrip("?"))
        if params.get("utm_source") != ["mailchimp"]:
            assert "mc_eid" not in params
            continue
        landings += 1
        (eid,), (cid,) = params["mc_eid"], params["mc_cid"]
        member, person = members[eid]  # a real member's unique_email_id ...
        assert person == owner[("event", message["messageId"])]  # ... of the person who landed
        assert member["status"] != "pending"  # an unconfirmed address receives no campaign
        sent = campaigns[cid]["send_time"]
        assert member["timestamp_opt"] < sent  # a campaign sent to them after they joined
        link = message["context"]["page"]["url"].split("&mc_cid=")[0]
        assert link in clicks[(cid, member["id"])]  # ... which they received, and Mailchimp reports the click
    assert landings > 20
    assert len(members) == len({m["id"] for m, _ in members.values()})  # one email id per member


def test_some_carts_are_left_by_visitors_not_logged_in_and_filed_under_their_customer(world):
    """Most abandoned carts come from visitors who never logged in on that browser; Shopify
    files the checkout under the customer whose email was typed into it."""
    started = {m["properties"]["checkout_id"]: m for s in ("website", "app") for m in iter_events(world, s)
               if m.get("event") == "Checkout Started"}
    customers = {c["legacyResourceId"]: c for c in iter_vendor_records(world, "shopify", "customers")}
    anonymous = 0
    for checkout in iter_vendor_records(world, "shopify", "abandoned_checkouts"):
        event = started[checkout["legacyResourceId"]]
        customer = customers[checkout["customer"]["legacyResourceId"]]
        assert customer["createdAt"] <= checkout["createdAt"]  # created when the contact was typed, if not before
        anonymous += "userId" not in event
    assert anonymous > 3
