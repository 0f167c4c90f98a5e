"""Everything that differs between the warehouse engines, in one place.

Models are written once, in DuckDB SQL. This module turns that SQL into the engine's
dialect (sqlglot) and owns the few statements the engines spell differently: replacing
a table, appending to one, bulk-loading rows from Python. No other module in models/
may branch on the engine; a new engine (BigQuery, Snowflake) is a change here only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import sqlglot

from headwater.warehouse import fetch_dicts

MODEL_DIALECT = "duckdb"


@lru_cache(maxsize=2048)
def transpile(sql: str, dialect: str) -> str:
    """One DuckDB statement in the engine's dialect."""
    if dialect == MODEL_DIALECT:
        return sql
    statements = sqlglot.parse(sql, read=MODEL_DIALECT)
    if len(statements) != 1:
        raise ValueError(f"expected one SQL statement, got {len(statements)}")
    tree = statements[0]
    if dialect == "postgres":
        tree = tree.transform(_postgres_sha256)
    return tree.sql(dialect=dialect)


def _postgres_sha256(node: sqlglot.exp.Expression) -> sqlglot.exp.Expression:
    """DuckDB's SHA256(text) is hex text; PostgreSQL's sha256 takes bytea and returns bytea, and
    sqlglot leaves the call as it is, so spell it out: ENCODE(SHA256(CONVERT_TO(x, 'UTF8')), 'hex')."""
    exp = sqlglot.exp
    if not isinstance(node, exp.SHA2) or str(node.text("length") or "256") != "256":
        return node
    utf8 = exp.Anonymous(this="CONVERT_TO", expressions=[node.this.copy(), exp.Literal.string("UTF8")])
    return exp.Anonymous(this="ENCODE", expressions=[exp.Anonymous(this="SHA256", expressions=[utf8]),
                                                     exp.Literal.string("hex")])


def narrow_reads(sql: str, narrowed: dict[str, str]) -> str:
    """`sql` (DuckDB) with each read of a table in `narrowed` ("schema.table" -> a SELECT of some
    of its rows) replaced by that SELECT, under the name the query reads the table by."""
    exp = sqlglot.exp

    def narrow(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Table) or f"{node.db}.{node.name}" not in narrowed:
            return node
        rows = sqlglot.parse_one(narrowed[f"{node.db}.{node.name}"], read=MODEL_DIALECT)
        return exp.Subquery(this=rows, alias=exp.TableAlias(this=exp.to_identifier(node.alias_or_name)))

    return sqlglot.parse_one(sql, read=MODEL_DIALECT).transform(narrow).sql(dialect=MODEL_DIALECT)


def quote(name: str) -> str:
    """A quoted identifier, the same on both engines."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def timestamp_literal(moment) -> str:
    """A TIMESTAMPTZ constant for a Python datetime, the same on both engines."""
    return f"CAST({literal(moment.isoformat())} AS TIMESTAMPTZ)"


class Engine:
    """A DB-API connection plus its dialect: the handle every model step runs through."""

    def __init__(self, connection: Any, dialect: str):
        self.connection, self.dialect = connection, dialect

    def run(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run one DuckDB-dialect statement (params as %s) and return its rows."""
        sql = transpile(sql.replace("%s", "?"), self.dialect)
        if self.dialect != "duckdb":
            return fetch_dicts(self.connection, sql, params, self.dialect)
        # DuckDB's cursor() is a second connection that cannot see this one's temp tables
        result = self.connection.execute(sql, list(params) if params else None)
        if result.description is None:
            return []
        names = [column[0] for column in result.description]
        return [dict(zip(names, values)) for values in result.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.run(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def commit(self) -> None:
        if self.dialect != "duckdb":
            self.connection.commit()

    def ensure_schema(self, schema: str) -> None:
        self.run(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")

    def table_exists(self, schema: str, table: str) -> bool:
        return bool(self.run(
            "SELECT 1 AS found FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [schema, table]))

    def columns(self, schema: str) -> dict[str, list[str]]:
        """Every table of a schema with its column names, in column order."""
        return {table: list(columns) for table, columns in self.column_types(schema).items()}

    def column_types(self, schema: str) -> dict[str, dict[str, str]]:
        """Every table of a schema: column name -> the engine's data type name."""
        rows = self.run(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position", [schema])
        tables: dict[str, dict[str, str]] = {}
        for row in rows:
            tables.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
        return tables

    def table_columns(self, target: str) -> list[str] | None:
        """The column names of a quoted `"schema"."table"`, or None when there is no such table."""
        table = sqlglot.exp.to_table(target)
        return self.columns(table.db).get(table.name)

    def drop_table(self, target: str) -> None:
        self.run(f"DROP TABLE IF EXISTS {target}")

    def replace_table(self, target: str, select_sql: str, temporary: bool = False) -> None:
        """`target` becomes the result of `select_sql` (a DuckDB SELECT)."""
        kind = "TEMPORARY TABLE" if temporary else "TABLE"
        if self.dialect == "duckdb":
            self.run(f"CREATE OR REPLACE {kind} {target} AS {select_sql}")
            return
        # build beside the old table, then swap: the SELECT may read the table it replaces
        table = sqlglot.exp.to_table(target)
        fresh_name = f"{table.name}__next"
        fresh = f"{quote(table.db)}.{quote(fresh_name)}" if table.db else quote(fresh_name)
        self.run(f"DROP TABLE IF EXISTS {fresh}")
        self.run(f"CREATE {kind} {fresh} AS {select_sql}")
        self.run(f"DROP TABLE IF EXISTS {target}")
        self.run(f"ALTER TABLE {fresh} RENAME TO {quote(table.name)}")
        # PostgreSQL has no statistics on a fresh table (autovacuum never sees temp tables); the
        # next model's joins are planned from them
        self.run(f"ANALYZE {target}")

    def append(self, target: str, select_sql: str) -> None:
        """Insert the rows of `select_sql` into `target`, creating it on first use."""
        self.run(f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM ({select_sql}) AS first_rows WHERE 1 = 0")
        self.run(f"INSERT INTO {target} SELECT * FROM ({select_sql}) AS new_rows")

    def create_table(self, target: str, columns: dict[str, str], temporary: bool = False) -> None:
        """An empty table from DuckDB column types, replacing any old one."""
        kind = "TEMPORARY TABLE" if temporary else "TABLE"
        body = ", ".join(f"{quote(name)} {kind_}" for name, kind_ in columns.items())
        self.run(f"DROP TABLE IF EXISTS {target}")
        self.run(f"CREATE {kind} {target} ({body})")

    def insert_rows(self, target: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Bulk-load Python rows: DuckDB through Arrow, PostgreSQL through execute_values."""
        rows = list(rows)
        if not rows:
            return 0
        names = ", ".join(quote(c) for c in columns)
        if self.dialect == "duckdb":
            import pyarrow as pa

            batch = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
            self.connection.register("_headwater_rows", batch)
            try:
                self.connection.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM _headwater_rows")
            finally:
                self.connection.unregister("_headwater_rows")
            return len(rows)
        from psycopg2.extras import execute_values

        with self.connection.cursor() as cursor:
            execute_values(cursor, f"INSERT INTO {target} ({names}) VALUES %s", rows, page_size=5000)
        return len(rows)

    def row_count(self, target: str) -> int:
        return int(self.scalar(f"SELECT COUNT(*) AS n FROM {target}"))
