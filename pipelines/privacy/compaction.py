"""Make deleted rows leave the disk, not just the tables.

Why a rewrite on DuckDB: a DELETE and even `FORCE CHECKPOINT` only mark the old blocks
free; their bytes (a deleted email included) stay in the file until DuckDB happens to
reuse them (tests/test_privacy_disk.py greps the file to show it). So the database is
copied into a fresh file (`COPY FROM DATABASE`: schemas, tables, views, sequences,
constraints, comments; only live rows) which then atomically replaces the old one. It
needs the file to itself: another process holding it open makes the step fail, named,
to be run again. PostgreSQL: `VACUUM` of every touched table makes the space reusable;
its files cannot be inspected from here, and a `VACUUM FULL` would lock the tables.
"""

from __future__ import annotations

import os
from pathlib import Path

from headwater.durability import fsync_path
from headwater.warehouse import Warehouse
from pipelines.privacy.store import quote


class CompactionError(Exception):
    """The warehouse could not be compacted now; the message says why and what to do."""


def compact(warehouse: Warehouse, tables: list[tuple[str, str]]) -> str:
    """Compact after a deletion; returns what was done, for the audit step."""
    if warehouse.is_duckdb:
        rewrite_duckdb_file(warehouse.duckdb_path)
        return "FORCE CHECKPOINT, then the file rewritten without free blocks (COPY FROM DATABASE)"
    import psycopg2

    connection = psycopg2.connect(warehouse.postgres_dsn)
    try:
        connection.autocommit = True  # VACUUM cannot run inside a transaction
        with connection.cursor() as cursor:
            for schema, table in tables:
                cursor.execute(f"VACUUM {quote(schema)}.{quote(table)}")
    finally:
        connection.close()
    return f"VACUUM of {len(tables)} tables"


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def rewrite_duckdb_file(path: Path) -> None:
    """Replace the DuckDB file by a copy holding only live data (atomic: a crash keeps the old file)."""
    import duckdb

    path = Path(path).resolve()
    fresh = path.with_name(f".{path.name}.compacting")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(path)) as connection:
            connection.execute("FORCE CHECKPOINT")          # the WAL into the file before it is copied
        with duckdb.connect(":memory:") as connection:
            connection.execute(f"ATTACH {_literal(path)} AS old_file (READ_ONLY)")
            connection.execute(f"ATTACH {_literal(fresh)} AS new_file")
            connection.execute("COPY FROM DATABASE old_file TO new_file")
            connection.execute("DETACH new_file")
            connection.execute("DETACH old_file")
    except duckdb.IOException as error:
        fresh.unlink(missing_ok=True)
        raise CompactionError(f"the DuckDB file {path} is in use by another process ({error}); stop it and run "
                              "the deletion's compaction again (`headwater privacy delete` is safe to repeat)") from None
    fsync_path(fresh)
    os.replace(fresh, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    fsync_path(path.parent)
