"""Amplitude through the sync engine against the local HTTP V2 and Identify emulator."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from destinations.base import CredentialProblem
from destinations.emulators.amplitude import API_KEY, AmplitudeState, create_app
from destinations.engine import make_destination
from tests.email_analytics_kit import (bad_minute, config, conversion, dry_run_plan, emulator_fixture, logged_text,
                                       person, plan_lines, refused_run, rerun_once_accepted, run, set_conversions,
                                       set_profiles, sync_errors)


amplitude = emulator_fixture(create_app, AmplitudeState)


def events_config(warehouse, url, api_key=API_KEY, **sync):
    return config(warehouse, {"name": "amplitude", "type": "amplitude_events", "base_url": url,
                              "credentials": {"api_key": api_key}},
                  {"name": "orders_to_amplitude", "source": {"model": "cdp.conversions"}, "destination": "amplitude",
                   **sync})


def test_first_sync_sends_every_event_then_an_unchanged_resync_sends_nothing(duckdb_warehouse, amplitude):
    url, state = amplitude
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 6)])
    cfg = events_config(duckdb_warehouse, url)

    first = run(cfg, "orders_to_amplitude")
    assert (first.status, first.rows_succeeded) == ("succeeded", 5)
    assert sorted(state.control.events) == [f"conv-{n:05d}" for n in range(1, 6)]
    event = state.control.events["conv-00003"]
    assert event["event_type"] == "Order Completed" and event["revenue"] == 13.0
    assert event["event_properties"] == {"order_id": "order-00003", "currency": "USD"}

    second = run(cfg, "orders_to_amplitude")
    assert (second.rows_planned, second.rows_sent, len(state.control.bodies)) == (0, 0, 1)


def test_a_changed_conversion_is_the_only_event_resent(duckdb_warehouse, amplitude):
    url, state = amplitude
    rows = [conversion(n) for n in range(1, 4)]
    set_conversions(duckdb_warehouse, rows)
    cfg = events_config(duckdb_warehouse, url)
    run(cfg, "orders_to_amplitude")
    rows[0]["currency"] = "EUR"
    set_conversions(duckdb_warehouse, rows)

    assert run(cfg, "orders_to_amplitude").rows_sent == 1
    assert [e["insert_id"] for e in state.control.bodies[-1]["events"]] == ["conv-00001"]


def test_a_throttle_and_5xx_storm_ends_with_each_event_ingested_once(duckdb_warehouse, amplitude):
    url, state = amplitude
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 2201)])
    bad_minute(state.control, 2, 3, (3, 502), (4, 500))

    report = run(events_config(duckdb_warehouse, url), "orders_to_amplitude")
    assert (report.rows_succeeded, report.rows_failed) == (2200, 0)
    assert report.retries >= 4
    assert len(state.control.events) == 2200 and state.control.event_receipts == 2200
    assert all(len(body["events"]) <= 2000 for body in state.control.bodies)


def test_an_invalid_event_lands_in_sync_errors_the_rest_are_resent_and_it_is_retried_next_run(duckdb_warehouse,
                                                                                              amplitude):
    url, state = amplitude
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 6)])
    cfg = events_config(duckdb_warehouse, url)

    first, error = refused_run(duckdb_warehouse, cfg, "orders_to_amplitude", state.control, "order-00004")
    assert first.rows_succeeded == 4
    assert (error["row_key"], error["error_code"]) == ("conv-00004", "invalid:event_properties.order_id")
    assert sorted(state.control.events) == ["conv-00001", "conv-00002", "conv-00003", "conv-00005"]

    rerun_once_accepted(cfg, "orders_to_amplitude", state.control)
    assert "conv-00004" in state.control.events and state.control.event_receipts == 5


def test_a_user_id_shorter_than_amplitude_accepts_is_skipped_with_the_setting_to_change(duckdb_warehouse, amplitude):
    url, state = amplitude
    set_conversions(duckdb_warehouse, [conversion(1, profile_id="p1"), conversion(2)],
                    people=[person(1, profile_id="p1"), person(2)])
    report = run(events_config(duckdb_warehouse, url), "orders_to_amplitude")
    assert (report.rows_succeeded, report.rows_skipped) == (1, 1)
    [error] = sync_errors(duckdb_warehouse, "orders_to_amplitude")
    assert error["row_key"] == "conv-00001" and "min_id_length" in error["error_message"]


def test_the_dry_run_plan_is_what_the_real_run_sends_with_the_api_key_redacted(duckdb_warehouse, amplitude, tmp_path):
    url, state = amplitude
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 4)])
    cfg = events_config(duckdb_warehouse, url)
    [line] = dry_run_plan(cfg, "orders_to_amplitude", state.control, tmp_path / "plan.jsonl", API_KEY)
    assert line["body"]["api_key"] == "***" and line["url"] == f"{url}/2/httpapi"

    run(cfg, "orders_to_amplitude")
    sent = state.control.bodies[0]
    assert {**sent, "api_key": "***"} == line["body"]


def test_a_wrong_api_key_stops_the_run_and_is_never_logged(duckdb_warehouse, amplitude):
    url, state = amplitude
    set_conversions(duckdb_warehouse, [conversion(1)])
    wrong = "amp-wrong-key-000000"
    report = run(events_config(duckdb_warehouse, url, api_key=wrong), "orders_to_amplitude")
    assert report.status == "failed"
    assert wrong not in logged_text(duckdb_warehouse)

    async def check(key):
        entry = events_config(duckdb_warehouse, url, api_key=key).destinations[0]
        async with httpx.AsyncClient() as client:
            return await make_destination(entry).check_credentials(client)

    assert "accepted" in asyncio.run(check(API_KEY))
    with pytest.raises(CredentialProblem, match="does not know this api_key") as problem:
        asyncio.run(check(wrong))
    assert wrong not in str(problem.value)


def test_an_audience_mirror_sets_then_unsets_the_user_property(duckdb_warehouse, amplitude, tmp_path):
    url, state = amplitude
    people = [person(n) for n in range(1, 5)]
    set_profiles(duckdb_warehouse, people, {"lapsed": ["prof-00001", "prof-00002", "prof-00003"]})
    cfg = config(duckdb_warehouse, {"name": "amp_users", "type": "amplitude_identify", "base_url": url,
                                    "credentials": {"api_key": API_KEY}},
                 {"name": "lapsed_to_amplitude", "source": {"audience": "lapsed"}, "destination": "amp_users",
                  "mode": "mirror"})
    assert run(cfg, "lapsed_to_amplitude").rows_succeeded == 3
    assert state.user_properties["prof-00002"]["headwater_audience_lapsed"] is True
    assert state.user_properties["prof-00002"]["email"] == "Person.2@Example.com"

    set_profiles(duckdb_warehouse, people, {"lapsed": ["prof-00001", "prof-00003"]})
    plan = tmp_path / "plan.jsonl"
    run(cfg, "lapsed_to_amplitude", dry_run=True, plan_path=plan)
    [line] = plan_lines(plan)
    assert line["body"]["identification"] == [{"user_id": "prof-00002",
                                               "user_properties": {"$unset": {"headwater_audience_lapsed": "-"}}}]
    report = run(cfg, "lapsed_to_amplitude")
    assert (report.removes, report.rows_succeeded) == (1, 1)
    assert "headwater_audience_lapsed" not in state.user_properties["prof-00002"]
    assert state.user_properties["prof-00001"]["headwater_audience_lapsed"] is True
