"""Each tracking-plan policy on both engines: a batch of good events with one event per
violation type goes through the real collect endpoint and the loader; the good ones land,
each bad one is handled per policy, and nothing is lost."""

from __future__ import annotations

import httpx
import orjson
import pytest

from headwater.loopback import LoopbackServer
from pipelines.spool_loader import load_spool
from dagster_project.defs.checks.tracking_plan import plan_violations
from dagster_project.lib.facts import asking
from sources.collect.app import create_app
from tests.collect_helpers import WRITE_KEYS
from tests.tracking_plan_kit import BAD_EVENTS, VIOLATION_OF, good_events, plan_config

pytestmark = [pytest.mark.usefixtures("private_dlt_dir"), pytest.mark.timeout(120)]

ALL = ("unplanned_event", "missing_required", "type_mismatch", "unplanned_property")
GOOD_IDS = {m["messageId"] for m in good_events()}
BAD_IDS = set(VIOLATION_OF)


def send(config, messages: list[dict]) -> httpx.Response:
    with LoopbackServer(create_app(config)) as server:
        return httpx.post(f"{server.url}/v1/batch", json={"batch": messages},
                          auth=(WRITE_KEYS["website"], ""), timeout=10)


def stored_ids(warehouse) -> dict[str, set[str]]:
    """Message ids per place they ended up: the type tables and _quarantine."""
    found = {}
    for table in ("tracks", "identifies", "pages", "aliases"):
        found[table] = {r["id"] for r in warehouse.query(f"SELECT id FROM website.{table}")}
    found["_quarantine"] = set()
    if warehouse.table_exists("website", "_quarantine"):
        found["_quarantine"] = {r["message_id"] for r in warehouse.query(
            "SELECT message_id FROM website._quarantine")}
    return found


def violations(warehouse) -> set[tuple]:
    if not warehouse.table_exists("website", "_violations"):
        return set()
    return {(r["message_id"], r["violation"], r["property"], r["policy"])
            for r in warehouse.query("SELECT message_id, violation, property, policy FROM website._violations")}


def run(tmp_path, warehouse, policies: dict[str, str]):
    config = plan_config(tmp_path, warehouse.url, **policies)
    response = send(config, good_events() + list(BAD_EVENTS.values()))
    assert response.status_code == 200 and response.json() == {"success": True}
    report = load_spool(config)
    ids = stored_ids(warehouse)
    everything = set().union(*ids.values())
    assert GOOD_IDS | BAD_IDS == everything, "nothing sent is lost"
    assert GOOD_IDS <= everything - ids["_quarantine"], "every good event lands"
    return config, report, ids


def test_allow_keeps_every_event_and_records_nothing(tmp_path, warehouse):
    _, report, ids = run(tmp_path, warehouse, {v: "allow" for v in ALL})
    assert ids["_quarantine"] == set()
    assert violations(warehouse) == set() and report.source("website").violations == 0
    with asking(warehouse) as ask:
        assert plan_violations(ask, "website") == (True, {"violations": 0})
    assert warehouse.query("SELECT count(*) AS n FROM cdp.tracking_plan_violations")[0]["n"] == 0


def test_flag_keeps_every_event_and_records_each_violation(tmp_path, warehouse):
    _, report, ids = run(tmp_path, warehouse, {v: "flag" for v in ALL})
    assert ids["_quarantine"] == set()
    assert violations(warehouse) == {(mid, v, p, "flag") for mid, (v, p) in VIOLATION_OF.items()}
    assert report.source("website").violations == 4
    # the debugger's and analysts' place: the event row carries its violations
    [row] = warehouse.query("SELECT context_protocols_violations AS v FROM website.tracks WHERE id = 'bad-type'")
    [entry] = orjson.loads(row["v"])
    assert entry["violation"] == "type_mismatch" and entry["property"] == "currency"
    assert entry["description"] == "expected string, got integer"
    [good] = warehouse.query("SELECT context_protocols_violations AS v FROM website.tracks WHERE id = 'good-order'")
    assert good["v"] is None
    counts = warehouse.query("SELECT source, message_type, event, property, violation, violations, quarantined "
                             "FROM cdp.tracking_plan_violations ORDER BY violation")
    assert counts == [
        {"source": "website", "message_type": "identify", "event": None, "property": "email",
         "violation": "missing_required", "violations": 1, "quarantined": 0},
        {"source": "website", "message_type": "track", "event": "Order Completed", "property": "currency",
         "violation": "type_mismatch", "violations": 1, "quarantined": 0},
        {"source": "website", "message_type": "track", "event": "Coupon Applied", "property": None,
         "violation": "unplanned_event", "violations": 1, "quarantined": 0},
        {"source": "website", "message_type": "track", "event": "Order Completed", "property": "coupon",
         "violation": "unplanned_property", "violations": 1, "quarantined": 0},
    ]


def test_quarantine_holds_each_bad_event_with_its_reason(tmp_path, warehouse):
    _, _, ids = run(tmp_path, warehouse, {v: "quarantine" for v in ALL})
    assert ids["_quarantine"] == BAD_IDS
    assert not BAD_IDS & (ids["tracks"] | ids["identifies"])
    rows = {r["message_id"]: r for r in warehouse.query("SELECT * FROM website._quarantine")}
    assert {r["rejected_by"] for r in rows.values()} == {"tracking_plan"}
    assert rows["bad-type"]["reason"] == "tracking plan: type_mismatch currency: expected string, got integer"
    assert rows["bad-unplanned"]["reason"].startswith("tracking plan: unplanned_event: 'Coupon Applied'")
    assert {p for _, _, _, p in violations(warehouse)} == {"quarantine"}
    total = warehouse.query("SELECT sum(quarantined) AS q FROM cdp.tracking_plan_violations")[0]["q"]
    assert int(total) == 4
    # held whole, with the violations that held it
    assert orjson.loads(rows["bad-missing"]["payload"])["context"]["protocols"]["violations"][0]["property"] == "email"


def test_drop_property_keeps_the_event_without_the_offending_property(tmp_path, warehouse):
    _, _, ids = run(tmp_path, warehouse, {"type_mismatch": "drop_property", "unplanned_property": "drop_property",
                                          "unplanned_event": "flag", "missing_required": "flag"})
    assert ids["_quarantine"] == set()
    orders = {r["id"]: r for r in warehouse.query("SELECT * FROM website.order_completed")}
    assert orders["bad-type"]["currency"] is None and orders["good-order"]["currency"] == "EUR"
    assert orders["bad-type"]["revenue"] == 10.5
    assert "coupon" not in orders["bad-extra"], "the unplanned property never became a column"
    assert ("bad-type", "type_mismatch", "currency", "drop_property") in violations(warehouse)


def test_the_dagster_check_warns_about_the_last_days_violations(tmp_path, duckdb_warehouse):
    run(tmp_path, duckdb_warehouse, {"unplanned_event": "quarantine", "missing_required": "flag",
                                     "type_mismatch": "flag", "unplanned_property": "allow"})
    with asking(duckdb_warehouse) as ask:
        passed, metadata = plan_violations(ask, "website")
        assert not passed and metadata["violations"] == 3 and metadata["quarantined"] == 1
        assert metadata["by_violation_and_event"]["unplanned_event: Coupon Applied"] == 1
        assert metadata["by_violation_and_event"]["missing_required: identify"] == 1
        assert plan_violations(ask, "app") == (True, {"violations": 0})
