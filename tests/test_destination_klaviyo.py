"""Klaviyo list and event syncs through the engine; bodies checked against klaviyo-api's request models."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from openapi_client.models.event_create_query_v2 import EventCreateQueryV2
from openapi_client.models.list_members_delete_query import ListMembersDeleteQuery
from openapi_client.models.profile_import_job_create_query import ProfileImportJobCreateQuery

from destinations.base import CredentialProblem
from destinations.emulators.klaviyo import API_KEY, LIST_ID, KlaviyoState, create_app
from destinations.engine import make_destination
from destinations.klaviyo import REVISION
from headwater.config import ConfigError
from tests.email_analytics_kit import (bad_minute, config, conversion, dry_run_plan, emulator_fixture, logged_text,
                                       people_in_audience, person, refused_run, rerun_once_accepted, run,
                                       set_conversions, set_profiles)


klaviyo = emulator_fixture(create_app, KlaviyoState)


def list_config(warehouse, url, api_key=API_KEY, list_id=LIST_ID):
    return config(warehouse, {"name": "klaviyo", "type": "klaviyo_list", "base_url": url,
                              "credentials": {"api_key": api_key}, "settings": {"list_id": list_id}},
                  {"name": "vips_to_klaviyo", "source": {"audience": "vips"}, "destination": "klaviyo",
                   "mode": "mirror"})


def events_config(warehouse, url):
    return config(warehouse, {"name": "klaviyo_events", "type": "klaviyo_events", "base_url": url,
                              "credentials": {"api_key": API_KEY}},
                  {"name": "orders_to_klaviyo", "source": {"model": "cdp.conversions"},
                   "destination": "klaviyo_events"})


def sdk_reading(model, body: dict) -> dict:
    """The body as klaviyo-api's request model reads it: unknown or mistyped fields would differ."""
    return model.from_dict(body).model_dump(mode="json", by_alias=True, exclude_none=True)


def import_bodies(state: KlaviyoState) -> list[dict]:
    return [b for b in state.control.bodies if b["data"].__class__ is dict and b["data"]["type"] ==
            "profile-bulk-import-job"]


def test_first_sync_imports_consented_profiles_into_the_list_then_sends_nothing(duckdb_warehouse, klaviyo):
    url, state = klaviyo
    people = [person(n) for n in range(1, 6)]
    people[0]["consent_email"] = False
    people[1]["phone"] = "not a phone"
    set_profiles(duckdb_warehouse, people, {"vips": [p["profile_id"] for p in people]})
    cfg = list_config(duckdb_warehouse, url)

    first = run(cfg, "vips_to_klaviyo")
    assert (first.status, first.rows_succeeded) == ("succeeded", 4)
    assert state.member_external_ids() == ["prof-00002", "prof-00003", "prof-00004", "prof-00005"]
    [body] = import_bodies(state)
    # the official SDK's request model reads the job exactly as sent
    assert sdk_reading(ProfileImportJobCreateQuery, body) == body
    profile = body["data"]["attributes"]["profiles"]["data"][1]["attributes"]
    assert profile == {"email": "person.3@example.com", "phone_number": "+14155550003", "external_id": "prof-00003",
                       "first_name": "First3", "last_name": "Last3",
                       "location": {"city": "San Francisco", "region": "CA", "zip": "94107", "country": "US"}}
    assert "phone_number" not in body["data"]["attributes"]["profiles"]["data"][0]["attributes"]
    assert all(r.path == "/api/profile-bulk-import-jobs" for r in state.control.requests)

    second = run(cfg, "vips_to_klaviyo")
    assert (second.rows_planned, len(state.control.requests)) == (0, 1)


def test_changes_send_only_the_diff_and_leavers_are_looked_up_then_removed_from_the_list(duckdb_warehouse, klaviyo):
    url, state = klaviyo
    people = people_in_audience(duckdb_warehouse, "vips", 5)
    cfg = list_config(duckdb_warehouse, url)
    run(cfg, "vips_to_klaviyo")

    people[2]["last_name"] = "Changed"
    people[3]["consent_email"] = False            # withdraws email consent
    set_profiles(duckdb_warehouse, people, {"vips": ["prof-00001", "prof-00002", "prof-00003", "prof-00004"]})
    report = run(cfg, "vips_to_klaviyo")
    assert (report.upserts, report.removes, report.rows_failed) == (1, 2, 0)
    changed = import_bodies(state)[-1]["data"]["attributes"]["profiles"]["data"]
    assert [p["attributes"]["external_id"] for p in changed] == ["prof-00003"]
    assert state.member_external_ids() == ["prof-00001", "prof-00002", "prof-00003"]

    lookup = [r for r in state.control.requests if r.path == "/api/profiles"]
    assert lookup[0].param("filter") == 'any(external_id,["prof-00004","prof-00005"])'
    [removal] = [b for b in state.control.bodies if isinstance(b["data"], list)]
    assert sdk_reading(ListMembersDeleteQuery, removal) == removal
    assert len(removal["data"]) == 2 and all(d["type"] == "profile" for d in removal["data"])


def test_a_removal_for_someone_klaviyo_no_longer_has_sends_no_delete(duckdb_warehouse, klaviyo):
    url, state = klaviyo
    people = [person(n) for n in range(1, 3)]
    set_profiles(duckdb_warehouse, people, {"vips": ["prof-00001", "prof-00002"]})
    cfg = list_config(duckdb_warehouse, url)
    run(cfg, "vips_to_klaviyo")
    gone = state.find({"external_id": "prof-00002"})
    del state.profiles[gone]                      # deleted in Klaviyo meanwhile

    set_profiles(duckdb_warehouse, people, {"vips": ["prof-00001"]})
    report = run(cfg, "vips_to_klaviyo")
    assert (report.removes, report.rows_succeeded, report.rows_failed) == (1, 1, 0)
    assert not any(r.method == "DELETE" for r in state.control.requests)


def test_a_throttle_and_5xx_storm_ends_with_each_profile_imported_once(duckdb_warehouse, klaviyo):
    url, state = klaviyo
    people = people_in_audience(duckdb_warehouse, "vips", 300)
    bad_minute(state.control, 3, 1, (4, 503))

    report = run(list_config(duckdb_warehouse, url), "vips_to_klaviyo")
    assert (report.rows_succeeded, report.rows_failed) == (300, 0)
    assert report.retries == 4
    imported = Counter(p["attributes"]["external_id"] for b in import_bodies(state)
                       for p in b["data"]["attributes"]["profiles"]["data"])
    assert len(imported) == 300 and set(imported.values()) == {1}
    assert state.jobs == 1


def test_a_refused_profile_lands_in_sync_errors_the_rest_are_imported_and_it_is_retried(duckdb_warehouse, klaviyo):
    url, state = klaviyo
    people = people_in_audience(duckdb_warehouse, "vips", 5)
    cfg = list_config(duckdb_warehouse, url)

    first, error = refused_run(duckdb_warehouse, cfg, "vips_to_klaviyo", state.control, "person.4@example.com")
    assert first.rows_succeeded == 4
    assert (error["row_key"], error["error_code"]) == ("prof-00004", "invalid")
    assert error["error_message"].startswith("email: Invalid email address")
    assert state.member_external_ids() == ["prof-00001", "prof-00002", "prof-00003", "prof-00005"]

    rerun_once_accepted(cfg, "vips_to_klaviyo", state.control)
    assert len(state.member_external_ids()) == 5


def test_the_dry_run_plan_matches_the_sent_job_with_the_key_redacted(duckdb_warehouse, klaviyo, tmp_path):
    url, state = klaviyo
    people = people_in_audience(duckdb_warehouse, "vips", 3)
    cfg = list_config(duckdb_warehouse, url)
    [line] = dry_run_plan(cfg, "vips_to_klaviyo", state.control, tmp_path / "plan.jsonl", API_KEY)
    assert line["headers"]["Authorization"] == "***" and line["headers"]["revision"] == REVISION
    run(cfg, "vips_to_klaviyo")
    assert state.control.bodies == [line["body"]]
    assert API_KEY not in logged_text(duckdb_warehouse)


def test_conversions_become_placed_order_events_recorded_once_each(duckdb_warehouse, klaviyo):
    url, state = klaviyo
    rows = [conversion(n) for n in range(1, 5)]
    set_conversions(duckdb_warehouse, rows)
    cfg = events_config(duckdb_warehouse, url)
    bad_minute(state.control, 2, 1, (3, 500))

    report = run(cfg, "orders_to_klaviyo")
    assert (report.rows_succeeded, report.retries) == (4, 3)
    assert len(state.control.events) == 4 and state.control.event_receipts == 4
    for body in state.control.bodies:
        read = sdk_reading(EventCreateQueryV2, body)
        sent_time = body["data"]["attributes"].pop("time")
        assert read["data"]["attributes"].pop("time").replace("Z", "+00:00") == sent_time
        assert read == body and body["data"]["attributes"]["metric"]["data"]["attributes"]["name"] == "Placed Order"
    event = next(b for b in state.control.bodies if b["data"]["attributes"]["unique_id"] == "conv-00002")
    assert (event["data"]["attributes"]["value"], event["data"]["attributes"]["value_currency"]) == (12.0, "USD")

    rows[3]["value"] = 50
    set_conversions(duckdb_warehouse, rows)
    assert run(cfg, "orders_to_klaviyo").rows_sent == 1
    assert state.control.bodies[-1]["data"]["attributes"]["unique_id"] == "conv-00004"


def test_destination_test_reports_a_wrong_key_or_list_without_the_key(duckdb_warehouse, klaviyo):
    url, _ = klaviyo

    async def check(cfg):
        async with httpx.AsyncClient() as client:
            return await make_destination(cfg.destinations[0]).check_credentials(client)

    assert "Headwater VIPs" in asyncio.run(check(list_config(duckdb_warehouse, url)))
    assert "account" in asyncio.run(check(events_config(duckdb_warehouse, url)))
    wrong = "pk_wrongwrongwrongwrong"
    with pytest.raises(CredentialProblem, match="refused the key") as problem:
        asyncio.run(check(list_config(duckdb_warehouse, url, api_key=wrong)))
    assert wrong not in str(problem.value)
    with pytest.raises(CredentialProblem, match="settings.list_id: Klaviyo has no list 'nope'"):
        asyncio.run(check(list_config(duckdb_warehouse, url, list_id="nope")))


def test_a_public_key_is_refused_at_config_load_naming_the_field(duckdb_warehouse):
    with pytest.raises(ConfigError, match=r"credentials\.api_key: .*private API key \(pk_"):
        list_config(duckdb_warehouse, "http://127.0.0.1:1", api_key="AbCdEf")


def test_many_leavers_are_removed_in_lookups_of_100_and_a_throttled_lookup_is_retried(duckdb_warehouse, klaviyo):
    url, state = klaviyo
    people = people_in_audience(duckdb_warehouse, "vips", 260)
    cfg = list_config(duckdb_warehouse, url)
    run(cfg, "vips_to_klaviyo")

    set_profiles(duckdb_warehouse, people, {"vips": ["prof-00001", "prof-00002", "prof-00003"]})
    state.control.clear_log()
    state.control.throttle(1, retry_after=2)          # the first lookup is throttled
    report = run(cfg, "vips_to_klaviyo")
    assert (report.removes, report.rows_succeeded, report.rows_failed, report.retries) == (257, 257, 0, 1)
    lookups = [r for r in state.control.requests if r.path == "/api/profiles" and r.status == 200]
    deletes = [r for r in state.control.requests if r.method == "DELETE"]
    assert (len(lookups), len(deletes)) == (3, 3)     # 100 + 100 + 57
    assert state.member_external_ids() == ["prof-00001", "prof-00002", "prof-00003"]
