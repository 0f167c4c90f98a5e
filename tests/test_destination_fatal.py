"""Issue 17: a 401 or 403 from a vendor stops the run at once, whatever the destination.

Before, Slack read a 401 as a refused message and kept halving it, and klaviyo_events sent
one request per remaining event after the first 401. Fatal means the next request is never made.
"""

from __future__ import annotations

from destinations.emulators import slack as slack_emulator
from destinations.emulators.klaviyo import API_KEY, KlaviyoState, create_app
from destinations.emulators.kit import DestinationControl
from destinations.engine import run_sync
from destinations.delivery import VirtualTime
from headwater.loopback import LoopbackServer
from tests.email_analytics_kit import config, conversion, emulator_fixture, run, set_conversions
from tests.sync_fixtures import conversion as cdp_conversion
from tests.sync_fixtures import create_cdp, profile, sync_config

klaviyo = emulator_fixture(create_app, KlaviyoState)


def test_klaviyo_events_stop_after_the_first_401(duckdb_warehouse, klaviyo):
    url, state = klaviyo
    set_conversions(duckdb_warehouse, [conversion(n) for n in range(1, 41)])
    cfg = config(duckdb_warehouse, {"name": "klaviyo_events", "type": "klaviyo_events", "base_url": url,
                                    "credentials": {"api_key": API_KEY}},
                 {"name": "orders_to_klaviyo", "source": {"model": "cdp.conversions"},
                  "destination": "klaviyo_events"})
    state.control.fail_request(1, 401)

    report = run(cfg, "orders_to_klaviyo")

    assert report.status == "failed"
    assert len(state.control.requests) == 1, "no request after the 401"
    assert report.rows_failed == 40 and state.control.events == {}


def test_slack_does_not_halve_a_message_refused_with_401(duckdb_warehouse):
    control = DestinationControl()
    with LoopbackServer(slack_emulator.create_app(control=control)) as slack:
        create_cdp(duckdb_warehouse, [profile(i) for i in range(3)], [], [cdp_conversion(i) for i in range(8)])
        cfg = sync_config(
            duckdb_warehouse,
            {"name": "team", "type": "slack", "base_url": slack.url,
             "credentials": {"webhook_url": "https://hooks.slack.com" + slack_emulator.DEFAULT_PATH}},
            {"name": "sales_slack", "source": {"model": "cdp.conversions"}, "destination": "team",
             "mapping": {"value": "value", "currency": "currency"}})
        control.fail_request(1, 401)
        report = run_sync(cfg, "sales_slack", timing=VirtualTime())
    assert report.status == "failed"
    assert len(control.requests) == 1 and control.bodies == []


def test_a_webhook_retry_after_a_long_retry_after_is_signed_when_sent(duckdb_warehouse):
    """The receiver (real emulator, 300 s tolerance) lives on the same virtual clock as the engine:
    six throttled attempts (Retry-After 60 s each) put the last retry 360 s after the request was
    built, and it is accepted only because it is signed anew."""
    from destinations.emulators import webhook as webhook_emulator

    timing = VirtualTime()
    control = DestinationControl()
    with LoopbackServer(webhook_emulator.create_app(control=control, now=timing.wall)) as hook:
        create_cdp(duckdb_warehouse, [profile(i) for i in range(2)], [("vip", f"p{i:05d}") for i in range(2)])
        cfg = sync_config(
            duckdb_warehouse,
            {"name": "hook", "type": "webhook", "base_url": hook.url,
             "credentials": {"signing_secret": "webhook-secret"}, "settings": {"path": "/headwater"}},
            {"name": "vip_hook", "source": {"audience": "vip"}, "destination": "hook", "mode": "mirror"})
        control.throttle(6, retry_after=60)
        report = run_sync(cfg, "vip_hook", timing=timing)
    assert timing.waits == [60.0] * 6 and sum(timing.waits) > webhook_emulator.TOLERANCE_SECONDS
    assert report.status == "succeeded" and report.retries == 6
    assert control.members["vip_hook"] == {"p00000", "p00001"}
