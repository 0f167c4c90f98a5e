"""Event streams: spooled events forwarded to vendor emulators with filters, consent and dead letters."""

from __future__ import annotations

import json

import pytest

from destinations.streams.forwarder import StreamRunner
from destinations.streams.publish import publish
from destinations.streams.replay import replay_dead_letters
from destinations.streams.state import StreamState
from headwater.config import ConfigError, parse_config
from headwater.suppression import identifier_hash, write_suppression_file
from headwater.warehouse import Warehouse
from tests import stream_transforms
from tests.stream_kit import SpoolFeed, StreamEmulators, drain, run, stream_config, track


@pytest.fixture(scope="module")
def emulators():
    with StreamEmulators() as servers:
        yield servers


@pytest.fixture(autouse=True)
def fresh(emulators):
    for control in (emulators.mixpanel.control, emulators.amplitude.control, emulators.slack):
        control.events.clear()
        control.bodies.clear()
        control.event_receipts = 0
        control.clear_log()
    yield


def runner_for(config, name: str, state: StreamState) -> StreamRunner:
    stream = next(s for s in config.streams if s.name == name)
    return StreamRunner(config, stream, state)


def mixpanel_events(emulators) -> dict[str, dict]:
    return {e["properties"]["$insert_id"]: e for e in emulators.mixpanel.control.events.values()}


def test_matching_events_reach_mixpanel_once_with_every_property_and_the_message_id_as_insert_id(tmp_path, emulators):
    config = stream_config(tmp_path, emulators, [
        {"name": "orders", "destination": "mixpanel", "sources": ["website"],
         "filter": {"types": ["track"], "events": ["Order Completed"]}}])
    feed = SpoolFeed(tmp_path / "spool")
    feed.send([track(n) for n in range(1, 41)] + [track(41, event="Product Viewed")])
    feed.send([track(n) for n in range(100, 105)], source="app")          # another source: not this stream's
    feed.send([{"type": "page", "name": "Home", "messageId": "page-1", "anonymousId": "anon-1",
                "timestamp": track(0)["timestamp"]}])
    state = StreamState(tmp_path / "spool")
    run(drain(runner_for(config, "orders", state)))

    events = mixpanel_events(emulators)
    assert sorted(events) == [f"msg-{n:06d}" for n in range(1, 41)]
    first = events["msg-000007"]
    assert first["event"] == "Order Completed"
    assert first["properties"]["revenue"] == 7 and first["properties"]["currency"] == "USD"
    assert first["properties"]["distinct_id"] == "user-007" and first["properties"]["$device_id"] == "anon-007"
    counts = state.counters("orders")
    assert counts[("orders", "forwarded", "")] == 40
    assert counts[("orders", "filtered", "filter")] == 2      # the Product Viewed and the page

    # a second pass over the same spool sends nothing: the cursor moved past every event
    requests = len(emulators.mixpanel.control.requests)
    run(drain(runner_for(config, "orders", state)))
    assert len(emulators.mixpanel.control.requests) == requests

    # rotating the file finishes it for this stream
    feed.rotate()
    run(drain(runner_for(config, "orders", state)))
    assert all(finished for _, finished in state.cursors("orders").values())


def test_pages_and_screens_are_named_as_segment_names_them_and_identify_goes_nowhere_it_cannot(tmp_path, emulators):
    config = stream_config(tmp_path, emulators, [{"name": "all_to_amplitude", "destination": "amplitude"}])
    feed = SpoolFeed(tmp_path / "spool")
    stamp = track(0)["timestamp"]
    consent = {"consent": {"categoryPreferences": {"analytics": True}}}
    feed.send([
        {"type": "page", "name": "Pricing", "messageId": "p-1", "anonymousId": "anon-00042", "timestamp": stamp,
         "context": consent, "properties": {"url": "https://shop.example/pricing"}},
        {"type": "screen", "messageId": "s-1", "userId": "user-00042", "timestamp": stamp, "context": consent},
        {"type": "identify", "messageId": "i-1", "userId": "user-00042", "timestamp": stamp, "context": consent,
         "traits": {"email": "a@example.com"}},
    ])
    state = StreamState(tmp_path / "spool")
    run(drain(runner_for(config, "all_to_amplitude", state)))
    events = {e["insert_id"]: e for e in emulators.amplitude.control.events.values()}
    assert events["p-1"]["event_type"] == "Viewed Pricing Page" and events["p-1"]["device_id"] == "anon-00042"
    assert events["s-1"]["event_type"] == "Loaded a Screen" and events["s-1"]["user_id"] == "user-00042"
    assert "i-1" not in events                                   # identify is amplitude_identify's to take
    assert state.counters("all_to_amplitude")[("all_to_amplitude", "filtered", "type")] == 1


def test_drop_sample_and_property_filters(tmp_path, emulators):
    config = stream_config(tmp_path, emulators, [{
        "name": "filtered", "destination": "mixpanel", "filter": {"types": ["track"]},
        "drop": [{"property": "test", "value": True}], "sample": 0.5,
        "allow_properties": ["revenue", "currency"]}])
    feed = SpoolFeed(tmp_path / "spool")
    feed.send([track(n, test=(n % 10 == 0), card_last4="4242") for n in range(1, 201)])
    state = StreamState(tmp_path / "spool")
    run(drain(runner_for(config, "filtered", state)))

    events = mixpanel_events(emulators)
    counts = state.counters("filtered")
    assert counts[("filtered", "filtered", "drop")] == 20
    sampled_out = counts[("filtered", "filtered", "sample")]
    assert 40 < sampled_out < 140 and len(events) == 180 - sampled_out
    assert all("card_last4" not in e["properties"] and "test" not in e["properties"] for e in events.values())
    assert not any(int(key.split("-")[1]) % 10 == 0 for key in events)

    # the sample is chosen by messageId: the same events are kept by a second stream state
    emulators.mixpanel.control.events.clear()
    run(drain(runner_for(config, "filtered", StreamState(tmp_path / "spool", tmp_path / "second.sqlite"))))
    assert sorted(mixpanel_events(emulators)) == sorted(events)


def test_a_transformation_that_raises_dead_letters_that_event_and_the_stream_goes_on(tmp_path, emulators, warehouse):
    config = stream_config(tmp_path, emulators, [{
        "name": "transformed", "destination": "mixpanel", "filter": {"types": ["track"]},
        "transform": "tests.stream_transforms:mask_and_split"}], warehouse=warehouse.url)
    feed = SpoolFeed(tmp_path / "spool")
    feed.send([track(1), track(2, poison=True), track(3, test=True), track(4, bundle=True), track(5)])
    state = StreamState(tmp_path / "spool")
    stream_transforms.BROKEN["on"] = True
    run(drain(runner_for(config, "transformed", state)))

    events = mixpanel_events(emulators)
    assert sorted(events) == ["msg-000001", "msg-000004", "msg-000004-1", "msg-000005"]
    assert events["msg-000001"]["properties"]["masked"] is True
    assert events["msg-000004-1"]["event"] == "Bundle Item"
    publish(Warehouse(warehouse.url), state)
    with Warehouse(warehouse.url).connect() as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT message_id, error_code, error_message, traceback FROM cdp.stream_dead_letters")
        rows = cursor.fetchall()
    assert len(rows) == 1
    message_id, code, text, trace = rows[0]
    assert (message_id, code) == ("msg-000002", "transform")
    assert "ValueError: cannot read poison" in text and "stream_transforms.py" in trace

    # fixed, the dead letter is replayed through the transformation and delivered once
    stream_transforms.BROKEN["on"] = False
    try:
        results = run(replay_dead_letters(config, state=state))
    finally:
        stream_transforms.BROKEN["on"] = True
    assert list(results.values()) == ["delivered"]
    assert "msg-000002" in mixpanel_events(emulators)
    assert run(replay_dead_letters(config, state=state)) == {}         # nothing left waiting
    with Warehouse(warehouse.url).connect() as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT replay_status FROM cdp.stream_dead_letters")
        assert cursor.fetchall() == [("delivered",)]


def test_a_vendor_rejection_is_a_dead_letter_and_the_rest_of_the_batch_lands(tmp_path, emulators):
    config = stream_config(tmp_path, emulators, [{"name": "orders", "destination": "mixpanel",
                                                  "filter": {"types": ["track"]}}])
    emulators.mixpanel.control.reject_value("user-refused")
    try:
        feed = SpoolFeed(tmp_path / "spool")
        feed.send([track(n) for n in range(1, 6)] + [track(6, user="user-refused")])
        state = StreamState(tmp_path / "spool")
        run(drain(runner_for(config, "orders", state)))
    finally:
        emulators.mixpanel.control.rejected_values.clear()
    assert sorted(mixpanel_events(emulators)) == [f"msg-{n:06d}" for n in range(1, 6)]
    [letter] = state.dead_letters()
    assert letter["message_id"] == "msg-000006" and letter["error_code"] != "transform"


def test_consent_withdrawn_mid_stream_stops_that_persons_events_and_suppression_is_read_live(tmp_path, emulators):
    config = stream_config(tmp_path, emulators, [{"name": "orders", "destination": "mixpanel",
                                                  "filter": {"types": ["track", "identify"]}}])
    feed = SpoolFeed(tmp_path / "spool")
    state = StreamState(tmp_path / "spool")
    runner = runner_for(config, "orders", state)
    feed.send([track(1, user="ann"), track(2, user="bob")])
    feed.send([{"type": "identify", "userId": "ann", "messageId": "ann-optout", "timestamp": track(0)["timestamp"],
                "traits": {"consent_analytics": False}}])
    # later events carry no consent of their own: Ann's stated withdrawal holds, Bob's grant holds
    feed.send([track(3, user="ann", consent=None), track(4, user="bob", consent=None),
               track(5, user="carol", consent=None)])     # Carol never said: not granted by default
    run(drain(runner))
    assert sorted(mixpanel_events(emulators)) == ["msg-000001", "msg-000002", "msg-000004"]
    counts = state.counters("orders")
    assert counts[("orders", "skipped", "consent:analytics")] == 2

    # a deletion request suppresses Bob: his next event is not forwarded, with no restart
    write_suppression_file(config.privacy.suppression_file, {identifier_hash("bob")})
    runner.gate.suppression.check_seconds = 0
    feed.send([track(6, user="bob")])
    run(drain(runner))
    assert "msg-000006" not in mixpanel_events(emulators)
    assert state.counters("orders")[("orders", "skipped", "suppressed")] == 1


def test_stream_configuration_errors_name_the_field(tmp_path, emulators):
    with pytest.raises(ConfigError, match="stream 'x': destination 'nope' is not in the destinations section"):
        stream_config(tmp_path, emulators, [{"name": "x", "destination": "nope"}])
    with pytest.raises(ConfigError, match="sources: 'shop' is not an events source"):
        stream_config(tmp_path, emulators, [{"name": "x", "destination": "mixpanel", "sources": ["shop"]}])
    with pytest.raises(ConfigError, match="not module:function"):
        stream_config(tmp_path, emulators, [{"name": "x", "destination": "mixpanel", "transform": "nocolon"}])
    config = stream_config(tmp_path, emulators, [{"name": "x", "destination": "mixpanel", "mapping": {"colour": "a.b"}}])
    with pytest.raises(ConfigError, match="mapping.colour: not an event field"):
        StreamRunner(config, config.streams[0], StreamState(None, ":memory:"))
    config = stream_config(tmp_path, emulators, [{"name": "x", "destination": "mixpanel",
                                                  "transform": "tests.stream_transforms:missing"}])
    with pytest.raises(ConfigError, match="transform 'tests.stream_transforms:missing' cannot be loaded"):
        StreamRunner(config, config.streams[0], StreamState(None, ":memory:"))


def test_stream_test_prints_the_exact_request_with_secrets_masked(tmp_path, emulators):
    from click.testing import CliRunner

    from headwater.cli import cli

    config = stream_config(tmp_path, emulators, [{"name": "orders", "destination": "mixpanel"},
                                                 {"name": "alerts", "destination": "alerts",
                                                  "settings": {"text": "{event}: {revenue} {currency} by {user_id}"}}])
    path = tmp_path / "headwater.yml"
    path.write_text(json.dumps(config.model_dump(mode="json", exclude_unset=True) | {
        "destinations": emulators.destinations(),
        "streams": [{"name": "orders", "destination": "mixpanel"},
                    {"name": "alerts", "destination": "alerts",
                     "settings": {"text": "{event}: {revenue} {currency} by {user_id}"}}]}))
    event = tmp_path / "event.json"
    event.write_text(json.dumps(track(9, user="dana")))
    result = CliRunner().invoke(cli, ["stream", "test", "orders", "--event", str(event), "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert '"$insert_id": "msg-000009"' in result.output and "/import" in result.output
    assert "svc-secret" not in result.output and '"Authorization": "***"' in result.output
    result = CliRunner().invoke(cli, ["stream", "test", "alerts", "--event", str(event), "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert '"text": "Order Completed: 9 USD by dana"' in result.output
    assert "streamsecretpath" not in result.output
    event.write_text("{not json")
    result = CliRunner().invoke(cli, ["stream", "test", "orders", "--event", str(event), "--config", str(path)])
    assert result.exit_code == 2 and "not JSON" in result.output
