"""`headwater status`: sources and their last load, the spool backlog, syncs and their last run.

Why a terminal view beside the Dagster UI: "is data flowing?" should be one command on the
box that runs collect, answered from the warehouse and the spool folder themselves (the
same facts the freshness and sync-error checks read), with no Dagster instance needed.
"""

from __future__ import annotations

from datetime import datetime, timezone

import click
from rich.console import Console
from rich.table import Table

from headwater.cli import UserError
from headwater.runtime import cli_config, config_option
from headwater.warehouse import Warehouse


def ago(moment: datetime | None, now: datetime, short: bool = False) -> str:
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            break
    else:
        unit, size = "s", 1
    relative = f"{seconds // size}{unit} ago"
    return relative if short else f"{moment:%Y-%m-%d %H:%M} UTC ({relative})"


def sources_table(config, warehouse: Warehouse, now: datetime) -> Table:
    from dagster_project.lib.facts import asking, last_completed_load, quarantined, raw_tables

    table = Table(title="Sources", title_justify="left")
    for column in ("source", "type", "last load", "tables", "quarantined"):
        table.add_column(column, no_wrap=True)
    with asking(warehouse) as ask:
        for entry in config.sources:
            table.add_row(entry.name, entry.type, ago(last_completed_load(ask, entry.name), now),
                          str(len(raw_tables(ask, entry.name))), f"{quarantined(ask, entry.name):,}")
    return table


def backlog_table(spool_dir) -> Table:
    from sources.collect.spool import backlog

    counts = backlog(spool_dir)
    table = Table(title=f"Spool backlog ({spool_dir})", title_justify="left")
    for column in ("open (being written)", "closed (waiting to load)", "claimed (loading)", "archived"):
        table.add_column(column, justify="right")
    table.add_row(*(str(counts[name]) for name in ("open", "closed", "claimed", "archive")))
    return table


def syncs_table(config, warehouse: Warehouse, now: datetime) -> Table:
    from dagster_project.lib.facts import asking, latest_sync_runs

    with asking(warehouse) as ask:
        runs = latest_sync_runs(ask)
    table = Table(title="Syncs", title_justify="left")
    table.add_column("sync", overflow="fold", ratio=3)
    table.add_column("destination", overflow="fold", ratio=2)
    for column in ("last run", "status", "sent", "failed"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("sent", "failed") else "left")
    for sync in config.syncs:
        run = runs.get(sync.name)
        if run is None:
            table.add_row(sync.name, sync.destination, "never", "-", "-", "-")
            continue
        table.add_row(sync.name, sync.destination, ago(run["finished_at"], now, short=True), run["status"],
                      f"{run['rows_succeeded']:,}", f"{run['rows_failed'] + run['rows_skipped']:,}")
    return table


@click.command()
@config_option
def status(config_file) -> None:
    """Sources and their last load, spool backlog, syncs and their last run."""
    config = cli_config(config_file)
    warehouse = Warehouse(config.warehouse)
    if warehouse.is_duckdb and not warehouse.duckdb_path.exists():
        raise UserError(f"no warehouse at {warehouse.duckdb_path} yet; run `headwater load` or `headwater demo` first")
    console = Console()
    now = datetime.now(timezone.utc)
    console.print(f"warehouse: {warehouse.safe_url()}")
    try:
        console.print(sources_table(config, warehouse, now))
        console.print(backlog_table(config.collect.spool_dir))
        console.print(syncs_table(config, warehouse, now))
    except Exception as error:  # noqa: BLE001 - a locked or unreachable warehouse is a user-facing condition
        first = (str(error).strip().splitlines() or [error.__class__.__name__])[0]
        raise UserError(f"cannot read the warehouse {warehouse.safe_url()}: {first}") from None
