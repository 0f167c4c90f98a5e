"""Regression tests for issue 17's collect defects: each input once gave a 5xx, or a 200 whose
message could never load, or kept the write key; now each is a 400 naming the field (or loads)."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from sources.collect.spool import CLOSED, SpoolWriter, encode, read_records
from sources.collect.storable import MAX_DEPTH
from sources.stripe.webhooks import signature_for
from tests.collect_helpers import (STRIPE_WEBHOOK_SECRET, WRITE_KEYS, spooled_messages, spooled_records,
                                   start_collect)
from tests.collect_helpers import client, server, spool_dir  # noqa: F401 - fixtures

KEY = WRITE_KEYS["website"]


@pytest.fixture
def webhook_server(tmp_path):
    """A collect endpoint with Stripe and Shopify webhook sources."""
    server = start_collect(tmp_path / "webhook-spool", webhooks=True)
    yield server
    server.stop()


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


def assert_400_naming(response: httpx.Response, field: str) -> dict:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == field and field in body["error"], body
    return body


def test_properties_nested_300_levels_are_a_400_naming_the_path_not_a_500(client):
    response = client.post("/v1/track", json={"userId": "u", "event": "Deep", "properties": nested(300)})
    body = assert_400_naming(response, "properties" + ".a" * (MAX_DEPTH - 1))
    assert "deeper than" in body["error"]


def test_a_deep_message_does_not_fail_the_rest_of_its_batch(server, client, spool_dir):
    batch = [{"type": "track", "userId": "u", "event": "Fine"},
             {"type": "track", "userId": "u", "event": "Deep", "properties": nested(300)}]
    response = client.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 200 and [r["index"] for r in response.json()["rejected"]] == [1]
    server.stop()
    assert [m["event"] for m in spooled_messages(spool_dir)] == ["Fine"]
    [kept] = spooled_messages(spool_dir, "quarantine")
    assert "deeper than" in kept["reason"] and kept["raw"]["event"] == "Deep"  # kept, pruned, for the record


def test_a_deep_shared_batch_context_is_refused_per_message(client):
    response = client.post("/v1/batch", json={"context": nested(300), "batch": [
        {"type": "track", "userId": "u", "event": "E"}]})
    assert response.status_code == 400 and "deeper than" in response.json()["rejected"][0]["reason"]


@pytest.mark.parametrize("times, field", [
    ({"timestamp": "0001-01-01T00:00:00+14:00"}, "timestamp"),
    ({"timestamp": "9999-12-31T23:59:59-10:00"}, "timestamp"),
    ({"timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T00:00:00Z"}, "sentAt"),
    ({"sentAt": "garbage"}, "sentAt"),
    ({"originalTimestamp": "yesterday"}, "originalTimestamp"),
    ({"timestamp": 1700000000}, "timestamp"),
])
def test_out_of_range_or_garbage_times_are_a_400_naming_the_field(client, times, field):
    response = client.post("/v1/track", json={"userId": "u", "event": "E", **times})
    assert_400_naming(response, field)


def test_a_batch_sent_at_of_garbage_is_refused_even_without_timestamps(client):
    response = client.post("/v1/batch", json={"sentAt": "garbage", "batch": [
        {"type": "track", "userId": "u", "event": "E"}]})
    assert response.status_code == 400 and response.json()["rejected"][0]["field"] == "sentAt"


@pytest.mark.parametrize("body, field", [
    ({"userId": "u", "event": "   "}, "event"),
    ({"userId": "u", "event": "E", "properties": {"": 1}}, "properties"),
    ({"userId": "u", "event": "E", "properties": {"ok": {"   ": "x"}}}, "properties.ok"),
    ({"userId": "u", "event": "E", "context": {" ": 1}}, "context"),
    ({"userId": "u", "anonymousId": ["a", "b"], "event": "E"}, "anonymousId"),
    ({"userId": "u", "anonymousId": {"id": 1}, "event": "E"}, "anonymousId"),
    ({"userId": "u", "event": "E", "properties": {"note": "a\x00b"}}, "properties.note"),
])
def test_what_could_never_load_is_a_400_naming_the_field(client, body, field):
    assert_400_naming(client.post("/v1/track", json=body), field)


def test_page_name_that_is_an_object_is_a_400(client):
    assert_400_naming(client.post("/v1/page", json={"userId": "u", "name": {"x": 1}}), "name")


def test_too_many_fields_is_a_400_before_the_loader_would_refuse_it(client):
    properties = {f"p{index}": index for index in range(1200)}
    body = assert_400_naming(client.post("/v1/track", json={"userId": "u", "event": "Wide",
                                                            "properties": properties}), "(message)")
    assert "1202 fields, more than the 1000" in body["error"]


def test_numbers_as_ids_are_kept_as_text(server, client, spool_dir):
    assert client.post("/v1/identify", json={"userId": 42, "anonymousId": 7.5}).status_code == 200
    server.stop()
    [message] = spooled_messages(spool_dir)
    assert message["userId"] == "42" and message["anonymousId"] == "7.5"


def test_an_unparseable_body_is_quarantined_without_the_write_key(server, spool_dir):
    body = b'{"writeKey": "' + KEY.encode() + b'", "userId": "u", "event": "E", "note": "' + KEY.encode() + b'"'
    response = httpx.post(f"{server.url}/v1/track", content=body, auth=(KEY, ""))
    assert response.status_code == 400
    cut = httpx.post(f"{server.url}/v1/track", content=b'{"writeKey": "' + KEY[:6].encode(), auth=(KEY, ""))
    assert cut.status_code == 400
    server.stop()
    kept = spooled_messages(spool_dir, "quarantine")
    assert len(kept) == 2 and all('"writeKey": "[removed]"' in item["raw"] for item in kept)
    assert KEY not in orjson.dumps(spooled_records(spool_dir)).decode()
    assert KEY[:6] not in orjson.dumps(spooled_records(spool_dir)).decode()


def test_a_rejected_message_is_quarantined_without_its_write_key(server, client, spool_dir):
    response = client.post("/v1/batch", json={"writeKey": KEY, "batch": [
        {"type": "track", "writeKey": KEY, "userId": "u", "event": "   "}]})
    assert response.status_code == 400
    server.stop()
    assert KEY not in orjson.dumps(spooled_records(spool_dir)).decode()


@pytest.mark.parametrize("header", [
    "t={now},v1=" + "é" * 64,
    "t={now},v1=" + "ü" * 10,
    "t=" + "9" * 400 + ",v1=" + "0" * 64,
    "t=-5,v1=" + "0" * 64,
    "t=١٢٣,v1=" + "0" * 64,
    "t={now}",
    "v1=" + "0" * 64,
    ",,,=",
])
def test_a_malformed_stripe_signature_is_a_400_not_a_500(webhook_server, header):
    body = b'{"id": "evt_1", "type": "charge.succeeded", "data": {"object": {}}}'
    response = httpx.post(f"{webhook_server.url}/webhooks/stripe/stripe", content=body,
                          headers={"Stripe-Signature": header.format(now=int(time.time())).encode("utf-8")})
    assert response.status_code == 400 and "Stripe-Signature" in response.json()["error"]
    assert STRIPE_WEBHOOK_SECRET not in response.text
    assert signature_for(STRIPE_WEBHOOK_SECRET, int(time.time()), body) not in response.text


@pytest.mark.parametrize("header", ["é" * 44, "ü", "=" * 300])
def test_a_non_ascii_shopify_hmac_is_a_401_not_a_500(webhook_server, header):
    response = httpx.post(f"{webhook_server.url}/webhooks/shopify/shopify", content=b'{"id": 1}', headers={
        "X-Shopify-Hmac-Sha256": header.encode("utf-8"), "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "w-1"})
    assert response.status_code == 401


def test_two_writers_of_one_name_in_one_second_never_replace_each_others_files(tmp_path):
    spool_dir = tmp_path / "spool"
    paths = []
    for number in range(3):  # a restarted app in the same process gets the same writer name
        writer = SpoolWriter(spool_dir, name="same-name")
        writer.write(encode({"source": "website", "kind": "events", "messages": [{"n": number}]}))
        paths.append(writer.close())
    assert len(set(paths)) == 3
    kept = sorted(record["messages"][0]["n"] for path in (spool_dir / CLOSED).glob("*.hws")
                  for record in read_records(path))
    assert kept == [0, 1, 2]


def test_publishing_onto_an_existing_name_keeps_both_files(tmp_path):
    from sources.collect.spool import publish

    (tmp_path / "open").mkdir()
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "f.hws").write_bytes(b"first")
    (tmp_path / "open" / "f.hws").write_bytes(b"second")
    target = publish(tmp_path / "open" / "f.hws", tmp_path / "closed")
    assert target.name != "f.hws" and target.read_bytes() == b"second"
    assert (tmp_path / "closed" / "f.hws").read_bytes() == b"first"
    assert not (tmp_path / "open" / "f.hws").exists()
