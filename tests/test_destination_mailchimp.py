"""Mailchimp audience sync through the engine against the local Marketing API emulator."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from destinations.base import CredentialProblem
from destinations.emulators.mailchimp import API_KEY, LIST_ID, MailchimpState, create_app
from destinations.engine import make_destination
from destinations.mailchimp import subscriber_hash
from tests.email_analytics_kit import (bad_minute, config, dry_run_plan, emulator_fixture, logged_text,
                                       people_in_audience, person, refused_run, rerun_once_accepted, run,
                                       set_profiles)


mailchimp = emulator_fixture(create_app, MailchimpState, "/3.0")


def mc_config(warehouse, url, api_key=API_KEY, list_id=LIST_ID, mode="mirror"):
    return config(warehouse, {"name": "mailchimp", "type": "mailchimp_audience", "base_url": url,
                              "credentials": {"api_key": api_key}, "settings": {"list_id": list_id}},
                  {"name": "vips_to_mailchimp", "source": {"audience": "vips"}, "destination": "mailchimp",
                   "mode": mode})


def emails(state: MailchimpState) -> list[str]:
    return sorted(m["email_address"] for m in state.active().values())


def test_first_sync_subscribes_consented_members_with_the_audience_tag_then_sends_nothing(warehouse, mailchimp):
    url, state = mailchimp
    people = [person(n) for n in range(1, 6)]
    people[4]["consent_email"] = False           # never leaves for an email tool
    set_profiles(warehouse, people, {"vips": [p["profile_id"] for p in people]})
    cfg = mc_config(warehouse, url)

    first = run(cfg, "vips_to_mailchimp")
    assert (first.status, first.rows_succeeded) == ("succeeded", 4)
    assert emails(state) == [f"person.{n}@example.com" for n in range(1, 5)]
    member = state.active()[subscriber_hash("person.2@example.com")]
    assert member["status"] == "subscribed" and member["tags"] == ["vips"]
    assert member["merge_fields"] == {"FNAME": "First2", "LNAME": "Last2", "PHONE": "+14155550002"}
    assert state.control.bodies[0]["update_existing"] is True

    second = run(cfg, "vips_to_mailchimp")
    assert (second.rows_planned, len(state.control.requests)) == (0, 1)


def test_a_changed_profile_is_the_only_member_resent(duckdb_warehouse, mailchimp):
    url, state = mailchimp
    people = people_in_audience(duckdb_warehouse, "vips", 3)
    cfg = mc_config(duckdb_warehouse, url)
    run(cfg, "vips_to_mailchimp")
    people[0]["first_name"] = "Renamed"
    set_profiles(duckdb_warehouse, people, {"vips": [p["profile_id"] for p in people]})

    assert run(cfg, "vips_to_mailchimp").rows_sent == 1
    [member] = state.control.bodies[-1]["members"]
    assert (member["email_address"], member["merge_fields"]["FNAME"]) == ("person.1@example.com", "Renamed")


def test_members_who_leave_or_withdraw_email_consent_are_archived_in_mirror_mode(duckdb_warehouse, mailchimp):
    url, state = mailchimp
    people = people_in_audience(duckdb_warehouse, "vips", 4)
    cfg = mc_config(duckdb_warehouse, url)
    run(cfg, "vips_to_mailchimp")

    people[1]["consent_email"] = False
    set_profiles(duckdb_warehouse, people, {"vips": ["prof-00001", "prof-00002", "prof-00003"]})
    report = run(cfg, "vips_to_mailchimp")
    assert (report.removes, report.rows_succeeded, report.rows_failed) == (2, 2, 0)
    assert emails(state) == ["person.1@example.com", "person.3@example.com"]
    [operations] = [b["operations"] for b in state.control.bodies if "operations" in b]
    assert sorted(op["path"] for op in operations) == sorted(
        f"/lists/{LIST_ID}/members/{subscriber_hash(f'person.{n}@example.com')}" for n in (2, 4))
    assert {op["method"] for op in operations} == {"DELETE"}


def test_a_throttle_and_5xx_storm_ends_with_each_member_sent_once(duckdb_warehouse, mailchimp):
    url, state = mailchimp
    people = people_in_audience(duckdb_warehouse, "vips", 1200)
    bad_minute(state.control, 3, 10, (4, 500), (6, 503))

    report = run(mc_config(duckdb_warehouse, url), "vips_to_mailchimp")
    assert (report.rows_succeeded, report.rows_failed) == (1200, 0)
    assert report.retries >= 5
    sent = Counter(m["email_address"] for body in state.control.bodies for m in body["members"])
    assert len(sent) == 1200 and set(sent.values()) == {1}
    assert max(len(body["members"]) for body in state.control.bodies) <= 500
    assert len(state.active()) == 1200


def test_a_member_mailchimp_refuses_lands_in_sync_errors_and_is_retried_next_run(duckdb_warehouse, mailchimp):
    url, state = mailchimp
    people = people_in_audience(duckdb_warehouse, "vips", 4)
    cfg = mc_config(duckdb_warehouse, url)

    first, error = refused_run(duckdb_warehouse, cfg, "vips_to_mailchimp", state.control, "person.3@example.com")
    assert (first.rows_succeeded, len(state.control.bodies)) == (3, 1)
    assert (error["row_key"], error["error_code"]) == ("prof-00003", "ERROR_GENERIC")
    assert "looks fake or invalid" in error["error_message"]

    rerun_once_accepted(cfg, "vips_to_mailchimp", state.control)
    assert len(state.active()) == 4


def test_the_dry_run_plan_is_what_is_sent_with_the_key_redacted(duckdb_warehouse, mailchimp, tmp_path):
    url, state = mailchimp
    people = people_in_audience(duckdb_warehouse, "vips", 3)
    cfg = mc_config(duckdb_warehouse, url)
    [line] = dry_run_plan(cfg, "vips_to_mailchimp", state.control, tmp_path / "plan.jsonl", API_KEY)
    assert (line["method"], line["url"], line["headers"]["Authorization"]) == ("POST", f"{url}/lists/{LIST_ID}", "***")

    run(cfg, "vips_to_mailchimp")
    assert state.control.bodies == [line["body"]]
    assert API_KEY not in logged_text(duckdb_warehouse)


def test_destination_test_names_a_wrong_key_or_an_unknown_list(duckdb_warehouse, mailchimp):
    url, state = mailchimp

    async def check(**kwargs):
        entry = mc_config(duckdb_warehouse, url, **kwargs).destinations[0]
        async with httpx.AsyncClient() as client:
            return await make_destination(entry).check_credentials(client)

    assert "Headwater demo" in asyncio.run(check())
    wrong = "00000000000000000000000000000000-us21"
    with pytest.raises(CredentialProblem, match="refused the API key") as problem:
        asyncio.run(check(api_key=wrong))
    assert wrong not in str(problem.value)
    with pytest.raises(CredentialProblem, match="settings.list_id: Mailchimp has no audience 'nope'"):
        asyncio.run(check(list_id="nope"))


def test_the_data_centre_comes_from_the_key_suffix(duckdb_warehouse):
    cfg = config(duckdb_warehouse, {"name": "mailchimp", "type": "mailchimp_audience",
                                    "credentials": {"api_key": "abc123-us19"}, "settings": {"list_id": LIST_ID}},
                 {"name": "vips_to_mailchimp", "source": {"audience": "vips"}, "destination": "mailchimp"})
    assert make_destination(cfg.destinations[0]).base_url == "https://us19.api.mailchimp.com/3.0"
