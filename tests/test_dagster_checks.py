"""Asset checks pass on good data and fail (or warn) on seeded bad data, on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial

import dagster as dg
import pytest

from dagster_project.defs.checks.profiles import audience_swings, profiles_without_identity
from dagster_project.defs.checks.raw import duplicate_ids, last_load, quarantined_rows
from dagster_project.defs.checks.syncs import latest_run_errors
from dagster_project.lib.checks import warehouse_check
from dagster_project.lib.facts import asking
from dagster_project.lib.resources import HeadwaterResource
from headwater.warehouse import Warehouse


def run(warehouse: Warehouse, *statements: str, params: list | None = None) -> None:
    with warehouse.connect() as connection:
        cursor = connection.cursor()
        for sql in statements:
            cursor.execute(sql.replace("%s", "?") if warehouse.is_duckdb and params else sql, params)


def ask(rule, warehouse: Warehouse, *args, **kwargs):
    """Evaluate a check's rule the way the check does: on one warehouse connection."""
    with asking(warehouse) as question:
        return rule(question, *args, **kwargs)


def utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def test_raw_ids_unique_passes_then_fails_on_a_duplicated_id(warehouse):
    run(warehouse, "CREATE SCHEMA web", "CREATE TABLE web.tracks (id VARCHAR, event VARCHAR)",
        "CREATE TABLE web._dlt_loads (load_id VARCHAR)", "INSERT INTO web.tracks VALUES ('m1', 'a'), ('m2', 'b')")
    assert ask(duplicate_ids, warehouse, "web", None) == (True, {"tables_checked": 1, "duplicate_ids": {}})
    run(warehouse, "INSERT INTO web.tracks VALUES ('m1', 'replayed')")
    passed, metadata = ask(duplicate_ids, warehouse, "web", None)
    assert not passed and metadata["duplicate_ids"] == {"tracks": 1}
    assert ask(duplicate_ids, warehouse, "web", "tracks")[0] is False


def test_quarantine_warns_while_rows_wait(warehouse):
    run(warehouse, "CREATE SCHEMA web")
    assert ask(quarantined_rows, warehouse, "web")[0]  # no quarantine table yet: nothing waits
    run(warehouse, "CREATE TABLE web._quarantine (id VARCHAR, reason VARCHAR)")
    assert ask(quarantined_rows, warehouse, "web")[0]
    run(warehouse, "INSERT INTO web._quarantine VALUES ('q1', 'type conflict')")
    passed, metadata = ask(quarantined_rows, warehouse, "web")
    assert not passed and metadata["quarantined_rows"] == 1 and "quarantine list --source web" in metadata["what_to_do"]


def test_source_freshness_fails_when_the_last_completed_load_is_too_old(warehouse):
    run(warehouse, "CREATE SCHEMA shop",
        "CREATE TABLE shop._dlt_loads (load_id VARCHAR, status BIGINT, inserted_at TIMESTAMP)")
    assert ask(last_load, warehouse, "shop", timedelta(hours=3)) == (False, {"last_load": "never"})
    now = datetime.now(timezone.utc)
    run(warehouse, "INSERT INTO shop._dlt_loads VALUES ('1', 0, %s), ('2', 1, %s)",
        params=[utc_naive(now - timedelta(hours=5)), utc_naive(now)])  # the recent load did not complete
    passed, metadata = ask(last_load, warehouse, "shop", timedelta(hours=3))
    assert not passed and metadata["age_hours"] >= 5
    run(warehouse, "INSERT INTO shop._dlt_loads VALUES ('3', 0, %s)", params=[utc_naive(now - timedelta(minutes=10))])
    assert ask(last_load, warehouse, "shop", timedelta(hours=3))[0]


def test_a_profile_without_an_identity_fails_the_check(warehouse):
    run(warehouse, "CREATE SCHEMA cdp", "CREATE TABLE cdp.profiles (profile_id VARCHAR)",
        "CREATE TABLE cdp.profile_identities (profile_id VARCHAR, identifier VARCHAR)",
        "INSERT INTO cdp.profiles VALUES ('p1'), ('p2')", "INSERT INTO cdp.profile_identities VALUES ('p1', 'e1')")
    assert ask(profiles_without_identity, warehouse) == (False, {"profiles_without_identity": 1})
    run(warehouse, "INSERT INTO cdp.profile_identities VALUES ('p2', 'e2')")
    assert ask(profiles_without_identity, warehouse)[0]


def seed_audiences(warehouse: Warehouse, leavers: int) -> None:
    """`fans`: 10 members before the latest build, `leavers` of them left in it; `new`: first build."""
    before, latest = datetime(2026, 1, 1), datetime(2026, 1, 2)
    run(warehouse, "CREATE SCHEMA IF NOT EXISTS cdp", "CREATE SCHEMA IF NOT EXISTS cdp_staging",
        "DROP TABLE IF EXISTS cdp_staging.build_context", "DROP TABLE IF EXISTS cdp.audience_history",
        "CREATE TABLE cdp_staging.build_context (as_of TIMESTAMP)",
        "CREATE TABLE cdp.audience_history (audience VARCHAR, profile_id VARCHAR, entered_at TIMESTAMP, "
        "exited_at TIMESTAMP)")
    run(warehouse, "INSERT INTO cdp_staging.build_context VALUES (%s)", params=[latest])
    for n in range(10):
        run(warehouse, "INSERT INTO cdp.audience_history VALUES ('fans', %s, %s, %s)",
            params=[f"p{n}", before, latest if n < leavers else None])
    for n in range(3):
        run(warehouse, "INSERT INTO cdp.audience_history VALUES ('new', %s, %s, NULL)", params=[f"q{n}", latest])


def test_audience_size_change_warns_only_above_the_threshold(warehouse):
    seed_audiences(warehouse, leavers=5)  # 10 -> 5: exactly half, allowed
    passed, metadata = ask(audience_swings, warehouse, threshold=0.5)
    assert passed and metadata["sizes"] == {"fans": 5, "new": 3}
    seed_audiences(warehouse, leavers=6)  # 10 -> 4
    passed, metadata = ask(audience_swings, warehouse, threshold=0.5)
    assert not passed and metadata["swings_over_threshold"] == {"fans": "10 -> 4"}


def test_sync_errors_warn_for_the_latest_run_only(warehouse):
    run(warehouse, "CREATE SCHEMA cdp",
        "CREATE TABLE cdp.sync_runs (run_id VARCHAR, sync VARCHAR, status VARCHAR, finished_at TIMESTAMP)",
        "CREATE TABLE cdp.sync_errors (run_id VARCHAR, sync VARCHAR, error_code VARCHAR)")
    assert ask(latest_run_errors, warehouse, "vip")[0]  # never ran: nothing to warn about
    run(warehouse, "INSERT INTO cdp.sync_runs VALUES ('r1', 'vip', 'partial', '2026-01-01 00:00:00')",
        "INSERT INTO cdp.sync_errors VALUES ('r1', 'vip', '400'), ('r1', 'vip', '400'), ('r1', 'vip', 'skipped')")
    passed, metadata = ask(latest_run_errors, warehouse, "vip")
    assert not passed and metadata["by_code"] == {"400": 2, "skipped": 1}
    run(warehouse, "INSERT INTO cdp.sync_runs VALUES ('r2', 'vip', 'succeeded', '2026-01-02 00:00:00')")
    assert ask(latest_run_errors, warehouse, "vip")[0]  # the retry delivered them


@pytest.mark.parametrize("warn, severity", [(False, dg.AssetCheckSeverity.ERROR), (True, dg.AssetCheckSeverity.WARN)])
def test_a_warehouse_check_reports_through_dagster_with_its_severity(tmp_path, duckdb_warehouse, warn, severity):
    run(duckdb_warehouse, "CREATE SCHEMA web", "CREATE TABLE web.tracks (id VARCHAR)",
        "INSERT INTO web.tracks VALUES ('m1'), ('m1')")
    config = tmp_path / "headwater.yml"
    config.write_text(f"warehouse: {duckdb_warehouse.url}\n")
    check = warehouse_check(dg.AssetKey(["web", "events"]), "id_unique", "ids once",
                            partial(duplicate_ids, schema="web", table=None), warn=warn)
    result = check(headwater=HeadwaterResource(config_file=str(config)))
    assert (result.passed, result.severity) == (False, severity)
    assert result.metadata["duplicate_ids"].value == {"tracks": 1}
