"""Copies of the stream state the analyst reads: `cdp.stream_dead_letters` and `cdp.workflow_runs`.

Why copies: the forwarder keeps its truth in its own SQLite file (destinations.streams.state)
so it never needs the warehouse to move an event. Rows changed since the last copy are
replaced in the warehouse by id; when the warehouse is busy (an embedded DuckDB file that the
loader holds), the copy simply happens on a later try, and nothing is lost meanwhile.
Imports headwater.warehouse and destinations.state (SqlSession) only.
"""

from __future__ import annotations

import logging

from destinations.state import SqlSession
from destinations.streams.state import StreamState
from headwater.warehouse import Warehouse

log = logging.getLogger("headwater.streams")

DEAD_LETTERS_TABLE = "cdp.stream_dead_letters"
WORKFLOW_RUNS_TABLE = "cdp.workflow_runs"
DEAD_LETTER_COLUMNS = ("id", "stream", "destination", "message_id", "spool_file", "spool_offset", "error_code",
                       "error_message", "traceback", "message", "failed_at", "replayed_at", "replay_status")
WORKFLOW_COLUMNS = ("id", "workflow", "trigger_key", "status", "triggered_at", "due_at", "actions_done", "error",
                    "updated_at")
DDL = (
    f"CREATE TABLE IF NOT EXISTS {DEAD_LETTERS_TABLE} (id VARCHAR PRIMARY KEY, stream VARCHAR, destination VARCHAR, "
    "message_id VARCHAR, spool_file VARCHAR, spool_offset BIGINT, error_code VARCHAR, error_message VARCHAR, "
    "traceback VARCHAR, message VARCHAR, failed_at TIMESTAMP, replayed_at TIMESTAMP, replay_status VARCHAR)",
    f"CREATE TABLE IF NOT EXISTS {WORKFLOW_RUNS_TABLE} (id VARCHAR PRIMARY KEY, workflow VARCHAR, "
    "trigger_key VARCHAR, status VARCHAR, triggered_at TIMESTAMP, due_at TIMESTAMP, actions_done INTEGER, "
    "error VARCHAR, updated_at TIMESTAMP)",
)


def _stamp(value):
    """ISO text with offset -> naive UTC, as the warehouse's TIMESTAMP columns hold it."""
    if not value:
        return None
    from datetime import datetime, timezone

    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def publish(warehouse: Warehouse, state: StreamState) -> tuple[int, int]:
    """Copy changed dead letters and workflow runs; returns (dead letters, workflow runs) copied."""
    letters = state.dead_letters(unpublished=True)
    runs = state.workflow_rows("published = 0")
    with warehouse.connect() as connection:
        session = SqlSession(connection, warehouse.dialect)
        session.run("CREATE SCHEMA IF NOT EXISTS cdp")
        for ddl in DDL:
            session.run(ddl)
        _replace(session, DEAD_LETTERS_TABLE, DEAD_LETTER_COLUMNS, [
            (d["id"], d["stream"], d["destination"], d["message_id"], d["file"], d["offset"], d["error_code"],
             d["error_message"], d["traceback"], d["message"], _stamp(d["failed_at"]), _stamp(d["replayed_at"]),
             d["replay_status"]) for d in letters])
        _replace(session, WORKFLOW_RUNS_TABLE, WORKFLOW_COLUMNS, [
            (r["id"], r["workflow"], r["trigger_key"], r["status"], _stamp(r["triggered_at"]), _stamp(r["due_at"]),
             r["actions_done"], r["error"], _stamp(r["updated_at"])) for r in runs])
        session.commit()
    state.mark_published("dead_letters", [d["id"] for d in letters])
    state.mark_published("workflow_runs", [r["id"] for r in runs])
    return len(letters), len(runs)


def _replace(session: SqlSession, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    for start in range(0, len(rows), 500):
        part = rows[start:start + 500]
        marks = ", ".join(["%s"] * len(part))
        session.run(f"DELETE FROM {table} WHERE id IN ({marks})", [row[0] for row in part])
        session.insert_many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                            part)


def try_publish(warehouse: Warehouse, state: StreamState) -> bool:
    """publish(), or False when the warehouse cannot be written now (tried again later)."""
    try:
        publish(warehouse, state)
        return True
    except Exception as error:  # noqa: BLE001 - a busy or unreachable warehouse only delays the copy
        log.debug("stream state not copied to the warehouse yet: %s", error.__class__.__name__)
        return False
