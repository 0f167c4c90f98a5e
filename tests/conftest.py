"""Shared fixtures: a fresh DuckDB warehouse and a fresh PostgreSQL database per test.

PostgreSQL runs on 127.0.0.1:5432 (user postgres, trust auth). When it cannot be reached,
Postgres tests skip locally but fail under CI (CI=true): there they must run.
"""

from __future__ import annotations

import os
import uuid

import pytest

from headwater.warehouse import Warehouse

PG_ADMIN_DSN = os.environ.get("HEADWATER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin():
    import psycopg2

    connection = psycopg2.connect(PG_ADMIN_DSN, connect_timeout=5)
    connection.autocommit = True
    return connection


@pytest.fixture
def private_dlt_dir(tmp_path, monkeypatch):
    """A dlt working folder of the test's own, so only the warehouse carries state between runs
    (as on a fresh machine); dlt's logging quieted to warnings. Source tests use it module-wide:
    `pytestmark = pytest.mark.usefixtures("private_dlt_dir")`."""
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")


@pytest.fixture
def duckdb_warehouse(tmp_path) -> Warehouse:
    return Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")


@pytest.fixture
def postgres_warehouse() -> Warehouse:
    try:
        admin = _pg_admin()
    except Exception as error:  # noqa: BLE001 - any connection failure
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL must be reachable in CI at {PG_ADMIN_DSN}: {error}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_DSN}: {error}")
    name = f"hw_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield Warehouse(f"{base}/{name}")
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request) -> Warehouse:
    """Run a test once on each warehouse engine."""
    return request.getfixturevalue(f"{request.param}_warehouse")
