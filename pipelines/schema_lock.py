"""One loader at a time per source schema, across threads, processes and machines.

Why: dlt's insert-only merge is an anti-join, not a constraint, so two loaders merging
the same new messageId at once would both insert it; and two loaders creating a new
schema's tables at once collide in PostgreSQL's catalog. Claiming files keeps loaders
off each other's files; this lock keeps them off each other's tables, while reading and
parsing spool files still run in parallel.

PostgreSQL: a session advisory lock keyed by the schema name. DuckDB: one process can
write the file at a time anyway (DuckDB locks it), so a lock per file and schema among
this process's threads is enough.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from headwater.warehouse import Warehouse

_local_locks: dict[tuple[str, str], threading.Lock] = {}
_local_locks_guard = threading.Lock()


def lock_key(schema: str) -> int:
    """A stable signed 64-bit advisory-lock key for `schema`."""
    digest = hashlib.sha256(f"headwater_spool_{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def schema_lock(warehouse: Warehouse, schema: str) -> Iterator[None]:
    if warehouse.is_duckdb:
        with _local_locks_guard:
            lock = _local_locks.setdefault((str(warehouse.duckdb_path.resolve()), schema), threading.Lock())
        with lock:
            yield
        return
    import psycopg2

    connection = psycopg2.connect(warehouse.postgres_dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [lock_key(schema)])
        yield
    finally:
        connection.close()  # ends the session, which releases its advisory locks
