"""Meta: the Conversions API payload against Meta's SDK, and the emulator's enforced rules."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from facebook_business.adobjects.serverside.user_data import UserData

from destinations.engine import make_destination
from destinations.config import DestinationConfig
from destinations.emulators.meta import create_app
from destinations.normalize import hashed
from headwater.loopback import LoopbackServer

TOKEN = "meta-test-token"


def conversions_destination():
    return make_destination(DestinationConfig(name="capi", type="meta_conversions",
                                              credentials={"access_token": TOKEN}, settings={"pixel_id": "42"}))


def test_conversions_user_data_matches_the_facebook_business_sdk():
    event = conversions_destination().prepare({
        "event_id": "c1", "event_time": datetime.now(timezone.utc) - timedelta(hours=1), "value": 12.5,
        "currency": "usd", "order_id": "o1", "email": " Person.1@Example.com", "phone": "+1 (650) 253-0000",
        "external_id": "p00001", "fbc": "fb.1.17.abc", "fbp": "fb.1.17.def", "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0", "event_source_url": "https://shop.example/checkout"}, "upsert")
    sdk = UserData(emails=[" Person.1@Example.com"], phones=["16502530000"], fbc="fb.1.17.abc", fbp="fb.1.17.def",
                   client_ip_address="203.0.113.7", client_user_agent="Mozilla/5.0").normalize()
    ours = event["user_data"]
    assert {k: v for k, v in ours.items() if k != "external_id"} == sdk
    assert ours["external_id"] == [hashed("meta", "external_id", "p00001")]
    assert event["event_id"] == "c1" and event["action_source"] == "website"
    assert event["custom_data"] == {"value": 12.5, "currency": "USD", "order_id": "o1"}


@pytest.fixture(scope="module")
def emulator():
    with LoopbackServer(create_app(access_token=TOKEN)) as server:
        yield server


def post_events(server, events, token=TOKEN):
    return httpx.post(f"{server.url}/v24.0/42/events", json={"data": events, "access_token": token})


def good_event(**overrides):
    event = {"event_name": "Purchase", "event_time": int(time.time()), "event_id": "e1", "action_source": "website",
             "event_source_url": "https://shop.example", "user_data": {"em": [hashed("meta", "email", "a@b.co")],
                                                                      "client_user_agent": "UA"}}
    event.update(overrides)
    return event


@pytest.mark.parametrize("events,fragment", [
    ([good_event(user_data={"em": ["a@b.co"], "client_user_agent": "UA"})], "must be SHA-256 hashed"),
    ([good_event(event_time=int(time.time()) - 8 * 86400)], "more than 7 days"),
    ([good_event(user_data={"em": [hashed("meta", "email", "a@b.co")]})], "client_user_agent is required"),
    ([{k: v for k, v in good_event().items() if k != "action_source"}], "action_source is required"),
    ([good_event()] * 1001, "at most 1000 events"),
])
def test_emulator_rejects_what_meta_rejects_with_graph_errors(emulator, events, fragment):
    response = post_events(emulator, events)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_emulator_refuses_a_wrong_token_with_oauth_code_190(emulator):
    response = post_events(emulator, [good_event()], token="nope")
    assert response.status_code == 400 and response.json()["error"]["code"] == 190


def test_custom_audience_rows_follow_the_schema_and_need_an_identifier():
    audience = make_destination(DestinationConfig(name="ca", type="meta_audience",
                                                  credentials={"access_token": TOKEN}, settings={"audience_id": "6"}))
    row = audience.prepare({"email": "A@B.co", "phone": None, "first_name": "Ann", "last_name": None, "city": None,
                            "state": None, "postal_code": None, "country": "US"}, "upsert")
    assert row[0] == hashed("meta", "email", "a@b.co") and row[1] == "" and row[7] == hashed("meta", "country", "us")
    from destinations.base import SkipRow

    with pytest.raises(SkipRow, match="no usable email or phone"):
        audience.prepare({"email": "not-an-email", "phone": None, "country": "US"}, "upsert")
