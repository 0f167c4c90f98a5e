"""The loader applies the plan to events spooled before it (or under another plan version),
and quarantine replay re-checks held events against the plan as it is now."""

from __future__ import annotations

import pytest

from pipelines.quarantine_replay import replay_quarantined
from pipelines.spool_loader import load_spool
from tests.load_helpers import events, identify, track, write_spool_file
from tests.tracking_plan_kit import PLAN, plan_config

pytestmark = [pytest.mark.usefixtures("private_dlt_dir"), pytest.mark.timeout(120)]


def ids(warehouse, table: str) -> set[str]:
    column = "message_id" if table == "_quarantine" else "id"
    return {r[column] for r in warehouse.query(f"SELECT {column} FROM website.{table}")}


def test_loader_applies_the_plan_to_events_spooled_without_it(tmp_path, warehouse):
    config = plan_config(tmp_path, warehouse.url, unplanned_event="quarantine", missing_required="quarantine")
    write_spool_file(config, [events([
        track("good-1", order_id="o-1", revenue=5.0),
        track("bad-coupon", event="Coupon Applied", code="X"),
        identify("bad-identify", "user-1", "2024-05-01T11:00:00.000Z", name="Ada"),
        identify("good-identify", "user-1", "2024-05-01T11:30:00.000Z", email="a@example.com"),
    ])])
    report = load_spool(config)
    assert ids(warehouse, "tracks") == {"good-1"}
    assert ids(warehouse, "identifies") == {"good-identify"}
    assert ids(warehouse, "_quarantine") == {"bad-coupon", "bad-identify"}
    assert report.source("website").quarantined == 2 and report.source("website").violations == 2
    assert load_spool(config).loaded == 0


def test_replay_lands_a_held_event_once_the_plan_lists_it(tmp_path, warehouse):
    config = plan_config(tmp_path, warehouse.url, unplanned_event="quarantine", type_mismatch="quarantine")
    write_spool_file(config, [events([
        track("good-1", order_id="o-1", revenue=5.0),
        track("bad-coupon", event="Coupon Applied", code="X"),
        track("bad-order", order_id=7, revenue=5.0),
    ])])
    load_spool(config)
    assert ids(warehouse, "_quarantine") == {"bad-coupon", "bad-order"}

    plan = {**PLAN, "track": {**PLAN["track"], "Coupon Applied": {"properties": {"code": {"type": "string"}}}}}
    fixed = plan_config(tmp_path, warehouse.url, plan, unplanned_event="quarantine", type_mismatch="quarantine")
    report = replay_quarantined(fixed)
    assert [row["message_id"] for row in report.respooled] == ["bad-coupon"]
    [(row, why)] = report.still_failing
    assert row["message_id"] == "bad-order" and why.startswith("tracking plan: type_mismatch order_id")
    load_spool(fixed)
    assert ids(warehouse, "coupon_applied") == {"bad-coupon"}
    assert ids(warehouse, "_quarantine") == {"bad-order"}
