"""Small cdp.profiles / audience_members / conversions tables and configs for sync tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from headwater.config import parse_config
from headwater.warehouse import Warehouse

PROFILE_COLUMNS = ("profile_id", "email", "phone", "first_name", "last_name", "city", "state", "postal_code",
                   "country", "consent_analytics", "consent_advertising", "consent_email", "consent_sms")


def profile(number: int, **overrides: Any) -> dict[str, Any]:
    row = {"profile_id": f"p{number:05d}", "email": f"Person.{number}@Example.com ", "phone": f"(650) 555-{number % 10000:04d}",
           "first_name": f"First{number}", "last_name": "Doe", "city": "Menlo Park", "state": "CA",
           "postal_code": "94025", "country": "US", "consent_analytics": True, "consent_advertising": True,
           "consent_email": True, "consent_sms": False}
    row.update(overrides)
    return row


def create_cdp(warehouse: Warehouse, profiles: list[dict], members: list[tuple[str, str]] = (),
               conversions: list[dict] = ()) -> None:
    with warehouse.connect() as connection:
        run = _runner(connection, warehouse.dialect)
        run("CREATE SCHEMA IF NOT EXISTS cdp")
        run("DROP TABLE IF EXISTS cdp.profiles")
        run("CREATE TABLE cdp.profiles (profile_id VARCHAR, email VARCHAR, phone VARCHAR, first_name VARCHAR, "
            "last_name VARCHAR, city VARCHAR, state VARCHAR, postal_code VARCHAR, country VARCHAR, "
            "consent_analytics BOOLEAN, consent_advertising BOOLEAN, consent_email BOOLEAN, consent_sms BOOLEAN)")
        run("DROP TABLE IF EXISTS cdp.audience_members")
        run("CREATE TABLE cdp.audience_members (audience VARCHAR, profile_id VARCHAR, entered_at TIMESTAMP)")
        run("DROP TABLE IF EXISTS cdp.conversions")
        run("CREATE TABLE cdp.conversions (conversion_id VARCHAR, profile_id VARCHAR, order_id VARCHAR, "
            "value DECIMAL(12,2), currency VARCHAR, occurred_at TIMESTAMP, gclid VARCHAR, gbraid VARCHAR, "
            "wbraid VARCHAR, fbc VARCHAR, fbp VARCHAR, ttclid VARCHAR, ip VARCHAR, user_agent VARCHAR, "
            "page_url VARCHAR, email VARCHAR, phone VARCHAR)")
        for row in profiles:
            run(f"INSERT INTO cdp.profiles VALUES ({', '.join(['%s'] * len(PROFILE_COLUMNS))})",
                [row[c] for c in PROFILE_COLUMNS])
        for audience, profile_id in members:
            run("INSERT INTO cdp.audience_members VALUES (%s, %s, %s)", [audience, profile_id, datetime(2026, 1, 1)])
        for row in conversions:
            columns = list(row)
            run(f"INSERT INTO cdp.conversions ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                [row[c] for c in columns])


def execute(warehouse: Warehouse, sql: str, params: list | None = None) -> None:
    with warehouse.connect() as connection:
        _runner(connection, warehouse.dialect)(sql, params)


def _runner(connection, dialect):
    def run(sql: str, params: list | None = None) -> None:
        if dialect == "duckdb":
            connection.execute(sql.replace("%s", "?"), params)
        else:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
    return run


def conversion(number: int, *, age: timedelta = timedelta(hours=2), **overrides: Any) -> dict[str, Any]:
    occurred = (datetime.now(timezone.utc) - age).replace(tzinfo=None, microsecond=0)
    row = {"conversion_id": f"c{number:05d}", "profile_id": f"p{number:05d}", "order_id": f"o{number:05d}",
           "value": 10 + number, "currency": "usd", "occurred_at": occurred, "gclid": f"gclid-{number}",
           "gbraid": None, "wbraid": None, "fbc": f"fb.1.1700000000.{number}", "fbp": f"fb.1.1700000000.{number}",
           "ttclid": f"ttclid-{number}", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (Test)",
           "page_url": "https://shop.example/checkout", "email": f"person.{number}@example.com",
           "phone": "+1 650 555 0100"}
    row.update(overrides)
    return row


def sync_config(warehouse: Warehouse, destination: dict, sync: dict):
    return parse_config({"warehouse": warehouse.url, "destinations": [destination], "syncs": [sync]})


def query(warehouse: Warehouse, sql: str) -> list[dict]:
    return warehouse.query(sql)
