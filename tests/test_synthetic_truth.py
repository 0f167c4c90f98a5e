"""The ground truth: every adversarial case appears at its configured rate and is
labelled, every record maps to a person, and truth identifiers are the ones in the data."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from sources.synthetic import WorldRates, generate_world, iter_events, iter_vendor_records
from sources.synthetic.files import batch_files, read_batch
from sources.synthetic.normalize import normalize_email
from sources.synthetic.truth import iter_truth
from sources.synthetic.world import VENDOR_FILES

END = datetime(2026, 11, 1, tzinfo=UTC)
PEOPLE = 1000
RATES = WorldRates(shared_device=0.1, household_email=0.08, recycled_phone=0.06, placeholder=0.05,
                   duplicate_message=0.03, late_message=0.05, clock_skew_device=0.2, second_email=0.1)


def _within(observed: float, rate: float, trials: int, sigmas: float = 4.0) -> bool:
    spread = sigmas * math.sqrt(rate * (1 - rate) / trials)
    return abs(observed - rate) <= spread


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("adversarial")
    generate_world(out, PEOPLE, seed=3, end=END, rates=RATES)
    return out


@pytest.fixture(scope="module")
def identifiers(world):
    return list(iter_truth(world, "identifiers"))


@pytest.fixture(scope="module")
def records(world):
    return list(iter_truth(world, "records"))


@pytest.mark.parametrize("reason,rate", [("shared_device", RATES.shared_device),
                                         ("household_email", RATES.household_email),
                                         ("recycled_phone", RATES.recycled_phone)])
def test_pair_cases_appear_at_their_configured_rate(identifiers, reason, rate):
    rows = [row for row in identifiers if row["reason"] == reason]
    assert rows and all(row["ambiguous"] and row["person_id"] is None for row in rows)
    assert all(len(row["person_ids"]) == 2 for row in rows)
    people = {p for row in rows for p in row["person_ids"]}
    assert _within(len(people) / PEOPLE, rate, PEOPLE // 2), (reason, len(people))


def test_placeholders_are_ambiguous_and_used_at_their_rate(identifiers):
    rows = [row for row in identifiers if row["reason"] == "placeholder"]
    values = {row["id_value"] for row in rows}
    assert values <= {"test@test.com", "null", "0", "anonymous", "-1"} and len(values) >= 3
    people = {p for row in rows for p in row["person_ids"]}
    assert _within(len(people) / PEOPLE, RATES.placeholder, PEOPLE)
    assert max(len(row["person_ids"]) for row in rows) > 2  # "used by many people"


def test_duplicated_messages_reuse_their_message_id_at_the_configured_rate(world, records):
    sent = Counter(m["messageId"] for s in ("website", "app") for p in batch_files(world, s) for m in read_batch(p))
    twice = {message_id for message_id, count in sent.items() if count == 2}
    assert max(sent.values()) == 2
    flagged = {r["key"] for r in records if r["kind"] == "event" and r["duplicated"]}
    assert twice == flagged
    assert _within(len(twice) / len(sent), RATES.duplicate_message, len(sent))


def test_late_messages_are_sent_hours_after_they_happened(world, records):
    events = {r["key"]: r for r in records if r["kind"] == "event"}
    late = [r for r in events.values() if r["late"]]
    # capped at the world's end, so a few that would be late are not: allow a small shortfall
    assert _within(len(late) / len(events), RATES.late_message, len(events), sigmas=6)
    for source in ("website", "app"):
        for message in iter_events(world, source):
            delay = (datetime.fromisoformat(message["sentAt"]) - datetime.fromisoformat(message["timestamp"])).total_seconds()
            assert (delay >= 3600) == events[message["messageId"]]["late"]


def test_device_skew_rate_counts_devices_not_messages(world, records):
    skew = {r["key"]: r["skew_seconds"] for r in records if r["kind"] == "event"}
    per_device: dict[str, set[float]] = defaultdict(set)
    for source in ("website", "app"):
        for message in iter_events(world, source):
            per_device[message["anonymousId"]].add(skew[message["messageId"]])
    assert all(len(values) == 1 for values in per_device.values())  # a device has one clock
    skewed = sum(1 for values in per_device.values() if abs(next(iter(values))) >= 3600)
    assert _within(skewed / len(per_device), RATES.clock_skew_device, len(per_device))


def test_zero_rates_produce_no_adversarial_cases(tmp_path):
    zero = {name: 0.0 for name in WorldRates.model_fields}
    generate_world(tmp_path, 300, seed=3, end=END, rates=zero)
    rows = list(iter_truth(tmp_path, "identifiers"))
    assert not any(row["ambiguous"] for row in rows)
    assert not any(r.get("late") or r.get("duplicated") or r.get("skew_seconds") for r in iter_truth(tmp_path, "records"))


def test_every_message_and_vendor_record_maps_to_one_person(world, records):
    keyed = {(r["kind"], r["key"]): r["person_id"] for r in records}
    assert len(keyed) == len(records)
    for source in ("website", "app"):
        for message in iter_events(world, source):
            assert keyed[("event", message["messageId"])].startswith("P")
    for kind, key in [("orders", "legacyResourceId"), ("customers", "legacyResourceId")]:
        for row in iter_vendor_records(world, "shopify", kind):
            assert ("shopify_" + kind[:-1], row[key]) in keyed
    for kind in VENDOR_FILES["stripe"]:
        singular = {"charges": "charge", "payment_intents": "payment_intent", "invoices": "invoice",
                    "subscriptions": "subscription", "refunds": "refund", "checkout_sessions": "checkout_session",
                    "customers": "customer"}[kind]
        for row in iter_vendor_records(world, "stripe", kind):
            assert ("stripe_" + singular, row["id"]) in keyed


def test_shared_devices_really_carry_two_peoples_events(world, records, identifiers):
    owner = {r["key"]: r["person_id"] for r in records if r["kind"] == "event"}
    people_on_device: dict[str, set[str]] = defaultdict(set)
    for source in ("website", "app"):
        for message in iter_events(world, source):
            people_on_device[message["anonymousId"]].add(owner[message["messageId"]])
    for row in identifiers:
        if row["id_type"] == "anonymous_id":
            assert people_on_device[row["id_value"]] == set(row["person_ids"])


def test_truth_emails_are_exactly_the_emails_in_the_data(world, identifiers):
    seen: set[str] = set()
    for source in ("website", "app"):
        for message in iter_events(world, source):
            if message["type"] == "identify" and message["traits"].get("email"):
                seen.add(normalize_email(message["traits"]["email"]))
    for kind in ("customers", "orders"):
        seen |= {normalize_email(r["email"]) for r in iter_vendor_records(world, "shopify", kind)}
    seen |= {normalize_email(r["email"]) for r in iter_vendor_records(world, "stripe", "customers")}
    seen |= {normalize_email(r["email_address"]) for r in iter_vendor_records(world, "mailchimp", "members")}
    assert seen == {row["id_value"] for row in identifiers if row["id_type"] == "email"}


def test_messy_data_real_shops_have(world, identifiers):
    typed = [m["traits"]["email"] for s in ("website", "app") for m in iter_events(world, s)
             if m["type"] == "identify" and m["traits"].get("email")]
    assert any(e != normalize_email(e) for e in typed)  # case or spaces
    phones = [r["phone"] for r in iter_vendor_records(world, "stripe", "customers") if r["phone"]]
    assert any(p.startswith("+") for p in phones) and any(not p.startswith("+") for p in phones)
    emails_per_person = Counter(row["person_id"] for row in identifiers if row["id_type"] == "email" and row["person_id"])
    assert max(emails_per_person.values()) >= 2  # a person with two emails
    assert any(o["customer"] is None for o in iter_vendor_records(world, "shopify", "orders"))  # guest checkouts
    buyers = {row["person_id"] for row in identifiers if row["id_type"] == "shopify_customer_id"}
    members = {row["person_id"] for row in identifiers if row["id_type"] == "mailchimp_member_id"}
    assert members - buyers  # newsletter people who never bought


def _phones_with_their_row_country(world):
    """Every raw phone in the world with the country its row gives, where the models read it."""
    for source in ("website", "app"):
        for message in iter_events(world, source):
            traits = message.get("traits") or {}
            if message["type"] == "identify" and traits.get("phone"):
                yield traits["phone"], traits.get("country")
    for kind in ("customers", "orders"):
        for record in iter_vendor_records(world, "shopify", kind):
            if record["phone"]:
                yield record["phone"], None
    for record in iter_vendor_records(world, "stripe", "customers"):
        if record["phone"]:
            yield record["phone"], record["address"]["country"]
    for kind, details, address in (("charges", "billing_details", "address"),
                                   ("checkout_sessions", "customer_details", "address")):
        for record in iter_vendor_records(world, "stripe", kind):
            if record[details]["phone"]:
                yield record[details]["phone"], record[details][address]["country"]
    for record in iter_vendor_records(world, "mailchimp", "members"):
        if record["merge_fields"]["PHONE"]:
            yield record["merge_fields"]["PHONE"], record["location"]["country_code"]


def test_truth_phones_are_byte_for_byte_what_the_models_make_of_the_data(world, identifiers):
    from models.config import IdentityConfig
    from models.staging.phones import region, to_e164

    default = IdentityConfig().default_country
    modelled = {to_e164(raw, region(country, default), default) for raw, country in _phones_with_their_row_country(world)}
    modelled.discard(None)  # a recycled number typed nationally in another country: invalid_phone, no identifier
    truth = {row["id_value"] for row in identifiers if row["id_type"] == "phone"}
    assert any(raw.startswith("00") for raw, _ in _phones_with_their_row_country(world))  # '00…' forms are there
    assert truth == modelled
