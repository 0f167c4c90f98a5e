"""The Dagster project as the UI sees it: what loads, how it is grouped, pooled and scheduled.

The snapshot file (tests/snapshots/dagster_definitions.json) holds every asset key with its
group and deps, every check, schedule and sensor, so an accidental change shows up in review.
After an intended change: UPDATE_DAGSTER_SNAPSHOT=1 .venv/bin/pytest tests/test_dagster_definitions.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.demo_destinations import DEMO_DESTINATIONS
from destinations.registry import DESTINATION_TYPES
from tests.dagster_kit import write_project

SNAPSHOT = Path(__file__).parent / "snapshots" / "dagster_definitions.json"
PIPELINE_GROUPS = {"collect", "sources", "identity", "profiles", "audiences", "conversions", "syncs"}


def load_definitions(folder: Path, monkeypatch, warehouse_url: str, schedules: bool = False) -> dg.Definitions:
    monkeypatch.setenv("HEADWATER_CONFIG", str(write_project(folder, warehouse_url, schedules)))
    monkeypatch.delenv("HEADWATER_WAREHOUSE", raising=False)
    from dagster_project.definitions import defs

    return defs()


@pytest.fixture
def definitions(tmp_path, monkeypatch, duckdb_warehouse) -> dg.Definitions:
    return load_definitions(tmp_path, monkeypatch, duckdb_warehouse.url)


def describe(definitions: dg.Definitions) -> dict:
    specs = sorted(definitions.resolve_all_asset_specs(), key=lambda spec: spec.key.path)
    graph = definitions.resolve_asset_graph()
    return {
        "assets": {spec.key.to_user_string(): {"group": spec.group_name,
                                               "deps": sorted(d.asset_key.to_user_string() for d in spec.deps)}
                   for spec in specs},
        "checks": sorted(key.to_user_string() for key in graph.asset_check_keys),
        "schedules": {s.name: s.cron_schedule for s in definitions.schedules or []},
        "sensors": sorted(s.name for s in definitions.sensors or []),
    }


def test_definitions_load_and_validate_with_every_kind_of_source_and_sync(definitions):
    dg.Definitions.validate_loadable(definitions)
    keys = {spec.key.to_user_string() for spec in definitions.resolve_all_asset_specs()}
    assert {"website/events", "app/events", "shopify/webhooks", "stripe/webhooks", "shopify/orders",
            "stripe/charges", "mailchimp/members", "cdp/profiles", "cdp/audience_members"} <= keys
    assert {f"syncs/{entry.source.get('audience') or 'conversions'}_to_{entry.type}" for entry in DEMO_DESTINATIONS} <= keys


def test_definitions_match_the_reviewed_snapshot(definitions):
    current = describe(definitions)
    if os.environ.get("UPDATE_DAGSTER_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), (
        "the Dagster definitions changed; if intended, rerun with UPDATE_DAGSTER_SNAPSHOT=1 and review the diff")


def test_groups_read_as_the_data_path(definitions):
    groups = {spec.key.to_user_string(): spec.group_name for spec in definitions.resolve_all_asset_specs()}
    assert PIPELINE_GROUPS <= set(groups.values())
    assert groups["website/events"] == "collect" and groups["shopify/orders"] == "sources"
    assert groups["syncs/purchasers_to_google_customer_match"] == "syncs"


def test_syncs_run_after_their_audience_or_model_and_the_profiles(definitions):
    specs = {spec.key.to_user_string(): spec for spec in definitions.resolve_all_asset_specs()}
    deps = lambda key: {d.asset_key.to_user_string() for d in specs[key].deps}  # noqa: E731
    assert deps("syncs/purchasers_to_google_customer_match") == {"cdp/audience_members", "cdp/profiles"}
    assert deps("syncs/conversions_to_meta_conversions") == {"cdp/conversions", "cdp/profiles"}
    assert specs["syncs/conversions_to_meta_conversions"].automation_condition is not None


def test_models_reading_raw_tables_depend_on_every_raw_input(definitions):
    specs = {spec.key.to_user_string(): spec for spec in definitions.resolve_all_asset_specs()}
    roots = {d.asset_key.to_user_string() for d in specs["cdp_staging/identifier_rows"].deps}
    assert {"website/events", "app/events", "shopify/orders", "stripe/charges", "mailchimp/members"} <= roots


def writers_pools(definitions: dg.Definitions) -> dict[str, str | None]:
    pools = {}
    for assets in definitions.assets or []:
        if isinstance(assets, dg.AssetsDefinition):
            for key in assets.keys:
                pools[key.to_user_string()] = assets.op.pool
    return pools


def test_every_duckdb_writer_shares_one_pool_and_postgres_writers_share_none(tmp_path, monkeypatch, duckdb_warehouse,
                                                                              postgres_warehouse):
    on_duckdb = writers_pools(load_definitions(tmp_path, monkeypatch, duckdb_warehouse.url))
    assert set(on_duckdb.values()) == {"duckdb_warehouse"}
    assert {"website/events", "shopify/orders", "cdp/profiles", "syncs/conversions_to_ga4_events"} <= set(on_duckdb)
    on_postgres = writers_pools(load_definitions(tmp_path, monkeypatch, postgres_warehouse.url))
    assert set(on_postgres.values()) == {None}
    instance_yaml = Path(__file__).resolve().parents[1] / "dagster.yaml"
    assert instance_yaml.read_text().count("default_limit: 1") == 1  # what gives the pool its size


def statuses(definitions: dg.Definitions) -> set[str]:
    found = {s.default_status.value for s in definitions.schedules or []}
    return found | {s.default_status.value for s in definitions.sensors or []}


def test_schedules_and_sensors_are_off_by_default_and_on_in_production(tmp_path, monkeypatch, duckdb_warehouse):
    demo = load_definitions(tmp_path, monkeypatch, duckdb_warehouse.url)
    assert {s.name for s in demo.sensors} == {"spool_backlog_sensor", "models_and_syncs_automation"}
    assert {s.name: s.cron_schedule for s in demo.schedules} == {"sources_hourly": "0 * * * *"}
    assert statuses(demo) == {"STOPPED"}
    production = load_definitions(tmp_path, monkeypatch, duckdb_warehouse.url, schedules=True)
    assert statuses(production) == {"RUNNING"}


def test_the_demo_has_a_sync_for_every_destination_type():
    assert {entry.type for entry in DEMO_DESTINATIONS} == set(DESTINATION_TYPES)


def test_the_spool_sensor_asks_for_a_load_only_when_closed_files_wait(tmp_path, monkeypatch, duckdb_warehouse):
    from sources.collect.spool import SpoolWriter, encode

    definitions = load_definitions(tmp_path, monkeypatch, duckdb_warehouse.url)
    sensor = definitions.resolve_sensor_def("spool_backlog_sensor")
    assert sensor.minimum_interval_seconds == 300

    def tick():
        with dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral()) as context:
            return sensor.evaluate_tick(context)

    assert tick().run_requests == []  # empty spool: a skip, no run
    writer = SpoolWriter(tmp_path / "spool", name="test")
    writer.write(encode({"source": "website", "kind": "events", "received_at": "2026-01-01T00:00:00Z",
                         "messages": []}))
    writer.sync()
    assert tick().run_requests == []  # written but still open: nothing to load yet
    writer.rotate()
    first = tick().run_requests
    assert len(first) == 1
    assert tick().run_requests[0].run_key == first[0].run_key  # same backlog, same run key: no second load
