"""Project-wide orchestration policies, decided once from headwater.yml.

Why one module: the DuckDB single-writer pool, the kinds shown in the UI and whether
schedules start switched on are the same decision for every asset; written once here,
no defs folder can drift from the others.
"""

from __future__ import annotations

import dagster as dg

from headwater.config import HeadwaterConfig, load_config
from headwater.warehouse import Warehouse

# DuckDB allows one writer at a time: every asset writing it shares this pool, and
# dagster.yaml gives pools a limit of 1. On PostgreSQL assets are in no pool.
DUCKDB_WRITER_POOL = "duckdb_warehouse"


def project_config() -> HeadwaterConfig:
    """headwater.yml (or $HEADWATER_CONFIG), read each time definitions load."""
    return load_config()


def warehouse_kind(config: HeadwaterConfig) -> str:
    """'duckdb' or 'postgres': the kind tag on every asset that lives in the warehouse."""
    return Warehouse(config.warehouse).dialect


def writer_pool(config: HeadwaterConfig) -> str | None:
    """The concurrency pool of assets writing the warehouse: one at a time on DuckDB only."""
    return DUCKDB_WRITER_POOL if Warehouse(config.warehouse).is_duckdb else None


def default_status(config: HeadwaterConfig) -> dg.DefaultSensorStatus:
    """Schedules and sensors are off unless `schedules.enabled` is on (production)."""
    return dg.DefaultSensorStatus.RUNNING if config.schedules.enabled else dg.DefaultSensorStatus.STOPPED


def default_schedule_status(config: HeadwaterConfig) -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if config.schedules.enabled else dg.DefaultScheduleStatus.STOPPED


def cloud_table_keys(config: HeadwaterConfig) -> list[dg.AssetKey]:
    """`shopify/orders`, `stripe/charges`, ...: one key per dlt resource of each cloud source."""
    from pipelines.cloud_sources import SOURCE_FACTORIES, build_source

    keys: list[dg.AssetKey] = []
    for entry in config.sources:
        if entry.type in SOURCE_FACTORIES:
            keys += [dg.AssetKey([entry.name, resource]) for resource in build_source(entry).resources]
    return keys


SPOOL_TABLES = {"events": "events", "shopify": "webhooks", "stripe": "webhooks"}


def spool_keys(config: HeadwaterConfig) -> dict[str, dg.AssetKey]:
    """Source name -> the asset holding what the spool loads into its schema: the Segment
    tables of an events source, the raw `webhooks` of a Shopify or Stripe source."""
    return {entry.name: dg.AssetKey([entry.name, SPOOL_TABLES[entry.type]])
            for entry in config.sources if entry.type in SPOOL_TABLES}


def raw_keys(config: HeadwaterConfig) -> list[dg.AssetKey]:
    """Every raw input of the models: spool-loaded schemas and cloud-source tables."""
    return sorted([*spool_keys(config).values(), *cloud_table_keys(config)], key=lambda k: k.path)
