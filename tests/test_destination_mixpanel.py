"""Mixpanel through the sync engine against the local /import and /engage emulator."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest

from destinations.base import CredentialProblem
from destinations.emulators.mixpanel import (API_SECRET, PROJECT_ID, PROJECT_TOKEN, SERVICE_ACCOUNT, MixpanelState,
                                             create_app)
from destinations.engine import make_destination
from tests.email_analytics_kit import (bad_minute, config, conversion, dry_run_plan, emulator_fixture, logged_text,
                                       person, refused_run, rerun_once_accepted, run, set_conversions, set_profiles,
                                       sync_runs)


mixpanel = emulator_fixture(create_app, MixpanelState)


def events_config(warehouse, url, **credentials):
    creds = credentials or {"service_account_username": SERVICE_ACCOUNT[0],
                            "service_account_secret": SERVICE_ACCOUNT[1], "project_id": PROJECT_ID}
    return config(warehouse, {"name": "mixpanel", "type": "mixpanel_events", "base_url": url, "credentials": creds},
                  {"name": "orders_to_mixpanel", "source": {"model": "cdp.conversions"}, "destination": "mixpanel"})


def imported_insert_ids(state: MixpanelState) -> list[str]:
    return sorted(e["properties"]["$insert_id"] for e in state.control.events.values())


def test_first_sync_imports_every_conversion_then_an_unchanged_resync_sends_nothing(duckdb_warehouse, mixpanel):
    url, state = mixpanel
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 6)])
    cfg = events_config(duckdb_warehouse, url)

    first = run(cfg, "orders_to_mixpanel")
    assert (first.status, first.rows_succeeded, first.rows_failed) == ("succeeded", 5, 0)
    assert imported_insert_ids(state) == [f"conv-{n:05d}" for n in range(1, 6)]
    event = next(iter(state.control.events.values()))
    assert event["event"] == "Order Completed" and isinstance(event["properties"]["time"], int)
    assert all(r.param("strict") == "1" and r.param("project_id") == PROJECT_ID for r in state.control.requests)

    requests_before = len(state.control.requests)
    second = run(cfg, "orders_to_mixpanel")
    assert (second.rows_planned, second.rows_sent) == (0, 0)
    assert len(state.control.requests) == requests_before


def test_a_changed_conversion_is_the_only_event_resent(duckdb_warehouse, mixpanel):
    url, state = mixpanel
    rows = [conversion(n) for n in range(1, 4)]
    set_conversions(duckdb_warehouse, rows)
    cfg = events_config(duckdb_warehouse, url, api_secret=API_SECRET)
    run(cfg, "orders_to_mixpanel")
    rows[1]["value"] = 999
    set_conversions(duckdb_warehouse, rows)

    report = run(cfg, "orders_to_mixpanel")
    assert report.rows_sent == 1
    last_body = state.control.bodies[-1]
    assert [e["properties"]["$insert_id"] for e in last_body] == ["conv-00002"]
    assert last_body[0]["properties"]["revenue"] == 999.0


def test_a_throttle_and_5xx_storm_ends_with_each_event_imported_once(duckdb_warehouse, mixpanel):
    url, state = mixpanel
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 2501)])  # two requests: 2000 + 500
    bad_minute(state.control, 3, 7, (4, 503), (5, 500))

    report = run(events_config(duckdb_warehouse, url), "orders_to_mixpanel")
    assert (report.rows_succeeded, report.rows_failed) == (2500, 0)
    assert report.retries >= 5
    assert len(state.control.events) == 2500
    assert state.control.event_receipts == 2500       # nothing was ever imported twice
    assert max(len(body) for body in state.control.bodies) <= 2000


def test_a_failed_record_lands_in_sync_errors_and_is_retried_next_run(duckdb_warehouse, mixpanel):
    url, state = mixpanel
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 5)])
    cfg = events_config(duckdb_warehouse, url)

    first, error = refused_run(duckdb_warehouse, cfg, "orders_to_mixpanel", state.control, "order-00003")
    assert first.rows_succeeded == 3
    assert (error["row_key"], error["error_code"]) == ("conv-00003", "properties.order_id")
    assert len(state.control.bodies) == 1              # the other three were imported by the same request

    rerun_once_accepted(cfg, "orders_to_mixpanel", state.control)
    assert imported_insert_ids(state) == [f"conv-{n:05d}" for n in range(1, 5)]


def test_the_dry_run_plan_is_what_the_real_run_sends_with_secrets_redacted(duckdb_warehouse, mixpanel, tmp_path):
    url, state = mixpanel
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 4)])
    cfg = events_config(duckdb_warehouse, url, api_secret=API_SECRET)
    lines = dry_run_plan(cfg, "orders_to_mixpanel", state.control, tmp_path / "plan.jsonl", API_SECRET)
    assert lines[0]["headers"]["Authorization"] == "***"
    assert lines[0]["url"] == f"{url}/import?strict=1"

    run(cfg, "orders_to_mixpanel")
    assert [line["body"] for line in lines] == state.control.bodies


def test_wrong_credentials_fail_the_run_without_leaking_the_secret(duckdb_warehouse, mixpanel):
    url, state = mixpanel
    set_conversions(duckdb_warehouse, [conversion(1)])
    wrong = "not-the-secret-at-all"
    report = run(events_config(duckdb_warehouse, url, api_secret=wrong), "orders_to_mixpanel")
    assert report.status == "failed" and "Invalid credentials" in report.message
    assert wrong not in logged_text(duckdb_warehouse)
    assert sync_runs(duckdb_warehouse, "orders_to_mixpanel")[0]["status"] == "failed"
    # nothing was remembered as delivered: the next (fixed) run sends it
    fixed = run(events_config(duckdb_warehouse, url, api_secret=API_SECRET), "orders_to_mixpanel")
    assert fixed.rows_succeeded == 1


def test_destination_test_checks_credentials_with_an_empty_import(duckdb_warehouse, mixpanel):
    url, state = mixpanel
    good = events_config(duckdb_warehouse, url, api_secret=API_SECRET).destinations[0]
    bad = events_config(duckdb_warehouse, url, api_secret="wrong-secret").destinations[0]

    async def check(entry):
        async with httpx.AsyncClient() as client:
            return await make_destination(entry).check_credentials(client)

    assert "accepted" in asyncio.run(check(good))
    with pytest.raises(CredentialProblem, match="refused the credentials") as problem:
        asyncio.run(check(bad))
    assert "wrong-secret" not in str(problem.value)
    assert state.control.events == {}


def test_an_audience_mirror_sets_then_unsets_the_profile_property(warehouse, mixpanel):
    url, state = mixpanel
    people = [person(n) for n in range(1, 5)]
    set_profiles(warehouse, people, {"champions": ["prof-00001", "prof-00002", "prof-00003"]})
    cfg = config(warehouse, {"name": "mp_people", "type": "mixpanel_profiles", "base_url": url,
                             "credentials": {"project_token": PROJECT_TOKEN}},
                 {"name": "champions_to_mixpanel", "source": {"audience": "champions"}, "destination": "mp_people",
                  "mode": "mirror"})

    first = run(cfg, "champions_to_mixpanel")
    assert first.rows_succeeded == 3
    flagged = sorted(pid for pid, p in state.profiles.items() if p.get("headwater_audience_champions"))
    assert flagged == ["prof-00001", "prof-00002", "prof-00003"]
    assert state.profiles["prof-00001"]["$email"] == "Person.1@Example.com"   # trimmed, case kept

    # prof-00002 leaves the audience; prof-00003 withdraws analytics consent
    people[2]["consent_analytics"] = False
    set_profiles(warehouse, people, {"champions": ["prof-00001", "prof-00003"]})
    second = run(cfg, "champions_to_mixpanel")
    assert (second.upserts, second.removes, second.rows_failed) == (0, 2, 0)
    flagged = sorted(pid for pid, p in state.profiles.items() if p.get("headwater_audience_champions"))
    assert flagged == ["prof-00001"]
    assert all(PROJECT_TOKEN not in str(v) for v in logged_text(warehouse).split())


def test_a_conversion_id_too_long_for_insert_id_becomes_a_stable_digest_so_a_full_resync_counts_once(
        duckdb_warehouse, mixpanel):
    url, state = mixpanel
    long_id = "shopify:order/gid://shopify/Order/1234567890123456789"
    set_conversions(duckdb_warehouse, [conversion(1, conversion_id=long_id)])
    cfg = events_config(duckdb_warehouse, url)
    assert run(cfg, "orders_to_mixpanel").rows_succeeded == 1
    assert run(cfg, "orders_to_mixpanel", full=True).rows_succeeded == 1

    first, again = (body[0]["properties"]["$insert_id"] for body in state.control.bodies)
    assert first == again == hashlib.md5(long_id.encode()).hexdigest()
    assert (state.control.event_receipts, len(state.control.events)) == (2, 1)   # Mixpanel kept one
