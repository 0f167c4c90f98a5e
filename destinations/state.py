"""Sync state in the warehouse: what each sync last delivered, the diff, the run logs.

Why in the warehouse: any worker can run any sync, and the diff of a million-row audience
is one SQL join instead of a million rows pulled into Python. Per sync `S`:

    headwater_sync.snapshot__S   the source as it is now: row_key, fingerprint, mapped fields
    headwater_sync.delivered__S  the rows last delivered, same columns + delivered_at
    headwater_sync.plan__S       this run's work: (row_key, action upsert|remove)
    headwater_sync.failed__S     rows this run could not deliver (kept out of delivered__S)

A row that failed stays different from delivered__S, so the next run plans it again.
Logs: cdp.sync_runs (one row a run) and cdp.sync_errors (one row per failed row).
SQL here runs unchanged on DuckDB and PostgreSQL. Imports headwater.warehouse only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from headwater.warehouse import fetch_dicts

SCHEMA = "headwater_sync"
CONSENTED = "hw_consented"  # snapshot column: may this row be sent?
LOG_SCHEMA = "cdp"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def table(kind: str, sync_name: str) -> str:
    return f"{SCHEMA}.{quote(f'{kind}__{sync_name}')}"


SYNC_RUNS_DDL = f"""CREATE TABLE IF NOT EXISTS {LOG_SCHEMA}.sync_runs (
    run_id VARCHAR, sync VARCHAR, destination VARCHAR, destination_type VARCHAR, mode VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
    rows_planned BIGINT, rows_sent BIGINT, rows_succeeded BIGINT, rows_failed BIGINT, rows_skipped BIGINT,
    requests BIGINT, retries BIGINT, full_resync BOOLEAN, message VARCHAR)"""

SYNC_ERRORS_DDL = f"""CREATE TABLE IF NOT EXISTS {LOG_SCHEMA}.sync_errors (
    run_id VARCHAR, sync VARCHAR, destination VARCHAR, row_key VARCHAR, action VARCHAR,
    error_code VARCHAR, error_message VARCHAR, occurred_at TIMESTAMP)"""


class SqlSession:
    """One warehouse connection with its dialect; `run` takes %s params on both engines."""

    def __init__(self, connection: Any, dialect: str):
        self.connection, self.dialect = connection, dialect

    def run(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        if self.dialect == "duckdb":
            result = self.connection.execute(sql.replace("%s", "?"), list(params) if params else None)
            if result.description is None:
                return []
            names = [c[0] for c in result.description]
            return [dict(zip(names, row)) for row in result.fetchall()]
        return fetch_dicts(self.connection, sql, params, self.dialect)

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.run(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def insert_many(self, sql: str, rows: list[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.dialect == "duckdb":
            self.connection.executemany(sql.replace("%s", "?"), [list(r) for r in rows])
        else:
            from psycopg2.extras import execute_batch

            with self.connection.cursor() as cursor:
                execute_batch(cursor, sql, rows, page_size=1000)

    def stream(self, sql: str, chunk: int = 10_000) -> Iterator[list[dict[str, Any]]]:
        """Rows in chunks, without holding the whole result in Python."""
        if self.dialect == "duckdb":
            cursor = self.connection.cursor()  # a second cursor keeps this result apart
            result = cursor.execute(sql)
        else:
            cursor = self.connection.cursor(name="headwater_sync_stream")
            cursor.itersize = chunk
            cursor.execute(sql)
            result = cursor
        try:
            names: list[str] | None = None
            while True:
                rows = result.fetchmany(chunk)
                if not rows:
                    break
                if names is None:
                    names = [c[0] for c in result.description]
                yield [dict(zip(names, row)) for row in rows]
        finally:
            cursor.close()

    def columns(self, schema: str, name: str) -> list[str]:
        rows = self.run("SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                        "AND table_name = %s ORDER BY ordinal_position", [schema, name])
        return [r["column_name"] for r in rows]

    def commit(self) -> None:
        if self.dialect != "duckdb":
            self.connection.commit()

    def rollback(self) -> None:
        if self.dialect != "duckdb":
            self.connection.rollback()

    def replace_table_as(self, target: str, select_sql: str) -> None:
        self.run(f"DROP TABLE IF EXISTS {target}")
        self.run(f"CREATE TABLE {target} AS {select_sql}")

    def index_row_key(self, kind: str, sync_name: str) -> None:
        """PostgreSQL joins on row_key need an index; DuckDB's hash joins do not."""
        if self.dialect != "duckdb":
            self.run(f"CREATE INDEX IF NOT EXISTS {quote(f'{kind}__{sync_name}__row_key')} "
                     f"ON {table(kind, sync_name)} (row_key)")


def ensure_log_tables(session: SqlSession) -> None:
    session.run(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    session.run(f"CREATE SCHEMA IF NOT EXISTS {LOG_SCHEMA}")
    session.run(SYNC_RUNS_DDL)
    session.run(SYNC_ERRORS_DDL)
    session.run(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.sync_leases (sync VARCHAR PRIMARY KEY, run_id VARCHAR, "
                f"taken_at TIMESTAMP, expires_at TIMESTAMP)")
    session.commit()


def take_lease(session: SqlSession, sync_name: str, run_id: str, now: datetime, seconds: float) -> dict | None:
    """Claim the sync for this run; returns the holder's lease when another run has it.

    Two workers running one sync at once would both rebuild its snapshot and plan; the
    primary key lets exactly one insert win. An expired lease (its worker died) is taken over.
    """
    leases = f"{SCHEMA}.sync_leases"
    session.run(f"DELETE FROM {leases} WHERE sync = %s AND expires_at < %s", [sync_name, now])
    session.run(f"INSERT INTO {leases} (sync, run_id, taken_at, expires_at) VALUES (%s, %s, %s, %s) "
                f"ON CONFLICT DO NOTHING", [sync_name, run_id, now, now + timedelta(seconds=seconds)])
    session.commit()
    holder = session.run(f"SELECT run_id, taken_at FROM {leases} WHERE sync = %s", [sync_name])
    return holder[0] if holder and holder[0]["run_id"] != run_id else None


def release_lease(session: SqlSession, sync_name: str, run_id: str) -> None:
    session.rollback()  # after an error, leave nothing half-done in the open transaction
    session.run(f"DELETE FROM {SCHEMA}.sync_leases WHERE sync = %s AND run_id = %s", [sync_name, run_id])
    session.commit()


@dataclass
class PlanCounts:
    upserts: int
    removes: int
    source_rows: int


def build_plan(session: SqlSession, sync_name: str, mode: str, full: bool, can_remove: bool = False,
               replace_on_change: bool = False) -> PlanCounts:
    """Write plan__S from snapshot__S and delivered__S: adds, changes and removes.

    Only consented rows are upserted. Removes: in `mirror` mode every delivered row that
    is gone or lost consent; in the other modes (when the vendor can remove) rows whose
    consent was withdrawn. `full` plans as if nothing had been delivered: no removes.
    """
    snapshot, delivered, plan = (table(k, sync_name) for k in ("snapshot", "delivered", "plan"))
    session.index_row_key("snapshot", sync_name)
    _ensure_delivered(session, sync_name)
    consented = f"s.{CONSENTED}"
    if full:
        upsert_sql = f"SELECT s.row_key, 'upsert' AS action FROM {snapshot} s WHERE {consented}"
    else:
        changed = "" if mode == "add_only" else " OR d.fingerprint <> s.fingerprint"
        upsert_sql = (f"SELECT s.row_key, 'upsert' AS action FROM {snapshot} s LEFT JOIN {delivered} d "
                      f"ON d.row_key = s.row_key WHERE {consented} AND (d.row_key IS NULL{changed})")
    parts = [upsert_sql]
    if not full and mode == "mirror":
        parts.append(f"SELECT d.row_key, 'remove' AS action FROM {delivered} d LEFT JOIN {snapshot} s "
                     f"ON s.row_key = d.row_key WHERE s.row_key IS NULL OR NOT {consented}")
    elif not full and can_remove:
        parts.append(f"SELECT d.row_key, 'remove' AS action FROM {delivered} d JOIN {snapshot} s "
                     f"ON s.row_key = d.row_key WHERE NOT {consented}")
    if not full and replace_on_change and mode != "add_only":
        parts.append(f"SELECT d.row_key, 'remove' AS action FROM {delivered} d JOIN {snapshot} s "
                     f"ON s.row_key = d.row_key WHERE {consented} AND d.fingerprint <> s.fingerprint")
    session.replace_table_as(plan, " UNION ALL ".join(parts))
    session.index_row_key("plan", sync_name)
    counts = {r["action"]: r["n"] for r in session.run(f"SELECT action, COUNT(*) AS n FROM {plan} GROUP BY action")}
    source_rows = session.scalar(f"SELECT COUNT(*) AS n FROM {snapshot} WHERE {CONSENTED}")
    session.commit()
    return PlanCounts(int(counts.get("upsert", 0)), int(counts.get("remove", 0)), int(source_rows or 0))


def _ensure_delivered(session: SqlSession, sync_name: str) -> None:
    """Create delivered__S in the snapshot's shape; a changed mapping starts it afresh."""
    name = f"delivered__{sync_name}"
    snapshot_columns = session.columns(SCHEMA, f"snapshot__{sync_name}")
    existing = session.columns(SCHEMA, name)
    if existing and existing == snapshot_columns + ["delivered_at"]:
        return
    delivered = table("delivered", sync_name)
    session.run(f"DROP TABLE IF EXISTS {delivered}")
    session.run(f"CREATE TABLE {delivered} AS SELECT *, CURRENT_TIMESTAMP AS delivered_at "
                f"FROM {table('snapshot', sync_name)} WHERE 1 = 0")
    session.index_row_key("delivered", sync_name)
    session.commit()


def planned_rows(session: SqlSession, sync_name: str, action: str, chunk: int) -> Iterator[list[dict[str, Any]]]:
    """The rows to send for one action: upserts from the snapshot, removes from delivered."""
    source = table("snapshot" if action == "upsert" else "delivered", sync_name)
    columns = ", ".join(f"r.{quote(c)}" for c in session.columns(SCHEMA, f"snapshot__{sync_name}"))
    sql = (f"SELECT {columns} FROM {source} r JOIN {table('plan', sync_name)} p "
           f"ON p.row_key = r.row_key AND p.action = {literal(action)} ORDER BY r.row_key")
    yield from session.stream(sql, chunk)


def commit_delivery(session: SqlSession, sync_name: str, failed: list[tuple[str, str]]) -> None:
    """Make delivered__S match what the vendor now holds: all planned rows except `failed`."""
    delivered, snapshot, plan, failed_table = (table(k, sync_name) for k in ("delivered", "snapshot", "plan", "failed"))
    session.replace_table_as(failed_table, "SELECT CAST(NULL AS VARCHAR) AS row_key, CAST(NULL AS VARCHAR) AS action WHERE 1 = 0")
    session.insert_many(f"INSERT INTO {failed_table} (row_key, action) VALUES (%s, %s)", failed)
    # a row whose remove or upsert failed keeps its delivered version: a replace is all or nothing
    succeeded = (f"SELECT p.row_key, p.action FROM {plan} p WHERE NOT EXISTS "
                 f"(SELECT 1 FROM {failed_table} f WHERE f.row_key = p.row_key)")
    columns = session.columns(SCHEMA, f"snapshot__{sync_name}")
    column_list = ", ".join(quote(c) for c in columns)
    session.run(f"DELETE FROM {delivered} WHERE row_key IN (SELECT row_key FROM ({succeeded}) ok)")
    session.run(f"INSERT INTO {delivered} ({column_list}, delivered_at) "
                f"SELECT {', '.join('s.' + quote(c) for c in columns)}, CURRENT_TIMESTAMP FROM {snapshot} s "
                f"JOIN ({succeeded}) ok ON ok.row_key = s.row_key AND ok.action = 'upsert'")
    session.commit()
