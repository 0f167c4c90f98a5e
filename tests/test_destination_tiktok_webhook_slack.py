"""TikTok Events API and segment mapping, the signed webhook, and Slack summaries."""

from __future__ import annotations

import pytest

from destinations.delivery import VirtualTime
from destinations.emulators import slack as slack_emulator
from destinations.emulators import tiktok as tiktok_emulator
from destinations.emulators import webhook as webhook_emulator
from destinations.emulators.kit import DestinationControl
from destinations.engine import run_sync
from destinations.normalize import hashed
from headwater.loopback import LoopbackServer
from tests.sync_fixtures import conversion, create_cdp, execute, profile, sync_config


@pytest.fixture
def serve():
    servers = []

    def start(module, **kwargs):
        control = DestinationControl()
        server = LoopbackServer(module.create_app(control=control, **kwargs)).start()
        server.control = control
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_tiktok_events_are_hashed_deduplicated_by_event_id_and_survive_a_throttle(duckdb_warehouse, serve):
    tiktok = serve(tiktok_emulator)
    create_cdp(duckdb_warehouse, [profile(i) for i in range(3)], [], [conversion(i) for i in range(3)])
    config = sync_config(
        duckdb_warehouse,
        {"name": "tt", "type": "tiktok_events", "base_url": tiktok.url,
         "credentials": {"access_token": "tiktok-test-token"}, "settings": {"pixel_code": "CPIXEL"}},
        {"name": "purchases_tt", "source": {"model": "cdp.conversions"}, "destination": "tt"})
    tiktok.control.throttle(1, retry_after=3)
    report = run_sync(config, "purchases_tt", timing=VirtualTime())
    assert report.rows_succeeded == 3 and report.retries == 1
    event = tiktok.control.events["c00000"]
    assert event["user"]["email"] == hashed("tiktok", "email", "person.0@example.com")
    assert event["user"]["ttclid"] == "ttclid-0" and event["properties"]["currency"] == "USD"
    assert tiktok.control.event_receipts == 3


def test_tiktok_error_codes_in_200_answers_are_read_as_errors(duckdb_warehouse, serve):
    tiktok = serve(tiktok_emulator)
    create_cdp(duckdb_warehouse, [profile(1)], [], [conversion(1)])
    config = sync_config(
        duckdb_warehouse,
        {"name": "tt", "type": "tiktok_events", "base_url": tiktok.url,
         "credentials": {"access_token": "expired-token"}, "settings": {"pixel_code": "CPIXEL"}},
        {"name": "purchases_tt", "source": {"model": "cdp.conversions"}, "destination": "tt"})
    report = run_sync(config, "purchases_tt", timing=VirtualTime())
    assert report.status == "failed" and report.message.startswith("40001")


def test_tiktok_audience_adds_and_deletes_hashed_emails(duckdb_warehouse, serve):
    tiktok = serve(tiktok_emulator)
    create_cdp(duckdb_warehouse, [profile(i) for i in range(4)], [("vip", f"p{i:05d}") for i in range(4)])
    config = sync_config(
        duckdb_warehouse,
        {"name": "tt", "type": "tiktok_audience", "base_url": tiktok.url,
         "credentials": {"access_token": "tiktok-test-token"},
         "settings": {"advertiser_id": "7001", "audience_id": "aud-1"}},
        {"name": "vip_tt", "source": {"audience": "vip"}, "destination": "tt", "mode": "mirror"})
    run_sync(config, "vip_tt", timing=VirtualTime())
    execute(duckdb_warehouse, "DELETE FROM cdp.audience_members WHERE profile_id = 'p00000'")
    run_sync(config, "vip_tt", timing=VirtualTime())
    assert [b["action"] for b in tiktok.control.bodies] == ["add", "delete"]
    assert tiktok.control.members["aud-1"] == {hashed("tiktok", "email", f"person.{i}@example.com") for i in (1, 2, 3)}


def webhook_config(warehouse, server, secret="webhook-secret", **sync):
    return sync_config(
        warehouse,
        {"name": "hook", "type": "webhook", "base_url": server.url, "credentials": {"signing_secret": secret},
         "settings": {"path": "/headwater", "batch_size": 2}},
        {"name": "vip_hook", "source": {"audience": "vip"}, "destination": "hook", "mode": "mirror",
         "mapping": {"email": "email", "city": "city"}, **sync})


def test_webhook_batches_are_signed_and_a_retry_carries_the_same_idempotency_key(duckdb_warehouse, serve):
    hook = serve(webhook_emulator)
    create_cdp(duckdb_warehouse, [profile(i) for i in range(5)], [("vip", f"p{i:05d}") for i in range(5)])
    hook.control.fail_request(1, 502)
    report = run_sync(webhook_config(duckdb_warehouse, hook), "vip_hook", timing=VirtualTime())
    assert report.rows_succeeded == 5 and report.requests == 4  # 3 batches of <= 2 rows, one retried
    assert hook.control.members["vip_hook"] == {f"p{i:05d}" for i in range(5)}
    assert hook.control.bodies[0]["rows"][0]["fields"] == {"email": "Person.0@Example.com ", "city": "Menlo Park"}


def test_webhook_with_the_wrong_secret_is_refused_by_the_receiver(duckdb_warehouse, serve):
    hook = serve(webhook_emulator)
    create_cdp(duckdb_warehouse, [profile(1)], [("vip", "p00001")])
    report = run_sync(webhook_config(duckdb_warehouse, hook, secret="not-the-secret"), "vip_hook", timing=VirtualTime())
    assert report.status == "failed" and hook.control.bodies == []


def test_slack_gets_one_summary_per_change_not_one_message_per_row(duckdb_warehouse, serve):
    slack = serve(slack_emulator)
    create_cdp(duckdb_warehouse, [profile(i) for i in range(6)], [("vip", f"p{i:05d}") for i in range(6)],
               [conversion(i) for i in range(3)])
    config = sync_config(
        duckdb_warehouse,
        {"name": "team", "type": "slack", "base_url": slack.url,
         "credentials": {"webhook_url": "https://hooks.slack.com" + slack_emulator.DEFAULT_PATH}},
        {"name": "vip_slack", "source": {"audience": "vip"}, "destination": "team", "mode": "mirror"})
    run_sync(config, "vip_slack", timing=VirtualTime())
    execute(duckdb_warehouse, "DELETE FROM cdp.audience_members WHERE profile_id IN ('p00000', 'p00001')")
    run_sync(config, "vip_slack", timing=VirtualTime())
    assert [b["text"] for b in slack.control.bodies] == [
        "audience vip: 6 joined or changed, now 6 members (sync vip_slack)",
        "audience vip: 2 left, now 4 members (sync vip_slack)"]

    conversions = sync_config(
        duckdb_warehouse,
        {"name": "team", "type": "slack", "base_url": slack.url,
         "credentials": {"webhook_url": "https://hooks.slack.com" + slack_emulator.DEFAULT_PATH}},
        {"name": "sales_slack", "source": {"model": "cdp.conversions"}, "destination": "team",
         "mapping": {"value": "value", "currency": "currency"}})
    run_sync(conversions, "sales_slack", timing=VirtualTime())
    assert slack.control.bodies[-1]["text"] == "model cdp.conversions: 3 new or changed rows worth 33.00 USD (sync sales_slack)"


def test_credential_checks_for_tiktok_webhook_and_slack_say_what_is_wrong(serve):
    import asyncio

    import httpx

    from destinations.base import CredentialProblem
    from destinations.config import DestinationConfig
    from destinations.delivery import PlanWriter
    from destinations.engine import make_destination

    tiktok, hook, slack = serve(tiktok_emulator), serve(webhook_emulator), serve(slack_emulator)

    def check(**entry):
        async def go():
            async with httpx.AsyncClient() as client:
                return await make_destination(DestinationConfig(name="d", **entry)).check_credentials(client)
        return asyncio.run(go())

    tiktok_entry = {"type": "tiktok_audience", "base_url": tiktok.url,
                    "settings": {"advertiser_id": "7001", "audience_id": "a"}}
    assert "advertiser 7001" in check(**tiktok_entry, credentials={"access_token": "tiktok-test-token"})
    with pytest.raises(CredentialProblem, match="40001"):
        check(**tiktok_entry, credentials={"access_token": "stale"})

    hook_entry = {"type": "webhook", "base_url": hook.url}
    assert "signed ping" in check(**hook_entry, credentials={"signing_secret": "webhook-secret"})
    with pytest.raises(CredentialProblem, match="answered 401"):
        check(**hook_entry, credentials={"signing_secret": "other"})

    secret_url = "https://hooks.slack.com/services/T000/B000/NOT-THE-HOOK"
    with pytest.raises(CredentialProblem, match="revoked or wrong"):
        check(type="slack", base_url=slack.url, credentials={"webhook_url": secret_url})
    slack_destination = make_destination(DestinationConfig(name="d", type="slack", base_url=slack.url,
                                                           credentials={"webhook_url": secret_url}))
    assert "NOT-THE-HOOK" not in slack_destination.redact(f"posting to {slack_destination.url()} failed")
    import io
    sink = io.StringIO()
    from destinations.base import Batch, RunContext
    PlanWriter(sink, slack_destination).write(slack_destination.build_request(
        Batch("upsert", ["k"], [{"value": None, "currency": None}], ["f"]), RunContext("s", "r", "audience vip", 1)))
    assert "NOT-THE-HOOK" not in sink.getvalue() and "***" in sink.getvalue()


def test_a_sync_can_override_the_consent_category(duckdb_warehouse, serve):
    hook = serve(webhook_emulator)
    create_cdp(duckdb_warehouse, [profile(0), profile(1, consent_email=False), profile(2, consent_advertising=False)],
               [("vip", f"p{i:05d}") for i in range(3)])
    run_sync(webhook_config(duckdb_warehouse, hook), "vip_hook", timing=VirtualTime())
    assert hook.control.members["vip_hook"] == {"p00000", "p00001", "p00002"}  # webhook default: no consent needed

    hook_email = serve(webhook_emulator)
    run_sync(webhook_config(duckdb_warehouse, hook_email, consent="email"), "vip_hook", timing=VirtualTime(), full=True)
    assert hook_email.control.members["vip_hook"] == {"p00000", "p00002"}


def test_dry_run_plans_redact_the_tiktok_access_token_header():
    import io

    import orjson

    from destinations.base import Batch, RunContext
    from destinations.config import DestinationConfig
    from destinations.delivery import PlanWriter
    from destinations.engine import make_destination

    tiktok = make_destination(DestinationConfig(name="tt", type="tiktok_events", credentials={"access_token": "tt-SECRET-1"},
                                                settings={"pixel_code": "C1"}))
    sink = io.StringIO()
    event = tiktok.prepare({"event_id": "c1", "event_time": "2026-11-20T10:00:00+00:00", "email": "a@b.co"}, "upsert")
    PlanWriter(sink, tiktok).write(tiktok.build_request(Batch("upsert", ["c1"], [event], ["f"]), RunContext("s", "r")))
    line = orjson.loads(sink.getvalue())
    assert line["headers"]["Access-Token"] == "***" and "tt-SECRET-1" not in sink.getvalue()
    assert line["url"] == "https://business-api.tiktok.com/open_api/v1.3/event/track/"
    assert line["body"]["data"][0]["user"]["email"] == hashed("tiktok", "email", "a@b.co")
