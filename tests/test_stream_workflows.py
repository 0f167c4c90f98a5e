"""Workflows: a trigger, a wait across a restart, `unless`, actions once per trigger instance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from destinations.emulators.mailchimp import LIST_ID
from destinations.streams.publish import publish
from destinations.streams.state import StreamState
from destinations.streams.workflows import WorkflowEngine, audience_triggers
from destinations.state import SqlSession
from headwater.warehouse import Warehouse
from tests.stream_kit import SpoolFeed, StreamEmulators, drain, run, stream_config, track


@pytest.fixture(scope="module")
def emulators():
    with StreamEmulators() as servers:
        yield servers


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self):
        return self.now


WORKFLOWS = [
    {"name": "big_purchase", "trigger": {"event": {"types": ["track"], "events": ["Order Completed"],
                                                   "where": [{"property": "revenue", "op": ">=", "value": 500}]}},
     "actions": [{"destination": "alerts", "settings": {"text": "Big order: {revenue} {currency} by {email}"}},
                 {"destination": "newsletter", "settings": {"tag": "vip_buyer"}}]},
    {"name": "cart_rescue", "trigger": {"event": {"types": ["track"], "events": ["Checkout Started"]}},
     "wait": "1h", "unless": {"types": ["track"], "events": ["Order Completed"]},
     "actions": [{"destination": "alerts", "settings": {"text": "Cart left by {email}"}}]},
]


def buyer(n: int, event: str, revenue: float, user: str) -> dict:
    message = track(n, event=event, user=user, revenue=revenue)
    message["context"]["traits"] = {"email": f"{user}@example.com"}
    return message


def slack_texts(emulators) -> list[str]:
    return sorted(body["text"] for body in emulators.slack.bodies)


def test_a_purchase_over_a_value_alerts_slack_and_tags_the_buyer_once(tmp_path, emulators):
    emulators.slack.bodies.clear()
    config = stream_config(tmp_path, emulators, [], WORKFLOWS)
    feed = SpoolFeed(tmp_path / "spool")
    feed.send([buyer(1, "Order Completed", 900, "ann"), buyer(2, "Order Completed", 20, "bob")])
    feed.send([buyer(1, "Order Completed", 900, "ann")])            # the client retried: same messageId
    state = StreamState(tmp_path / "spool")
    run(drain(WorkflowEngine(config, state)))
    run(drain(WorkflowEngine(config, state)))                        # and the engine restarted

    assert slack_texts(emulators) == ["Big order: 900 USD by ann@example.com"]
    members = emulators.mailchimp.active(LIST_ID)
    tagged = [m for m in members.values() if "vip_buyer" in m["tags"]]
    assert [m["email_address"] for m in tagged] == ["ann@example.com"]
    [done] = state.workflow_rows("workflow = 'big_purchase'")
    assert (done["status"], done["actions_done"]) == ("done", 2)


def test_a_wait_survives_a_restart_and_unless_cancels_it(tmp_path, emulators, warehouse):
    emulators.slack.bodies.clear()
    config = stream_config(tmp_path, emulators, [], WORKFLOWS, warehouse=warehouse.url)
    feed = SpoolFeed(tmp_path / "spool")
    clock = Clock()
    state = StreamState(tmp_path / "spool")
    feed.send([buyer(10, "Checkout Started", 50, "cat"), buyer(11, "Checkout Started", 60, "dan")])
    run(drain(WorkflowEngine(config, state, clock=clock)))
    assert slack_texts(emulators) == []                                # an hour has not passed
    feed.send([buyer(12, "Order Completed", 60, "dan")])               # Dan bought: his run is cancelled
    clock.now += timedelta(minutes=30)
    run(drain(WorkflowEngine(config, state, clock=clock)))
    assert slack_texts(emulators) == []

    state.close()                                                      # the process stops...
    state = StreamState(tmp_path / "spool")                            # ...and starts again later
    clock.now += timedelta(minutes=31)
    run(drain(WorkflowEngine(config, state, clock=clock)))
    assert slack_texts(emulators) == ["Cart left by cat@example.com"]
    clock.now += timedelta(hours=5)
    run(drain(WorkflowEngine(config, state, clock=clock)))
    assert slack_texts(emulators) == ["Cart left by cat@example.com"]  # acted once

    publish(Warehouse(warehouse.url), state)
    with Warehouse(warehouse.url).connect() as connection:
        session = SqlSession(connection, warehouse.dialect)
        rows = session.run("SELECT workflow, status, actions_done FROM cdp.workflow_runs ORDER BY status")
    assert [(r["workflow"], r["status"], r["actions_done"]) for r in rows] == [
        ("cart_rescue", "cancelled", 0), ("cart_rescue", "done", 1)]


def test_an_action_refused_by_consent_is_skipped_not_sent(tmp_path, emulators):
    emulators.slack.bodies.clear()
    flows = [{"name": "welcome", "trigger": {"event": {"types": ["track"], "events": ["Signed Up"]}},
              "actions": [{"destination": "newsletter"}]}]
    config = stream_config(tmp_path, emulators, [], flows)
    feed = SpoolFeed(tmp_path / "spool")
    refused = buyer(20, "Signed Up", 0, "eve")
    refused["context"]["consent"]["categoryPreferences"]["email"] = False
    feed.send([refused])
    state = StreamState(tmp_path / "spool")
    run(drain(WorkflowEngine(config, state)))
    [row] = state.workflow_rows()
    assert row["status"] == "done" and row["error"] == "skipped: consent:email"
    assert "eve@example.com" not in {m["email_address"] for m in emulators.mailchimp.active(LIST_ID).values()}


def test_audience_entries_after_a_build_trigger_runs_once(tmp_path, emulators, warehouse):
    emulators.slack.bodies.clear()
    flows = [{"name": "vip_welcome", "trigger": {"audience": "high_value", "on": "entered"},
              "actions": [{"destination": "alerts", "settings": {"text": "{email} is now high value"}}]}]
    config = stream_config(tmp_path, emulators, [], flows, warehouse=warehouse.url)
    entered = datetime(2026, 12, 1, 8, 0)
    with warehouse.connect() as connection:
        session = SqlSession(connection, warehouse.dialect)
        session.run("CREATE SCHEMA IF NOT EXISTS cdp")
        session.run("CREATE TABLE cdp.audience_history (audience VARCHAR, profile_id VARCHAR, entered_at TIMESTAMP, "
                    "exited_at TIMESTAMP)")
        session.run("CREATE TABLE cdp.profiles (profile_id VARCHAR, email VARCHAR, consent_email BOOLEAN)")
        session.insert_many("INSERT INTO cdp.profiles VALUES (%s, %s, %s)",
                            [("p1", "fay@example.com", True), ("p2", "gus@example.com", False)])
        session.insert_many("INSERT INTO cdp.audience_history VALUES (%s, %s, %s, %s)",
                            [("high_value", "p1", entered, None), ("high_value", "p2", entered, None),
                             ("purchasers", "p1", entered, None)])
        session.commit()
        state = StreamState(tmp_path / "spool")
        assert audience_triggers(config, state, session) == 2
        assert audience_triggers(config, state, session) == 0          # nothing new since
    run(drain(WorkflowEngine(config, state)))
    assert slack_texts(emulators) == ["fay@example.com is now high value", "gus@example.com is now high value"]
