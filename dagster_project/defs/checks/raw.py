"""Checks on the raw tables: `id` unique, quarantine empty (warn), source freshness (warn).

Why these: loads are idempotent only if `id` stays unique (a duplicate means a replay
slipped through); quarantined rows are data someone must look at; and a source whose last
load is old is the first sign of a broken pipeline or expired credentials.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial

import dagster as dg

from dagster_project.lib.checks import tables_with_column, warehouse_check
from dagster_project.lib.facts import last_completed_load, quoted
from dagster_project.lib.policy import cloud_table_keys, project_config, spool_keys, writer_pool
from headwater.warehouse import Warehouse
from pipelines.segment_layout import QUARANTINE_TABLE

# events may be quiet for a day; cloud sources are pulled hourly
FRESH_WITHIN = {"events": timedelta(hours=24), "cloud": timedelta(hours=3)}


def duplicate_ids(warehouse: Warehouse, schema: str, table: str | None) -> tuple[bool, dict]:
    with_id = tables_with_column(warehouse, schema, "id")
    tables = [t for t in with_id if t == table] if table else with_id
    duplicates = {}
    for name in tables:
        rows = warehouse.query(f"SELECT count(*) - count(DISTINCT id) AS extra FROM {quoted(schema)}.{quoted(name)}")
        if rows[0]["extra"]:
            duplicates[name] = int(rows[0]["extra"])
    return not duplicates, {"tables_checked": len(tables), "duplicate_ids": duplicates}


def quarantined_rows(warehouse: Warehouse, schema: str) -> tuple[bool, dict]:
    if not warehouse.table_exists(schema, QUARANTINE_TABLE):
        return True, {"quarantined_rows": 0}
    count = int(warehouse.query(f"SELECT count(*) AS n FROM {quoted(schema)}.{quoted(QUARANTINE_TABLE)}")[0]["n"])
    return count == 0, {"quarantined_rows": count,
                        "what_to_do": f"headwater quarantine list --source {schema}; fix, then quarantine replay"}


def last_load(warehouse: Warehouse, schema: str, within: timedelta) -> tuple[bool, dict]:
    """The source's newest completed dlt load (`<schema>._dlt_loads`) is recent enough."""
    newest = last_completed_load(warehouse, schema)
    if newest is None:
        return False, {"last_load": "never"}
    age = datetime.now(timezone.utc) - newest
    return age <= within, {"last_load": newest.isoformat(), "age_hours": round(age.total_seconds() / 3600, 2),
                           "limit_hours": within.total_seconds() / 3600}


def raw_checks(config) -> list[dg.AssetChecksDefinition]:
    pool = writer_pool(config)
    checks = []
    for schema, key in spool_keys(config).items():
        checks.append(warehouse_check(key, "id_unique", f"Every raw table of {schema} has each id once.",
                                      partial(duplicate_ids, schema=schema, table=None), pool=pool))
        checks.append(warehouse_check(key, "quarantine_empty", f"No rows of {schema} wait in {schema}._quarantine.",
                                      partial(quarantined_rows, schema=schema), warn=True, pool=pool))
        if config.source(schema).type == "events":
            checks.append(warehouse_check(key, "source_fresh", f"{schema} loaded events within 24 hours.",
                                          partial(last_load, schema=schema, within=FRESH_WITHIN["events"]),
                                          warn=True, pool=pool))
    freshness_on: set[str] = set()
    for key in cloud_table_keys(config):
        schema, table = key.path
        checks.append(warehouse_check(key, "id_unique", f"{schema}.{table} has each id once.",
                                      partial(duplicate_ids, schema=schema, table=table), pool=pool))
        if schema not in freshness_on:  # one freshness check per source, on its first table
            freshness_on.add(schema)
            checks.append(warehouse_check(key, "source_fresh", f"{schema} completed a pull within 3 hours.",
                                          partial(last_load, schema=schema, within=FRESH_WITHIN["cloud"]),
                                          warn=True, pool=pool))
    return checks


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=raw_checks(project_config()))
