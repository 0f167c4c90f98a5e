"""GA4 Measurement Protocol through the sync engine; every payload re-validated by /debug/mp/collect."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from destinations.emulators.ga4 import API_SECRET, MEASUREMENT_ID, GA4State, create_app
from destinations.engine import make_destination
from headwater.config import ConfigError
from tests.email_analytics_kit import (bad_minute, config, conversion, dry_run_plan, emulator_fixture, run,
                                       set_conversions, sync_errors)


ga4 = emulator_fixture(create_app, GA4State)


def ga4_config(warehouse, url, **sync):
    return config(warehouse, {"name": "ga4", "type": "ga4_events", "base_url": url,
                              "credentials": {"api_secret": API_SECRET},
                              "settings": {"measurement_id": MEASUREMENT_ID}},
                  {"name": "orders_to_ga4", "source": {"model": "cdp.conversions"}, "destination": "ga4", **sync})


def debug_messages(url: str, body: dict) -> list[dict]:
    response = httpx.post(f"{url}/debug/mp/collect", params={"measurement_id": MEASUREMENT_ID,
                                                             "api_secret": API_SECRET}, json=body)
    return response.json()["validationMessages"]


def test_first_sync_sends_valid_purchases_only_once_then_nothing(duckdb_warehouse, ga4):
    url, state = ga4
    set_conversions(duckdb_warehouse, [conversion(n, hours_ago=n) for n in range(1, 6)])
    cfg = ga4_config(duckdb_warehouse, url)

    first = run(cfg, "orders_to_ga4")
    assert (first.status, first.rows_succeeded) == ("succeeded", 5)
    assert sorted(state.control.events) == [f"order-{n:05d}" for n in range(1, 6)]
    assert state.dropped == 0
    for body in state.control.bodies:         # Google's validation server finds nothing wrong
        assert debug_messages(url, body) == []
        assert body["events"][0]["name"] == "purchase" and body["events"][0]["params"]["currency"] == "USD"

    second = run(cfg, "orders_to_ga4")
    assert (second.rows_planned, len(state.control.bodies)) == (0, 5)


def test_a_changed_conversion_is_the_only_purchase_resent(duckdb_warehouse, ga4):
    url, state = ga4
    rows = [conversion(n) for n in range(1, 4)]
    set_conversions(duckdb_warehouse, rows)
    cfg = ga4_config(duckdb_warehouse, url)
    run(cfg, "orders_to_ga4")
    rows[2]["value"] = 77
    set_conversions(duckdb_warehouse, rows)
    assert run(cfg, "orders_to_ga4").rows_sent == 1
    assert state.control.bodies[-1]["events"][0]["params"] == {"transaction_id": "order-00003", "value": 77.0,
                                                              "currency": "USD"}


def test_a_conversion_older_than_72_hours_is_skipped_and_never_sent(duckdb_warehouse, ga4):
    url, state = ga4
    set_conversions(duckdb_warehouse, [conversion(1, hours_ago=80), conversion(2, hours_ago=1)])
    report = run(ga4_config(duckdb_warehouse, url), "orders_to_ga4")
    assert (report.rows_succeeded, report.rows_skipped) == (1, 1)
    [error] = sync_errors(duckdb_warehouse, "orders_to_ga4")
    assert (error["row_key"], error["error_code"]) == ("conv-00001", "skipped")
    assert "72 hours" in error["error_message"]
    assert list(state.control.events) == ["order-00002"]


def test_an_event_breaking_a_limit_goes_to_the_validation_server_fails_and_is_retried(duckdb_warehouse, ga4):
    url, state = ga4
    rows = [conversion(1), conversion(2, order_id="x" * 120)]
    set_conversions(duckdb_warehouse, rows)
    cfg = ga4_config(duckdb_warehouse, url)

    first = run(cfg, "orders_to_ga4")
    assert (first.status, first.rows_succeeded, first.rows_failed) == ("partial", 1, 1)
    [error] = sync_errors(duckdb_warehouse, "orders_to_ga4")
    assert (error["row_key"], error["error_code"]) == ("conv-00002", "VALUE_OUT_OF_BOUNDS")
    assert "transaction_id" in error["error_message"]
    assert [r.path for r in state.control.requests].count("/debug/mp/collect") == 1
    assert state.dropped == 0                   # the broken event never reached /mp/collect

    assert run(cfg, "orders_to_ga4").rows_planned == 1      # still failing: planned again
    rows[1]["order_id"] = "order-00002"
    set_conversions(duckdb_warehouse, rows)
    fixed = run(cfg, "orders_to_ga4")
    assert (fixed.rows_planned, fixed.rows_succeeded) == (1, 1)
    assert sorted(state.control.events) == ["order-00001", "order-00002"]


def test_a_throttle_and_5xx_storm_ends_with_each_purchase_recorded_once(duckdb_warehouse, ga4):
    url, state = ga4
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 41)])
    bad_minute(state.control, 4, 2, (5, 500), (9, 503))

    report = run(ga4_config(duckdb_warehouse, url), "orders_to_ga4")
    assert (report.rows_succeeded, report.rows_failed) == (40, 0)
    assert report.retries >= 6
    assert len(state.control.events) == 40 and state.control.event_receipts == 40


def test_the_dry_run_plan_is_what_is_sent_with_the_api_secret_redacted_from_the_url(duckdb_warehouse, ga4, tmp_path):
    url, state = ga4
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 4)])
    cfg = ga4_config(duckdb_warehouse, url)
    lines = dry_run_plan(cfg, "orders_to_ga4", state.control, tmp_path / "plan.jsonl", API_SECRET)
    assert {line["url"] for line in lines} == {f"{url}/mp/collect?measurement_id={MEASUREMENT_ID}&api_secret=***"}

    run(cfg, "orders_to_ga4")
    assert sorted(map(str, (line["body"] for line in lines))) == sorted(map(str, state.control.bodies))


def test_mirror_mode_is_refused_because_ga4_cannot_remove_events(duckdb_warehouse, ga4):
    url, _ = ga4
    set_conversions(duckdb_warehouse, [conversion(1)])
    with pytest.raises(ConfigError, match="cannot remove rows; use upsert or add_only"):
        run(ga4_config(duckdb_warehouse, url, mode="mirror"), "orders_to_ga4")


def test_a_bad_measurement_id_is_a_config_error_naming_the_setting(duckdb_warehouse, ga4):
    url, _ = ga4
    with pytest.raises(ConfigError, match=r"settings\.measurement_id: .*G-ABC123DEF"):
        config(duckdb_warehouse, {"name": "ga4", "type": "ga4_events", "base_url": url,
                                  "credentials": {"api_secret": API_SECRET}, "settings": {"measurement_id": "UA-1"}},
               {"name": "orders_to_ga4", "source": {"model": "cdp.conversions"}, "destination": "ga4"})


def test_the_validation_server_answers_googles_documented_example(ga4):
    url, _ = ga4
    [message] = debug_messages(url, {"client_id": "x.y", "events": [{"name": "_badEventName", "params": {}}]})
    assert (message["fieldPath"], message["validationCode"]) == ("events[0]", "NAME_INVALID")
    assert debug_messages(url, {"events": [{"name": "purchase"}]})[0]["validationCode"] == "VALUE_REQUIRED"
    too_many = {"client_id": "x.y", "events": [{"name": "purchase"}] * 26}
    assert debug_messages(url, too_many)[0]["validationCode"] == "EXCEEDED_MAX_ENTITIES"


def test_a_body_that_is_not_json_is_answered_as_unparseable_and_dropped_silently(ga4):
    url, state = ga4
    params = {"measurement_id": MEASUREMENT_ID, "api_secret": API_SECRET}
    headers = {"content-type": "application/json"}
    debug = httpx.post(f"{url}/debug/mp/collect", params=params, content=b"{not json", headers=headers)
    assert [m["validationCode"] for m in debug.json()["validationMessages"]] == ["VALUE_INVALID"]
    collect = httpx.post(f"{url}/mp/collect", params=params, content=b"{not json", headers=headers)
    assert (collect.status_code, state.dropped, state.control.events) == (204, 1, {})


def test_destination_test_says_plainly_that_the_api_secret_cannot_be_verified(duckdb_warehouse, ga4):
    url, state = ga4
    entry = ga4_config(duckdb_warehouse, url).destinations[0]

    async def check():
        async with httpx.AsyncClient() as client:
            return await make_destination(entry).check_credentials(client)

    answer = asyncio.run(check())
    assert "cannot verify api_secret" in answer and API_SECRET not in answer
    assert state.control.events == {}
