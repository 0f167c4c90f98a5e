"""One warehouse connection for a privacy request, and the tables that audit requests.

Why the audit lives in the warehouse: it is the store of record, and a regulator's question
("what did you do with my deletion request?") must be answerable with SQL. The audit keeps
hashes of identifiers, never the identifiers, except while destination steps are pending
(then Fernet-encrypted, see vault.py). SQL here runs unchanged on DuckDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from headwater.warehouse import Warehouse, fetch_dicts

SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast"})
REQUESTS, STEPS, SUPPRESSIONS = "cdp.privacy_requests", "cdp.privacy_request_steps", "cdp.privacy_suppressions"
INBOX = "headwater.privacy_inbox"
AUDIT_TABLES = frozenset({("cdp", "privacy_requests"), ("cdp", "privacy_request_steps"),
                          ("cdp", "privacy_suppressions"), ("headwater", "privacy_inbox")})

DDL = (
    "CREATE SCHEMA IF NOT EXISTS cdp",
    "CREATE SCHEMA IF NOT EXISTS headwater",
    f"""CREATE TABLE IF NOT EXISTS {REQUESTS} (
        request_id VARCHAR, regulation VARCHAR, requested_by VARCHAR, requested_at TIMESTAMP,
        status VARCHAR, profile_ids VARCHAR, identifier_hashes VARCHAR, identifiers_encrypted VARCHAR,
        rows_found BIGINT, rows_deleted BIGINT, finished_at TIMESTAMP, message VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {STEPS} (
        request_id VARCHAR, step VARCHAR, target VARCHAR, status VARCHAR, rows_affected BIGINT,
        attempts BIGINT, detail VARCHAR, updated_at TIMESTAMP)""",
    f"""CREATE TABLE IF NOT EXISTS {SUPPRESSIONS} (
        request_id VARCHAR, identifier_hash VARCHAR, regulation VARCHAR, active BOOLEAN, created_at TIMESTAMP)""",
    f"""CREATE TABLE IF NOT EXISTS {INBOX} (
        request_id VARCHAR, regulation VARCHAR, requested_by VARCHAR, users VARCHAR, received_at VARCHAR,
        loaded_at TIMESTAMP)""",
)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Session:
    """A connection with its dialect; `%s` parameters on both engines."""

    def __init__(self, connection: Any, warehouse: Warehouse):
        self.connection, self.warehouse = connection, warehouse

    @property
    def is_duckdb(self) -> bool:
        return self.warehouse.is_duckdb

    def run(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        return fetch_dicts(self.connection, sql, params, self.warehouse.dialect)

    def insert_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        for row in rows:
            self.run(sql, list(row))

    def commit(self) -> None:
        if not self.is_duckdb:
            self.connection.commit()

    def exists(self, schema: str, table: str) -> bool:
        return bool(self.run("SELECT 1 AS found FROM information_schema.tables WHERE table_schema = %s "
                             "AND table_name = %s", [schema, table]))

    def tables(self) -> dict[tuple[str, str], dict[str, str]]:
        """Every user table with its columns and types, in a stable order."""
        rows = self.run("SELECT c.table_schema, c.table_name, c.column_name, c.data_type "
                        "FROM information_schema.columns c JOIN information_schema.tables t "
                        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                        "WHERE t.table_type = 'BASE TABLE' ORDER BY c.table_schema, c.table_name, c.ordinal_position")
        tables: dict[tuple[str, str], dict[str, str]] = {}
        for row in rows:
            if row["table_schema"] in SYSTEM_SCHEMAS or row["table_schema"].startswith("pg_"):
                continue
            tables.setdefault((row["table_schema"], row["table_name"]), {})[row["column_name"]] = row["data_type"]
        return tables

    def ensure_tables(self) -> None:
        for statement in DDL:
            self.run(statement)
        self.commit()

    def record_step(self, request_id: str, step: str, target: str, status: str, rows: int = 0,
                    attempts: int = 1, detail: str = "") -> None:
        """One row per (request, step, target): re-running a step updates its row."""
        self.run(f"DELETE FROM {STEPS} WHERE request_id = %s AND step = %s AND target = %s",
                 [request_id, step, target])
        self.run(f"INSERT INTO {STEPS} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                 [request_id, step, target, status, rows, attempts, detail[:1000], now()])
        self.commit()


@contextmanager
def privacy_session(warehouse: Warehouse) -> Iterator[Session]:
    with warehouse.connect() as connection:
        session = Session(connection, warehouse)
        session.ensure_tables()
        yield session


def store_inbox(warehouse: Warehouse, records: list[dict[str, Any]]) -> int:
    """Regulation records from the spool into headwater.privacy_inbox, once each (by request_id)."""
    from orjson import dumps

    added = 0
    with privacy_session(warehouse) as session:
        for record in records:
            request_id = str(record.get("request_id") or "")
            if not request_id or session.run(f"SELECT 1 AS found FROM {INBOX} WHERE request_id = %s", [request_id]):
                continue
            session.run(f"INSERT INTO {INBOX} VALUES (%s, %s, %s, %s, %s, %s)",
                        [request_id, record.get("regulation"), record.get("requested_by"),
                         dumps(record.get("users") or []).decode(), record.get("received_at"), now()])
            added += 1
        session.commit()
    return added
