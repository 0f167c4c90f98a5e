"""Checks on the raw tables: `id` unique, quarantine empty (warn), source freshness (warn).

Why these: loads are idempotent only if `id` stays unique (a duplicate means a replay
slipped through); quarantined rows are data someone must look at; and a source whose last
load is old is the first sign of a broken pipeline or expired credentials.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial

import dagster as dg

from dagster_project.lib.checks import warehouse_check
from dagster_project.lib.facts import Ask, last_completed_load, literal, quarantined, quoted, tables_with_column
from dagster_project.lib.policy import cloud_table_keys, project_config, spool_keys, writer_pool

# events may be quiet for a day; cloud sources are pulled hourly
FRESH_WITHIN = {"events": timedelta(hours=24), "cloud": timedelta(hours=3)}


def duplicate_ids(ask: Ask, schema: str, table: str | None) -> tuple[bool, dict]:
    """Extra copies of an id per table, counted in one query over every table checked."""
    with_id = tables_with_column(ask, schema, "id")
    tables = [t for t in with_id if t == table] if table else with_id
    duplicates: dict[str, int] = {}
    if tables:
        union = " UNION ALL ".join(f"SELECT {literal(name)} AS table_name, count(*) - count(DISTINCT id) AS extra "
                                   f"FROM {quoted(schema)}.{quoted(name)}" for name in tables)
        duplicates = {r["table_name"]: int(r["extra"]) for r in ask(union) if r["extra"]}
    return not duplicates, {"tables_checked": len(tables), "duplicate_ids": duplicates}


def quarantined_rows(ask: Ask, schema: str) -> tuple[bool, dict]:
    count = quarantined(ask, schema)
    return count == 0, {"quarantined_rows": count,
                        "what_to_do": f"headwater quarantine list --source {schema}; fix, then quarantine replay"}


def last_load(ask: Ask, schema: str, within: timedelta) -> tuple[bool, dict]:
    """The source's newest completed dlt load (`<schema>._dlt_loads`) is recent enough."""
    newest = last_completed_load(ask, schema)
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
