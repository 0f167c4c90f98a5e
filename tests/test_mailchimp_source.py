"""The Mailchimp source against the Mailchimp emulator, on DuckDB and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from headwater.config import MailchimpSourceConfig
from headwater.loopback import LoopbackServer
from pipelines.cloud_sources import run_source
from sources.mailchimp.emulator import DEFAULT_API_KEY, MailchimpEmulator, create_app, member_id
from sources.mailchimp.helpers import api_root
from sources.vendor_http import MissingCredential

pytestmark = pytest.mark.usefixtures("private_dlt_dir")

PAST = "2025-03-01T10:00:00+00:00"


def small_world() -> MailchimpEmulator:
    lists = [{"id": "a1b2c3d4e5", "name": "Newsletter", "stats": {"member_count": 1200}},
             {"id": "f6e5d4c3b2", "name": "Workshops", "stats": {"member_count": 3}}]
    members = [{"id": member_id(f"n{i}@example.com"), "email_address": f"n{i}@example.com", "list_id": "a1b2c3d4e5",
                "status": "subscribed", "merge_fields": {"FNAME": f"N{i}"}, "last_changed": PAST}
               for i in range(1200)]
    members += [{"id": member_id(f"w{i}@example.com"), "email_address": f"w{i}@example.com", "list_id": "f6e5d4c3b2",
                 "status": "subscribed", "merge_fields": {}, "last_changed": PAST} for i in range(3)]
    campaigns = [{"id": "camp000001", "type": "regular", "status": "sent", "send_time": PAST,
                  "recipients": {"list_id": "a1b2c3d4e5"}, "settings": {"subject_line": "Hello"}}]
    reports = [{"id": "camp000001", "list_id": "a1b2c3d4e5", "emails_sent": 1200, "unsubscribed": 1,
                "opens": {"opens_total": 3}}]
    activity = [{"campaign_id": "camp000001", "list_id": "a1b2c3d4e5", "email_id": member_id("n1@example.com"),
                 "email_address": "n1@example.com",
                 "activity": [{"action": "open", "timestamp": "2025-03-01T11:00:00+00:00", "ip": "10.0.0.1"},
                              {"action": "click", "timestamp": "2025-03-01T11:01:00+00:00",
                               "url": "https://example.com/a", "ip": "10.0.0.1"}]},
                {"campaign_id": "camp000001", "list_id": "a1b2c3d4e5", "email_id": member_id("n2@example.com"),
                 "email_address": "n2@example.com",
                 "activity": [{"action": "bounce", "type": "hard", "timestamp": "2025-03-01T10:05:00+00:00"}]}]
    unsubscribes = [{"campaign_id": "camp000001", "list_id": "a1b2c3d4e5", "email_id": member_id("n3@example.com"),
                     "email_address": "n3@example.com", "timestamp": "2025-03-02T09:00:00+00:00", "reason": "N/A"}]
    return MailchimpEmulator(lists, members, campaigns, reports, activity, unsubscribes)


@pytest.fixture
def mailchimp_emulator():
    emulator = small_world()
    with LoopbackServer(create_app(emulator)) as server:
        emulator.base_url = f"{server.url}/3.0"
        yield emulator


def entry_for(emulator, **overrides) -> MailchimpSourceConfig:
    values = {"name": "mailchimp", "type": "mailchimp", "api_key": DEFAULT_API_KEY, "base_url": emulator.base_url}
    return MailchimpSourceConfig(**(values | overrides))


def member_emails(warehouse) -> dict[tuple[str, str], str]:
    rows = warehouse.query('SELECT list_id, id, email_address, status FROM "mailchimp"."members"')
    return {(r["list_id"], r["id"]): (r["email_address"], r["status"]) for r in rows}


def test_full_load_pages_members_by_1000_and_loads_every_table(warehouse, mailchimp_emulator):
    report = run_source(entry_for(mailchimp_emulator), warehouse)

    assert report.rows_by_table["members"] == 1203
    assert report.rows_by_table["email_activity"] == 3 and report.rows_by_table["unsubscribes"] == 1
    assert report.rows_by_table["lists"] == 2 and report.rows_by_table["reports"] == 1
    newsletter = [r for r in mailchimp_emulator.control.requests if r.path == "/3.0/lists/a1b2c3d4e5/members"]
    assert [(r.param("count"), r.param("offset")) for r in newsletter] == [("1000", "0"), ("1000", "1000")]
    assert all(r.param("since_last_changed") is None for r in newsletter)
    actions = {r["action"] for r in warehouse.query('SELECT action FROM "mailchimp"."email_activity"')}
    assert actions == {"open", "click", "bounce"}


def test_incremental_run_asks_only_for_changed_members_and_new_activity(warehouse, mailchimp_emulator):
    entry = entry_for(mailchimp_emulator)
    run_source(entry, warehouse)
    mailchimp_emulator.upsert_member("a1b2c3d4e5", "n5@example.com", status="unsubscribed")
    mailchimp_emulator.upsert_member("f6e5d4c3b2", "new@example.com")
    mailchimp_emulator.record_activity("camp000001", "n7@example.com", "open", ip="10.0.0.7")
    mailchimp_emulator.control.clear_log()

    report = run_source(entry, warehouse)

    assert report.rows_by_table["members"] == 2 and report.rows_by_table["email_activity"] == 1
    member_requests = [r for r in mailchimp_emulator.control.requests if r.path.endswith("/members")]
    assert {r.param("since_last_changed") for r in member_requests} == {PAST}
    activity_request = next(r for r in mailchimp_emulator.control.requests if r.path.endswith("/email-activity"))
    assert activity_request.param("since") == "2025-03-01T11:01:00+00:00"
    expected = {(m["list_id"], m["id"]): (m["email_address"], m["status"]) for m in mailchimp_emulator.current_members()}
    assert member_emails(warehouse) == expected
    assert warehouse.query('SELECT COUNT(*) AS n FROM "mailchimp"."email_activity"') == [{"n": 4}]


def test_throttling_and_server_errors_mid_pagination_load_every_member_once(warehouse, mailchimp_emulator):
    mailchimp_emulator.control.fail_request(3, status=500)  # second page of the newsletter
    mailchimp_emulator.control.throttle(2, retry_after=0.05)

    run_source(entry_for(mailchimp_emulator), warehouse)

    rows = warehouse.query('SELECT list_id, id, COUNT(*) AS n FROM "mailchimp"."members" GROUP BY list_id, id')
    assert len(rows) == 1203 and {r["n"] for r in rows} == {1}
    assert {r.status for r in mailchimp_emulator.control.requests} >= {429, 500}


def test_data_centre_comes_from_the_key_suffix_unless_base_url_is_set():
    entry = MailchimpSourceConfig(name="mc", type="mailchimp", api_key="abc123-us21")
    assert api_root(entry) == "https://us21.api.mailchimp.com/3.0"
    overridden = MailchimpSourceConfig(name="mc", type="mailchimp", api_key="abc123-us21",
                                       base_url="http://127.0.0.1:9/3.0/")
    assert api_root(overridden) == "http://127.0.0.1:9/3.0"
    with pytest.raises(MissingCredential, match="data centre"):
        api_root(MailchimpSourceConfig(name="mc", type="mailchimp", api_key="nodatacentre"))


def test_missing_key_names_the_config_key_and_env_var():
    from sources.mailchimp import mailchimp_source

    with pytest.raises(MissingCredential, match=r"sources\.mc\.api_key.*MAILCHIMP_API_KEY"):
        mailchimp_source(MailchimpSourceConfig(name="mc", type="mailchimp"))


def test_emulator_rejects_bad_key_and_oversized_count_with_problem_json(mailchimp_emulator):
    url = mailchimp_emulator.base_url
    denied = httpx.get(f"{url}/lists", auth=("anyone", "wrong-us21"))
    assert denied.status_code == 401 and denied.headers["content-type"] == "application/problem+json"
    assert denied.json()["title"] == "API Key Invalid"
    too_many = httpx.get(f"{url}/lists", params={"count": "1001"}, auth=("anyone", DEFAULT_API_KEY))
    assert too_many.status_code == 400 and "count" in too_many.json()["detail"]
    missing = httpx.get(f"{url}/lists/nope/members", auth=("x", DEFAULT_API_KEY))
    assert missing.status_code == 404
    page = httpx.get(f"{url}/lists/a1b2c3d4e5/members", params={"count": "5", "offset": "1198"},
                     auth=("x", DEFAULT_API_KEY)).json()
    assert page["total_items"] == 1200 and len(page["members"]) == 2


def test_members_have_a_unique_email_id_that_finds_them_as_a_campaign_links_mc_eid(mailchimp_emulator):
    added = mailchimp_emulator.upsert_member("a1b2c3d4e5", "new@example.com", merge_fields={"FNAME": "New"})
    assert len(added["unique_email_id"]) == 10 and int(added["unique_email_id"], 16) >= 0
    found = httpx.get(f"{mailchimp_emulator.base_url}/lists/a1b2c3d4e5/members",
                      params={"unique_email_id": added["unique_email_id"]}, auth=("x", DEFAULT_API_KEY)).json()
    assert [m["email_address"] for m in found["members"]] == ["new@example.com"]
    again = mailchimp_emulator.upsert_member("a1b2c3d4e5", "new@example.com", status="unsubscribed")
    assert again["unique_email_id"] == added["unique_email_id"]  # an address keeps its id
