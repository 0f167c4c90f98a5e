"""Segment's `users` table: one row per user_id with each trait's latest non-null value.

Why SQL in the warehouse: the latest trait depends on every identify a user ever sent,
not only this load's, and pulling a source's whole `identifies` table into Python does
not scale. So after each load we recompute, in one grouped query, only the users this
load touched. `ARRAY_AGG(... ORDER BY ...) FILTER (WHERE ... IS NOT NULL)[1]` means the
same on DuckDB and PostgreSQL, so there is no per-engine SQL beyond the temp table.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from headwater.warehouse import Warehouse, fetch_dicts
from pipelines.segment_layout import STANDARD_COLUMNS, USERS_TABLE

# identifies columns that describe the call, not the user
CALL_COLUMNS = frozenset(STANDARD_COLUMNS.values()) | {"uuid_ts"}
TIMESTAMPTZ = "TIMESTAMP WITH TIME ZONE"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(connection: Any, dialect: str, schema: str, table: str) -> dict[str, str]:
    rows = fetch_dicts(
        connection,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        [schema, table], dialect,
    )
    return {row["column_name"]: row["data_type"] for row in rows}


def trait_columns(identifies: dict[str, str]) -> list[str]:
    return [c for c in identifies if c not in CALL_COLUMNS and not c.startswith(("context_", "_dlt"))]


def _stage_user_ids(connection: Any, dialect: str, user_ids: list[str]) -> None:
    if dialect == "duckdb":
        connection.register("headwater_touched_arrow", pa.table({"user_id": pa.array(user_ids, pa.string())}))
        connection.execute("CREATE TEMP TABLE headwater_touched AS SELECT user_id FROM headwater_touched_arrow")
        connection.unregister("headwater_touched_arrow")
        return
    from psycopg2.extras import execute_values

    cursor = connection.cursor()
    cursor.execute("DROP TABLE IF EXISTS headwater_touched")
    cursor.execute("CREATE TEMP TABLE headwater_touched (user_id text) ON COMMIT DROP")
    execute_values(cursor, "INSERT INTO headwater_touched (user_id) VALUES %s", [(u,) for u in user_ids],
                   page_size=5000)


def refresh_users(warehouse: Warehouse, schema: str, user_ids: set[str]) -> int:
    """Recompute `users` rows for `user_ids` from `identifies`; returns rows written."""
    if not user_ids:
        return 0
    dialect = warehouse.dialect
    with warehouse.connect() as connection:
        identifies = _columns(connection, dialect, schema, "identifies")
        if not identifies:
            return 0
        traits = trait_columns(identifies)
        # DuckDB's cursor() is a separate connection, which would not see the temp table
        cursor = connection if dialect == "duckdb" else connection.cursor()
        if dialect == "duckdb":
            cursor.execute("BEGIN TRANSACTION")
        users = f"{quote(schema)}.{quote(USERS_TABLE)}"
        try:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {users} (id {identifies['user_id']}, "
                f"received_at {identifies.get('received_at', TIMESTAMPTZ)}, uuid_ts {identifies.get('uuid_ts', TIMESTAMPTZ)})"
            )
            if dialect == "postgres":  # two loaders must not both insert the same user
                cursor.execute(f"LOCK TABLE {users} IN EXCLUSIVE MODE")
            existing = _columns(connection, dialect, schema, USERS_TABLE)
            for column in traits:
                if column not in existing:
                    cursor.execute(f"ALTER TABLE {users} ADD COLUMN {quote(column)} {identifies[column]}")
            _stage_user_ids(connection, dialect, sorted(user_ids))
            cursor.execute(f"DELETE FROM {users} WHERE id IN (SELECT user_id FROM headwater_touched)")
            latest = ", ".join(
                f"(ARRAY_AGG(i.{quote(c)} ORDER BY i.{quote('timestamp')} DESC, i.received_at DESC) "
                f"FILTER (WHERE i.{quote(c)} IS NOT NULL))[1]"
                for c in traits
            )
            target = ", ".join(["id", "received_at", "uuid_ts", *map(quote, traits)])
            cursor.execute(
                f"INSERT INTO {users} ({target}) "
                f"SELECT i.user_id, MAX(i.received_at), MAX(i.uuid_ts){', ' + latest if latest else ''} "
                f"FROM {quote(schema)}.identifies i JOIN headwater_touched t ON i.user_id = t.user_id "
                f"GROUP BY i.user_id"
            )
            written = cursor.rowcount if dialect == "postgres" else len(user_ids)
            if dialect == "duckdb":
                cursor.execute("DROP TABLE headwater_touched")
                cursor.execute("COMMIT")
        except BaseException:
            if dialect == "duckdb":
                cursor.execute("ROLLBACK")
            raise
        return written
