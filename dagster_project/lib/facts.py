"""Small questions about the warehouse that the checks and `headwater status` both ask.

One place for each so the freshness check and the status table can never disagree about
when a source last loaded or how a sync last ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from headwater.warehouse import Warehouse, fetch_dicts

Ask = Callable[..., list[dict[str, Any]]]


@contextmanager
def asking(warehouse: Warehouse) -> Iterator[Ask]:
    """One connection for several questions: opening a DuckDB file costs more than a count."""
    with warehouse.connect() as connection:
        yield lambda sql, params=None: fetch_dicts(connection, sql, params, warehouse.dialect)


def has_table(ask: Ask, schema: str, table: str) -> bool:
    return bool(ask("SELECT 1 AS found FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                    [schema, table]))


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def last_completed_load(ask: Ask, schema: str) -> datetime | None:
    """When dlt last completed a load into `schema` (spool loads and cloud pulls alike), UTC."""
    if not has_table(ask, schema, "_dlt_loads"):
        return None
    newest = ask(f"SELECT max(inserted_at) AS newest FROM {quoted(schema)}._dlt_loads WHERE status = 0")[0]["newest"]
    if newest is None:
        return None
    return newest if newest.tzinfo else newest.replace(tzinfo=timezone.utc)


def raw_tables(ask: Ask, schema: str) -> list[str]:
    """The schema's data tables, dlt's and quarantine bookkeeping left out."""
    rows = ask("SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name", [schema])
    return [r["table_name"] for r in rows if not r["table_name"].startswith("_")]


def tables_with_column(ask: Ask, schema: str, column: str) -> list[str]:
    """Data tables of `schema` having `column`."""
    rows = ask("SELECT table_name FROM information_schema.columns WHERE table_schema = %s AND column_name = %s "
               "ORDER BY table_name", [schema, column])
    return [r["table_name"] for r in rows if not r["table_name"].startswith("_")]


def quarantined(ask: Ask, schema: str) -> int:
    if not has_table(ask, schema, "_quarantine"):
        return 0
    return int(ask(f"SELECT count(*) AS n FROM {quoted(schema)}._quarantine")[0]["n"])


def latest_sync_runs(ask: Ask) -> dict[str, dict]:
    """Sync name -> its newest cdp.sync_runs row."""
    if not has_table(ask, "cdp", "sync_runs"):
        return {}
    rows = ask("SELECT r.* FROM cdp.sync_runs r JOIN (SELECT sync, max(finished_at) AS finished_at FROM cdp.sync_runs "
               "GROUP BY sync) newest ON newest.sync = r.sync AND newest.finished_at = r.finished_at")
    return {row["sync"]: row for row in rows}
