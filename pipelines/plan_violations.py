"""Tracking-plan violations in the warehouse: `<source>._violations` and `cdp.tracking_plan_violations`.

Why two tables: each recorded violation is one row of its source's `_violations` table,
keyed by a hash of (messageId, violation, property) and loaded insert-only with the
message itself, so a reloaded spool file or a replayed message never counts twice. The
analysts' table, `cdp.tracking_plan_violations`, is the per source/event/property/
violation/day count over those rows, rebuilt in one transaction after every load (a
small aggregate; rebuilding it keeps it right after deletions too). Rows hold rule
descriptions, never the values sent.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import pyarrow as pa

from headwater.warehouse import Warehouse
from pipelines.column_types import TEXT, TIMESTAMP, keyed_arrow_schema, parse_timestamp
from pipelines.users_table import quote
from sources.tracking_plan.enforce import recorded_violations

VIOLATIONS_TABLE = "_violations"
COUNTS_SCHEMA, COUNTS_TABLE = "cdp", "tracking_plan_violations"

VIOLATIONS_ARROW = keyed_arrow_schema(id=TEXT, message_id=TEXT, message_type=TEXT, event=TEXT,
                                      property=TEXT, violation=TEXT, policy=TEXT, description=TEXT,
                                      received_at=TIMESTAMP, uuid_ts=TIMESTAMP)

COUNTS_COLUMNS = ("source TEXT, message_type TEXT, event TEXT, property TEXT, violation TEXT, day DATE, "
                  "violations BIGINT, quarantined BIGINT")


def violation_rows(message: Any, received_at: Any, loaded_at: datetime) -> list[dict[str, Any]]:
    """The `_violations` rows of one message, from its `context.protocols.violations`."""
    found = recorded_violations(message)
    if not found:
        return []
    message_id = message.get("messageId")
    received = message.get("receivedAt") or received_at
    try:
        received_time = parse_timestamp(received) if isinstance(received, str) else None
    except ValueError:
        received_time = None
    rows = []
    for entry in found:
        key = f"{message_id}\0{entry.get('violation')}\0{entry.get('property')}"
        rows.append({
            "id": hashlib.sha256(key.encode()).hexdigest()[:20], "message_id": message_id,
            "message_type": message.get("type"), "event": message.get("event") if message.get("type") == "track" else None,
            "property": entry.get("property"), "violation": entry.get("violation"), "policy": entry.get("policy"),
            "description": entry.get("description"), "received_at": received_time, "uuid_ts": loaded_at,
        })
    return rows


def violations_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=VIOLATIONS_ARROW)


def _utc_day(warehouse: Warehouse) -> str:
    # the day in UTC whatever the session's time zone
    if warehouse.is_duckdb:
        return "CAST(timezone('UTC', received_at) AS DATE)"
    return "CAST(received_at AT TIME ZONE 'UTC' AS DATE)"


def refresh_violation_counts(warehouse: Warehouse, schemas: list[str]) -> int:
    """Rebuild cdp.tracking_plan_violations from every listed schema's `_violations`; returns its rows."""
    with_table = [schema for schema in schemas if warehouse.table_exists(schema, VIOLATIONS_TABLE)]
    target = f"{quote(COUNTS_SCHEMA)}.{quote(COUNTS_TABLE)}"
    day = _utc_day(warehouse)
    selects = [
        f"SELECT '{schema}' AS source, message_type, event, property, violation, {day} AS day, "
        f"COUNT(*) AS violations, SUM(CASE WHEN policy = 'quarantine' THEN 1 ELSE 0 END) AS quarantined "
        f"FROM {quote(schema)}.{quote(VIOLATIONS_TABLE)} GROUP BY message_type, event, property, violation, {day}"
        for schema in with_table
    ]
    statements = [f"CREATE SCHEMA IF NOT EXISTS {quote(COUNTS_SCHEMA)}",
                  f"CREATE TABLE IF NOT EXISTS {target} ({COUNTS_COLUMNS})", f"DELETE FROM {target}"]
    if selects:
        statements.append(f"INSERT INTO {target} " + " UNION ALL ".join(selects))
    with warehouse.connect() as connection:
        cursor = connection.cursor()
        if warehouse.is_duckdb:
            cursor.execute("BEGIN TRANSACTION")
        for statement in statements:
            cursor.execute(statement)
        if warehouse.is_duckdb:
            cursor.execute("COMMIT")
    return int(warehouse.query(f"SELECT COUNT(*) AS n FROM {target}")[0]["n"])
