"""The Stripe emulator speaks Stripe's protocol: checked with Stripe's own Python library."""

from __future__ import annotations

import time

import httpx
import pytest
import stripe

from headwater.loopback import LoopbackServer
from sources.stripe.emulator import DEFAULT_API_KEY, StripeEmulator, create_app

DAY = 86400


@pytest.fixture(scope="module")
def served():
    now = int(time.time())
    records = [{"id": f"cus_{i:03d}", "object": "customer", "created": now - 3 * DAY + i, "email": f"u{i}@x.io"}
               for i in range(1, 251)]
    records += [{"id": "sub_live", "object": "subscription", "created": now - DAY, "status": "active"},
                {"id": "sub_gone", "object": "subscription", "created": now - DAY, "status": "canceled"}]
    emulator = StripeEmulator(records)
    with LoopbackServer(create_app(emulator)) as server:
        yield emulator, server.url


def client(url: str, key: str = DEFAULT_API_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": url}, max_network_retries=0)


def test_stripe_library_auto_paginates_every_customer_newest_first(served):
    emulator, url = served
    ids = [c.id for c in client(url).v1.customers.list(params={"limit": 100}).auto_paging_iter()]
    assert len(ids) == 250 and len(set(ids)) == 250
    assert ids[0] == "cus_250" and ids[-1] == "cus_001"


def test_created_filter_and_retrieve_match_stripe_semantics(served):
    emulator, url = served
    pivot = emulator.objects["customers"]["cus_200"]["created"]
    page = client(url).v1.customers.list(params={"created": {"gt": pivot}, "limit": 100})
    assert [c.id for c in page.data] == [f"cus_{i}" for i in range(250, 200, -1)]
    assert client(url).v1.customers.retrieve("cus_007").email == "u7@x.io"


def test_wrong_key_is_a_401_authentication_error_that_masks_the_key(served):
    _, url = served
    with pytest.raises(stripe.AuthenticationError) as failure:
        client(url, "rk_test_wrong_key_123456").v1.customers.list()
    assert failure.value.http_status == 401
    assert "wrong_key_123456" not in str(failure.value)
    missing = httpx.get(f"{url}/v1/customers")
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_limit_outside_1_to_100_is_an_invalid_request_naming_the_param(served, limit):
    _, url = served
    response = httpx.get(f"{url}/v1/customers", params={"limit": limit},
                         headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["param"] == "limit"


def test_unknown_parameter_and_unknown_cursor_are_rejected(served):
    _, url = served
    with pytest.raises(stripe.InvalidRequestError) as failure:
        client(url).v1.customers.list(params={"starting_after": "cus_nope"})
    assert failure.value.param == "starting_after"
    response = httpx.get(f"{url}/v1/customers", params={"colour": "red"},
                         headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "colour"


def test_canceled_subscriptions_are_listed_only_with_status_all(served):
    _, url = served
    default = {s.id for s in client(url).v1.subscriptions.list().data}
    every = {s.id for s in client(url).v1.subscriptions.list(params={"status": "all"}).data}
    assert default == {"sub_live"} and every == {"sub_live", "sub_gone"}


def test_events_filter_by_types_and_forget_events_older_than_30_days():
    emulator = StripeEmulator([{"id": "cus_a", "object": "customer", "created": int(time.time()) - 40 * DAY}])
    emulator.update("customers", "cus_a", {"email": "a@x.io"})
    emulator.create("charges", {"id": "ch_a", "amount": 100, "currency": "usd"})
    with LoopbackServer(create_app(emulator)) as server:
        events = client(server.url).v1.events.list(params={"types": ["customer.created", "customer.updated"]})
        assert [e.type for e in events.data] == ["customer.updated"]  # customer.created is 40 days old
        assert events.data[0].data.object["email"] == "a@x.io"
        wildcard = client(server.url).v1.events.list(params={"type": "charge.*"})
        assert [e.type for e in wildcard.data] == ["charge.succeeded"]


def test_injected_throttle_answers_429_with_retry_after_then_recovers():
    emulator = StripeEmulator([])
    emulator.control.throttle(1, retry_after=2)
    with LoopbackServer(create_app(emulator)) as server:
        headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        throttled = httpx.get(f"{server.url}/v1/charges", headers=headers)
        assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
        assert throttled.json()["error"]["code"] == "rate_limit"
        assert httpx.get(f"{server.url}/v1/charges", headers=headers).status_code == 200


def test_emulators_serve_a_synthetic_world_folder(tmp_path):
    import gzip

    import orjson

    from sources.mailchimp.emulator import DEFAULT_API_KEY as MAILCHIMP_KEY
    from sources.mailchimp.emulator import create_app as mailchimp_app

    stripe_dir, mailchimp_dir = tmp_path / "vendors" / "stripe", tmp_path / "vendors" / "mailchimp"
    stripe_dir.mkdir(parents=True)
    mailchimp_dir.mkdir(parents=True)
    (stripe_dir / "customers.jsonl").write_bytes(
        orjson.dumps({"id": "cus_w", "object": "customer", "created": int(time.time()) - DAY}) + b"\n")
    with gzip.open(stripe_dir / "charges.jsonl.gz", "wb") as handle:
        handle.write(orjson.dumps({"id": "ch_w", "object": "charge", "created": int(time.time()) - DAY}) + b"\n")
    (mailchimp_dir / "lists.jsonl").write_bytes(orjson.dumps({"id": "l1", "name": "News"}) + b"\n")

    with LoopbackServer(create_app(tmp_path)) as server:
        assert [c.id for c in client(server.url).v1.customers.list().data] == ["cus_w"]
        assert [c.id for c in client(server.url).v1.charges.list().data] == ["ch_w"]
    with LoopbackServer(mailchimp_app(tmp_path)) as server:
        lists = httpx.get(f"{server.url}/3.0/lists", auth=("x", MAILCHIMP_KEY)).json()
        assert [item["id"] for item in lists["lists"]] == ["l1"] and lists["total_items"] == 1
