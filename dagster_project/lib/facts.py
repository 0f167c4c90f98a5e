"""Small questions about the warehouse that the checks and `headwater status` both ask.

One place for each so the freshness check and the status table can never disagree about
when a source last loaded or how a sync last ran.
"""

from __future__ import annotations

from datetime import datetime, timezone

from headwater.warehouse import Warehouse


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def last_completed_load(warehouse: Warehouse, schema: str) -> datetime | None:
    """When dlt last completed a load into `schema` (spool loads and cloud pulls alike), UTC."""
    if not warehouse.table_exists(schema, "_dlt_loads"):
        return None
    newest = warehouse.query(f"SELECT max(inserted_at) AS newest FROM {quoted(schema)}._dlt_loads WHERE status = 0")[0]["newest"]
    if newest is None:
        return None
    return newest if newest.tzinfo else newest.replace(tzinfo=timezone.utc)


def raw_tables(warehouse: Warehouse, schema: str) -> list[str]:
    """The schema's data tables, dlt's and quarantine bookkeeping left out."""
    rows = warehouse.query("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                           "ORDER BY table_name", [schema])
    return [r["table_name"] for r in rows if not r["table_name"].startswith("_")]


def latest_sync_runs(warehouse: Warehouse) -> dict[str, dict]:
    """Sync name -> its newest cdp.sync_runs row."""
    if not warehouse.table_exists("cdp", "sync_runs"):
        return {}
    rows = warehouse.query(
        "SELECT r.* FROM cdp.sync_runs r JOIN (SELECT sync, max(finished_at) AS finished_at FROM cdp.sync_runs "
        "GROUP BY sync) newest ON newest.sync = r.sync AND newest.finished_at = r.finished_at")
    return {row["sync"]: row for row in rows}
