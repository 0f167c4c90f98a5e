"""The configured warehouse: DuckDB (embedded default) or PostgreSQL.

Everything that touches the warehouse goes through `Warehouse`: dlt gets its destination
from here, SQL models and checks get a DB-API connection from here, and the few places
where the two engines differ ask `warehouse.dialect`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from headwater.config import ConfigError


@dataclass(frozen=True)
class Warehouse:
    url: str

    @property
    def dialect(self) -> str:
        """sqlglot's name for the engine: 'duckdb' or 'postgres'."""
        return "duckdb" if self.url.startswith("duckdb://") else "postgres"

    @property
    def is_duckdb(self) -> bool:
        return self.dialect == "duckdb"

    @property
    def duckdb_path(self) -> Path:
        """`duckdb:///data/w.duckdb` is relative, `duckdb:////abs/w.duckdb` absolute."""
        if not self.is_duckdb:
            raise ConfigError("the warehouse is not DuckDB")
        path = Path(self.url[len("duckdb:///"):])
        if not str(path) or str(path) == ".":
            raise ConfigError("warehouse: a DuckDB URL needs a file path, e.g. duckdb:///data/warehouse.duckdb")
        return path

    @property
    def postgres_dsn(self) -> str:
        url = self.url.replace("postgres://", "postgresql://", 1)
        if not urlsplit(url).path.strip("/"):
            raise ConfigError("warehouse: a PostgreSQL URL needs a database, e.g. postgresql://postgres@127.0.0.1:5432/test")
        return url

    def safe_url(self) -> str:
        """The URL with any password masked, for logs and status output."""
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.url

    def dlt_working_dir(self) -> Path:
        """dlt's local working folder for pipelines loading this warehouse.

        dlt keeps pipeline state in the warehouse itself; the local folder only holds
        packages in flight (loaded ones are removed after each pull: pipelines.load_packages). One folder per warehouse keeps runs against different
        warehouses (tests, a demo beside production) from sharing one pipeline folder.
        """
        if self.is_duckdb:
            path = self.duckdb_path.resolve()
            return path.parent / f".{path.name}.dlt"
        import hashlib

        digest = hashlib.sha256(self.postgres_dsn.encode()).hexdigest()[:16]
        return Path("data") / ".dlt" / f"postgres-{digest}"

    def dlt_destination(self):
        import dlt

        if self.is_duckdb:
            self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            return dlt.destinations.duckdb(str(self.duckdb_path.resolve()))
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        # dlt requires a password; trust/peer auth URLs have none, so pass an empty one.
        credentials = PostgresCredentials(self.postgres_dsn)
        if credentials.password is None:
            credentials.password = ""
        return dlt.destinations.postgres(credentials)

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A DB-API connection; committed on success, rolled back on error."""
        if self.is_duckdb:
            import duckdb

            self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
            connection = duckdb.connect(str(self.duckdb_path))
            try:
                yield connection
            finally:
                connection.close()
            return
        import psycopg2

        connection = psycopg2.connect(self.postgres_dsn)
        try:
            yield connection
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run one statement and return its rows as dicts (params use %s on both engines)."""
        with self.connect() as connection:
            return fetch_dicts(connection, sql, params, self.dialect)

    def table_exists(self, schema: str, table: str) -> bool:
        rows = self.query(
            "SELECT 1 AS found FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [schema, table],
        )
        return bool(rows)


def fetch_dicts(connection: Any, sql: str, params: Sequence[Any] | None, dialect: str) -> list[dict[str, Any]]:
    if dialect == "duckdb":
        sql = sql.replace("%s", "?")
    cursor = connection.cursor()
    cursor.execute(sql, list(params) if params else None) if params else cursor.execute(sql)
    if cursor.description is None:
        return []
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def warehouse_from_config(config) -> Warehouse:
    return Warehouse(config.warehouse)
