"""cdp.audience_history across builds: entries and exits recorded, members keep their entry time."""

from __future__ import annotations

from datetime import timedelta

from tests.audience_world import TRAITS, build_except_profiles, built_world, members, write_profiles
from tests.conversions_world import NOW, config, profile_of


def _stays(warehouse, audience: str) -> list[tuple]:
    rows = warehouse.query("SELECT profile_id, entered_at, exited_at FROM cdp.audience_history WHERE audience = %s "
                           "ORDER BY entered_at, profile_id", [audience])
    return [(r["profile_id"], r["entered_at"], r["exited_at"]) for r in rows]


def test_entries_and_exits_are_recorded_across_two_builds(warehouse):
    audiences = [{"name": "champions", "where": {"trait": "rfm_segment", "value": "Champions"}}]
    cfg = built_world(warehouse, audiences)
    bob, cy = profile_of(warehouse, "user_id", "u-bob"), profile_of(warehouse, "user_id", "u-cy")
    assert _stays(warehouse, "champions") == [(bob, NOW, None)]

    later = NOW + timedelta(days=1)
    write_profiles(warehouse, {**TRAITS, "bob": ("bob@example.org", 640.0, "At Risk", False, "US"),
                               "cy": ("cy@example.org", 900.0, "Champions", None, "US")})
    build_except_profiles(warehouse, cfg, as_of=later)
    assert _stays(warehouse, "champions") == [(bob, NOW, later), (cy, later, None)]
    [(member,)] = [(r["profile_id"],) for r in warehouse.query(
        "SELECT profile_id, entered_at FROM cdp.audience_members WHERE audience = 'champions'")]
    assert member == cy


def test_a_member_who_stays_keeps_its_entry_time_and_rebuilds_change_nothing(warehouse):
    cfg = built_world(warehouse)
    before = warehouse.query("SELECT audience, profile_id, entered_at FROM cdp.audience_members "
                             "ORDER BY audience, profile_id")
    assert before
    build_except_profiles(warehouse, cfg, as_of=NOW + timedelta(hours=1))
    build_except_profiles(warehouse, cfg, as_of=NOW + timedelta(hours=1), full_refresh=True)
    after = warehouse.query("SELECT audience, profile_id, entered_at FROM cdp.audience_members "
                            "ORDER BY audience, profile_id")
    assert after == before
    assert members(warehouse, "purchasers") == {"bob", "dee"}
    assert warehouse.query("SELECT COUNT(*) AS n FROM cdp.audience_history WHERE exited_at IS NOT NULL") == [{"n": 0}]


def test_a_disabled_audience_closes_its_stays(warehouse):
    built_world(warehouse)
    assert members(warehouse, "purchasers")
    build_except_profiles(warehouse, config(audiences=[{"name": "lapsed_customers", "enabled": False},
                                                       {"name": "purchasers", "enabled": False}]),
                          as_of=NOW + timedelta(days=2))
    assert members(warehouse, "purchasers") == set()
    closed = {r["exited_at"] for r in warehouse.query(
        "SELECT exited_at FROM cdp.audience_history WHERE audience = 'purchasers'")}
    assert closed == {NOW + timedelta(days=2)}
