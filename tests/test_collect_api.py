"""The Tracking API contract: auth, validation, limits, enrichment, quarantine, CORS, metrics."""

from __future__ import annotations

import gzip
import json
from datetime import datetime

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collect_helpers import WRITE_KEYS, spooled_messages
from tests.collect_helpers import client, server, spool_dir  # noqa: F401 - fixtures

KEY = WRITE_KEYS["website"]


def stop_and_read(server, spool_dir, kind="events"):
    server.stop()
    return spooled_messages(spool_dir, kind)


def test_track_is_acknowledged_only_with_success_body_and_lands_in_spool(server, client, spool_dir):
    response = client.post("/v1/track", json={"userId": "u1", "event": "Order Completed",
                                              "properties": {"revenue": 42.5}})
    assert response.status_code == 200 and response.json() == {"success": True}
    [message] = stop_and_read(server, spool_dir)
    assert message["type"] == "track" and message["event"] == "Order Completed"
    assert message["properties"] == {"revenue": 42.5}
    assert len(message["messageId"]) == 36 and message["receivedAt"].endswith("Z")
    assert message["context"]["ip"] == "127.0.0.1"


def test_clock_skew_is_corrected_from_sent_at(server, client, spool_dir):
    # the device clock is 3 hours fast: it says the event happened 10 s before sending
    client.post("/v1/track", json={"userId": "u", "event": "E", "timestamp": "2030-01-01T03:00:00Z",
                                   "sentAt": "2030-01-01T03:00:10Z"})
    [message] = stop_and_read(server, spool_dir)
    received = datetime.fromisoformat(message["receivedAt"])
    corrected = datetime.fromisoformat(message["timestamp"])
    assert (received - corrected).total_seconds() == pytest.approx(10, abs=0.002)
    assert message["originalTimestamp"] == "2030-01-01T03:00:00Z"


@pytest.mark.parametrize("path,expected_type", [("t", "track"), ("i", "identify"), ("p", "page"),
                                                ("s", "screen"), ("g", "group"), ("a", "alias"),
                                                ("identify", "identify"), ("screen", "screen")])
def test_short_and_full_paths_set_the_message_type(server, client, spool_dir, path, expected_type):
    body = {"userId": "u", "event": "E", "groupId": "g1", "previousId": "old"}
    assert client.post(f"/v1/{path}", json=body).status_code == 200
    [message] = stop_and_read(server, spool_dir)
    assert message["type"] == expected_type


def test_write_key_in_body_authenticates_and_is_never_stored(server, spool_dir):
    response = httpx.post(f"{server.url}/v1/identify", json={"writeKey": KEY, "userId": "u", "traits": {"a": 1}})
    assert response.status_code == 200
    [message] = stop_and_read(server, spool_dir)
    assert "writeKey" not in message and KEY not in orjson.dumps(message).decode()


@pytest.mark.parametrize("auth", [None, ("wrong-key", ""), ("", "")])
def test_missing_or_unknown_write_key_is_401(server, spool_dir, auth):
    response = httpx.post(f"{server.url}/v1/track", json={"userId": "u", "event": "E"}, auth=auth)
    assert response.status_code == 401 and response.json()["success"] is False
    assert stop_and_read(server, spool_dir) == []


def test_write_key_selects_the_source(server, spool_dir):
    httpx.post(f"{server.url}/v1/track", json={"userId": "u", "event": "Opened"}, auth=(WRITE_KEYS["app"], ""))
    server.stop()
    from tests.collect_helpers import spooled_records

    [record] = spooled_records(spool_dir)
    assert record["source"] == "app"


@pytest.mark.parametrize("path,body,field", [
    ("track", {"userId": "u"}, "event"),
    ("track", {"event": "E"}, "userId"),
    ("alias", {"userId": "u"}, "previousId"),
    ("group", {"userId": "u"}, "groupId"),
    ("track", {"userId": "u", "event": "E", "properties": [1, 2]}, "properties"),
    ("track", {"userId": "u", "event": "E", "timestamp": "yesterday"}, "timestamp"),
])
def test_invalid_single_message_is_400_naming_the_field_and_is_quarantined(server, client, spool_dir, path, body,
                                                                           field):
    response = client.post(f"/v1/{path}", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field and field in response.json()["error"]
    assert stop_and_read(server, spool_dir) == []
    [item] = spooled_messages(spool_dir, "quarantine")
    assert item["field"] == field and item["raw"]["userId" if "userId" in body else "event"]


def test_batch_accepts_valid_messages_and_lists_rejected_indexes(server, client, spool_dir):
    batch = [{"type": "track", "event": "A", "userId": "u"},
             {"type": "track", "userId": "u"},
             {"type": "nonsense", "userId": "u"},
             {"type": "page", "name": "Home", "anonymousId": "anon"}]
    response = client.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 200
    assert [r["index"] for r in response.json()["rejected"]] == [1, 2]
    accepted = stop_and_read(server, spool_dir)
    assert [m.get("event") or m.get("name") for m in accepted] == ["A", "Home"]
    quarantined = spooled_messages(spool_dir, "quarantine")
    assert [q["index"] for q in quarantined] == [1, 2] and quarantined[1]["raw"]["type"] == "nonsense"


def test_batch_with_only_invalid_messages_is_400_and_kept_in_quarantine(server, client, spool_dir):
    response = client.post("/v1/batch", json={"batch": [{"type": "track"}, {"type": "alias", "userId": "u"}]})
    assert response.status_code == 400 and len(response.json()["rejected"]) == 2
    assert stop_and_read(server, spool_dir) == []
    assert len(spooled_messages(spool_dir, "quarantine")) == 2


def test_batch_context_and_integrations_merge_into_each_message(server, client, spool_dir):
    client.post("/v1/batch", json={
        "batch": [{"type": "track", "event": "A", "userId": "u", "context": {"locale": "fr-FR"}},
                  {"type": "identify", "userId": "u"}],
        "context": {"library": {"name": "analytics-test"}, "locale": "en-US"},
        "integrations": {"All": False}})
    first, second = stop_and_read(server, spool_dir)
    assert first["context"]["locale"] == "fr-FR" and first["context"]["library"]["name"] == "analytics-test"
    assert second["context"]["locale"] == "en-US" and second["integrations"] == {"All": False}


def test_message_over_32kb_is_rejected_naming_the_limit(server, client, spool_dir):
    big = {"userId": "u", "event": "E", "properties": {"blob": "x" * 33_000}}
    response = client.post("/v1/track", json=big)
    assert response.status_code == 400 and "32 KB" in response.json()["error"]


def test_body_over_500kb_is_413(server, client):
    batch = [{"type": "track", "event": "E", "userId": "u", "properties": {"p": "x" * 1000}}] * 520
    response = client.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 413 and response.json()["limit_bytes"] == 500 * 1024


def test_more_than_2500_messages_is_400(server, client):
    response = client.post("/v1/batch", json={"batch": [{"type": "track", "event": "E", "userId": "u"}] * 2501})
    assert response.status_code == 400 and "2500" in response.json()["error"]


def test_gzip_and_text_plain_bodies_are_accepted(server, spool_dir):
    body = gzip.compress(orjson.dumps({"batch": [{"type": "track", "event": "Zipped", "userId": "u"}]}))
    zipped = httpx.post(f"{server.url}/v1/batch", content=body, auth=(KEY, ""),
                        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    plain = httpx.post(f"{server.url}/v1/t", content=orjson.dumps({"writeKey": KEY, "event": "Plain",
                                                                   "anonymousId": "a"}),
                       headers={"Content-Type": "text/plain"})
    assert zipped.status_code == 200 and plain.status_code == 200
    assert {m["event"] for m in stop_and_read(server, spool_dir)} == {"Zipped", "Plain"}


def test_gzip_bomb_is_refused_as_too_large(server):
    bomb = gzip.compress(b'{"batch": [' + b" " * 5_000_000 + b"]}")
    response = httpx.post(f"{server.url}/v1/batch", content=bomb, auth=(KEY, ""),
                          headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert response.status_code == 413


def test_cors_preflight_echoes_the_origin(server):
    response = httpx.options(f"{server.url}/v1/t", headers={"Origin": "https://shop.example",
                                                            "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://shop.example"


def test_settings_point_analytics_js_back_at_this_host(server):
    response = httpx.get(f"{server.url}/v1/projects/{KEY}/settings")
    settings_body = response.json()["integrations"]["Segment.io"]
    assert settings_body["apiKey"] == KEY
    assert settings_body["apiHost"] == f"127.0.0.1:{server.port}/v1"
    assert httpx.get(f"{server.url}/v1/projects/not-a-key/settings").status_code == 404


def test_metrics_count_accepted_and_rejected_messages(server, client):
    client.post("/v1/batch", json={"batch": [{"type": "track", "event": "A", "userId": "u"}] * 3
                                   + [{"type": "track", "userId": "u"}]})
    httpx.post(f"{server.url}/v1/track", json={"userId": "u", "event": "A"}, auth=("bad", ""))
    text = httpx.get(f"{server.url}/metrics").text
    assert 'headwater_messages_accepted_total{source="website"} 3.0' in text
    assert 'headwater_messages_rejected_total{reason="invalid_message"} 1.0' in text
    assert 'headwater_messages_rejected_total{reason="unauthorized"} 1.0' in text
    assert "headwater_spool_fsync_seconds_count" in text and 'headwater_spool_files{state="open"} 1.0' in text


def test_unknown_route_and_wrong_method_are_json_errors(server, client):
    assert client.get("/v1/track").status_code == 405
    assert client.post("/v2/track", json={}).json()["success"] is False


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
message_like = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["track", "identify", "page", "alias", "group", "bogus"]) | json_values,
    "userId": st.text(max_size=5) | json_values, "anonymousId": json_values, "event": json_values,
    "timestamp": st.text(max_size=30) | json_values, "sentAt": st.text(max_size=30),
    "properties": json_values, "context": json_values, "messageId": json_values, "previousId": json_values,
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["track", "batch", "identify", "alias", "group", "b", "page"]),
       body=st.one_of(message_like, st.fixed_dictionaries({"batch": st.lists(message_like, max_size=4)}), json_values),
       raw_suffix=st.binary(max_size=8))
def test_no_input_produces_a_server_error(client, path, body, raw_suffix):
    response = client.post(f"/v1/{path}", content=json.dumps(body).encode() + raw_suffix,
                           headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text
    assert "success" in response.json()


@pytest.mark.parametrize("bad_type", [["track"], {"t": 1}, 7, None])
def test_batch_message_with_a_non_string_type_is_rejected_not_crashing(client, bad_type):
    response = client.post("/v1/batch", json={"batch": [{"type": bad_type, "userId": "u", "event": "E"}]})
    assert response.status_code == 400 and response.json()["rejected"][0]["field"] == "type"
