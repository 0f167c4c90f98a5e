"""What the stream forwarder remembers between restarts, in one SQLite file beside the spool.

Why SQLite and not the warehouse: the forwarder runs beside the collect endpoint, must not
hold the warehouse (an embedded DuckDB file admits one writer: the loader), and must commit
"this file is forwarded up to byte N" together with the dead letters and counters of the
same events, atomically and durably (WAL, synchronous=FULL). The warehouse gets copies of
dead letters and workflow runs (destinations.streams.publish), never the other way round.

Tables: cursors (stream, file, offset, finished), consent (hashed identifier, category),
dead_letters, counters (stream, outcome, reason), workflow_runs.
Imports the standard library only.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

STATE_FILE = "streams/state.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (stream TEXT, file TEXT, offset INTEGER NOT NULL, finished INTEGER NOT NULL,
                                    PRIMARY KEY (stream, file));
CREATE TABLE IF NOT EXISTS consent (identifier TEXT, category TEXT, granted INTEGER NOT NULL, at TEXT NOT NULL,
                                    PRIMARY KEY (identifier, category));
CREATE TABLE IF NOT EXISTS dead_letters (id TEXT PRIMARY KEY, stream TEXT, destination TEXT, message_id TEXT,
                                         file TEXT, offset INTEGER, error_code TEXT, error_message TEXT,
                                         traceback TEXT, message TEXT, failed_at TEXT, published INTEGER DEFAULT 0,
                                         replayed_at TEXT, replay_status TEXT);
CREATE TABLE IF NOT EXISTS counters (stream TEXT, outcome TEXT, reason TEXT, events INTEGER NOT NULL,
                                     PRIMARY KEY (stream, outcome, reason));
CREATE TABLE IF NOT EXISTS workflow_runs (id TEXT PRIMARY KEY, workflow TEXT, trigger_key TEXT, person TEXT,
                                          identifiers TEXT, status TEXT, triggered_at TEXT, due_at TEXT,
                                          event TEXT, actions_done INTEGER DEFAULT 0, error TEXT,
                                          updated_at TEXT, published INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS watermarks (name TEXT PRIMARY KEY, value TEXT);
CREATE INDEX IF NOT EXISTS workflow_runs_waiting ON workflow_runs (status, due_at);
CREATE INDEX IF NOT EXISTS workflow_runs_person ON workflow_runs (person, status);
"""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class DeadLetter:
    id: str
    stream: str
    destination: str
    message_id: str
    file: str
    offset: int
    error_code: str
    error_message: str
    traceback: str
    message: str          # the event as JSON text (after the transformation, when it ran)


class StreamState:
    """One connection, used from the forwarder's event loop thread (a lock guards the rare
    call from another thread, such as the Dagster sensor reading counters)."""

    def __init__(self, spool_dir: Path | None, path: Path | str | None = None):
        """`path=":memory:"` keeps nothing (previews such as `headwater stream test`)."""
        self.path = path if path == ":memory:" else Path(path) if path else Path(spool_dir) / STATE_FILE
        if self.path != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # --- cursors -------------------------------------------------------------------------
    def cursors(self, stream: str) -> dict[str, tuple[int, bool]]:
        with self._lock:
            rows = self.db.execute("SELECT file, offset, finished FROM cursors WHERE stream = ?", (stream,))
            return {file: (offset, bool(finished)) for file, offset, finished in rows}

    def known_streams(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self.db.execute("SELECT DISTINCT stream FROM cursors")}

    def commit(self, stream: str, cursor: tuple[str, int, bool] | None, dead: Iterable[DeadLetter] = (),
               counts: dict[tuple[str, str], int] | None = None, consent: Iterable[tuple[str, str, bool, str]] = ()) -> None:
        """Advance one cursor together with what the same events produced, in one transaction."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if cursor is not None:
                    self.db.execute("INSERT INTO cursors VALUES (?, ?, ?, ?) ON CONFLICT (stream, file) DO UPDATE "
                                    "SET offset = excluded.offset, finished = excluded.finished",
                                    (stream, cursor[0], cursor[1], int(cursor[2])))
                self._dead(dead)
                self._count(stream, counts or {})
                self._consent(consent)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def forget_file(self, file: str) -> None:
        with self._lock:
            self.db.execute("DELETE FROM cursors WHERE file = ?", (file,))

    def _dead(self, dead: Iterable[DeadLetter]) -> None:
        self.db.executemany(
            "INSERT INTO dead_letters (id, stream, destination, message_id, file, offset, error_code, error_message, "
            "traceback, message, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "error_code = excluded.error_code, error_message = excluded.error_message, traceback = excluded.traceback, "
            "failed_at = excluded.failed_at, published = 0",
            [(d.id, d.stream, d.destination, d.message_id, d.file, d.offset, d.error_code, d.error_message,
              d.traceback, d.message, utc_now()) for d in dead])

    def _count(self, stream: str, counts: dict[tuple[str, str], int]) -> None:
        self.db.executemany(
            "INSERT INTO counters VALUES (?, ?, ?, ?) ON CONFLICT (stream, outcome, reason) DO UPDATE "
            "SET events = events + excluded.events",
            [(stream, outcome, reason, n) for (outcome, reason), n in counts.items() if n])

    def counters(self, stream: str | None = None) -> dict[tuple[str, str, str], int]:
        with self._lock:
            rows = self.db.execute("SELECT stream, outcome, reason, events FROM counters"
                                   + (" WHERE stream = ?" if stream else ""), (stream,) if stream else ())
            return {(s, o, r): n for s, o, r, n in rows}

    # --- consent ---------------------------------------------------------------------------
    def _consent(self, changes: Iterable[tuple[str, str, bool, str]]) -> None:
        self.db.executemany(
            "INSERT INTO consent VALUES (?, ?, ?, ?) ON CONFLICT (identifier, category) DO UPDATE "
            "SET granted = excluded.granted, at = excluded.at WHERE excluded.at >= consent.at",
            [(identifier, category, int(granted), at) for identifier, category, granted, at in changes])

    def consent_of(self, identifiers: list[str], category: str) -> tuple[bool, str] | None:
        """The latest consent any of these (hashed) identifiers gave for the category."""
        if not identifiers:
            return None
        with self._lock:
            marks = ",".join("?" * len(identifiers))
            row = self.db.execute(f"SELECT granted, at FROM consent WHERE category = ? AND identifier IN ({marks}) "
                                  "ORDER BY at DESC LIMIT 1", (category, *identifiers)).fetchone()
        return (bool(row[0]), row[1]) if row else None

    # --- dead letters ----------------------------------------------------------------------
    def dead_letters(self, stream: str | None = None, unpublished: bool = False,
                     pending: bool = False) -> list[dict[str, Any]]:
        where, params = [], []
        if stream:
            where.append("stream = ?")
            params.append(stream)
        if unpublished:
            where.append("published = 0")
        if pending:
            where.append("(replay_status IS NULL OR replay_status <> 'delivered')")
        sql = "SELECT * FROM dead_letters" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY failed_at, id"
        with self._lock:
            cursor = self.db.execute(sql, params)
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def mark_replayed(self, ids_status: list[tuple[str, str]]) -> None:
        with self._lock:
            self.db.executemany("UPDATE dead_letters SET replayed_at = ?, replay_status = ?, published = 0 WHERE id = ?",
                                [(utc_now(), status, dead_id) for dead_id, status in ids_status])

    def mark_published(self, table: str, ids: list[str]) -> None:
        assert table in ("dead_letters", "workflow_runs")
        with self._lock:
            self.db.executemany(f"UPDATE {table} SET published = 1 WHERE id = ?", [(i,) for i in ids])

    # --- workflow runs ---------------------------------------------------------------------
    def workflow_rows(self, where: str = "", params: tuple = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self.db.execute("SELECT * FROM workflow_runs" + (f" WHERE {where}" if where else "")
                                     + " ORDER BY triggered_at, id", params)
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: tuple = ()) -> int:
        with self._lock:
            return self.db.execute(sql, params).rowcount

    def watermark(self, name: str) -> str | None:
        with self._lock:
            row = self.db.execute("SELECT value FROM watermarks WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_watermark(self, name: str, value: str) -> None:
        self.execute("INSERT INTO watermarks VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                     (name, value))
