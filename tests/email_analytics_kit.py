"""Shared set-up for the email and analytics destination tests (Klaviyo, Mailchimp, GA4,
Mixpanel, Amplitude): hand-made cdp.profiles / audience_members / conversions in the
documented shapes, a headwater config pointing one sync at an emulator, and a runner on
virtual time so retries never really wait.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from destinations.delivery import VirtualTime
from destinations.emulators.kit import DestinationControl
from destinations.engine import run_sync
from headwater.config import HeadwaterConfig, parse_config
from headwater.loopback import LoopbackServer
from headwater.warehouse import Warehouse

PROFILE_COLUMNS = ("profile_id VARCHAR, email VARCHAR, phone VARCHAR, first_name VARCHAR, last_name VARCHAR, "
                   "city VARCHAR, state VARCHAR, postal_code VARCHAR, country VARCHAR, consent_analytics BOOLEAN, "
                   "consent_advertising BOOLEAN, consent_email BOOLEAN, consent_sms BOOLEAN, rfm_segment VARCHAR")
CONVERSION_COLUMNS = ("conversion_id VARCHAR, profile_id VARCHAR, order_id VARCHAR, value DECIMAL(12,2), "
                      "currency VARCHAR, occurred_at TIMESTAMP, gclid VARCHAR, gbraid VARCHAR, wbraid VARCHAR, "
                      "fbc VARCHAR, fbp VARCHAR, ttclid VARCHAR, ip VARCHAR, user_agent VARCHAR, page_url VARCHAR, "
                      "email VARCHAR, phone VARCHAR")


def emulator_fixture(create_app: Callable[[Any], Any], state_class: type, url_suffix: str = ""):
    """A pytest fixture serving a fresh emulator per test on a loopback port; it yields
    (base_url for the destination config, the emulator's state to inspect and fault)."""
    @pytest.fixture
    def served():
        state = state_class()
        with LoopbackServer(create_app(state)) as server:
            yield server.url + url_suffix, state
    return served


def person(n: int, **overrides: Any) -> dict[str, Any]:
    row = {"profile_id": f"prof-{n:05d}", "email": f"Person.{n}@Example.com ", "phone": f"+1415555{n:04d}",
           "first_name": f"First{n}", "last_name": f"Last{n}", "city": "San Francisco", "state": "CA",
           "postal_code": "94107", "country": "US", "consent_analytics": True, "consent_advertising": True,
           "consent_email": True, "consent_sms": False, "rfm_segment": "Champions"}
    row.update(overrides)
    return row


def conversion(n: int, hours_ago: float = 2.0, **overrides: Any) -> dict[str, Any]:
    occurred = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) - timedelta(hours=hours_ago)
    row = {"conversion_id": f"conv-{n:05d}", "profile_id": f"prof-{n:05d}", "order_id": f"order-{n:05d}",
           "value": 10 + n, "currency": "USD", "occurred_at": occurred, "gclid": None, "gbraid": None,
           "wbraid": None, "fbc": None, "fbp": None, "ttclid": None, "ip": "203.0.113.9",
           "user_agent": "Mozilla/5.0", "page_url": "https://shop.example/checkout",
           "email": f"person.{n}@example.com", "phone": f"+1415555{n:04d}"}
    row.update(overrides)
    return row


def _columns(ddl: str) -> list[str]:
    return [part.strip().split()[0] for part in ddl.split(",") if part.strip() and not part.strip()[0].isdigit()]


def _replace(warehouse: Warehouse, table: str, ddl: str, rows: list[dict[str, Any]]) -> None:
    columns = [c for c in _columns(ddl) if not c.endswith(")")]
    with warehouse.connect() as connection:
        cursor = connection.cursor()
        cursor.execute("CREATE SCHEMA IF NOT EXISTS cdp")
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} ({ddl})")
        if rows and warehouse.is_duckdb:  # DuckDB's executemany is slow per row; a scan of Arrow is not
            import pyarrow as pa

            batch = pa.table({c: [row.get(c) for row in rows] for c in columns})
            connection.register("incoming_rows", batch)
            connection.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM incoming_rows")
            connection.unregister("incoming_rows")
        elif rows:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                               [[row.get(c) for c in columns] for row in rows])


def set_profiles(warehouse: Warehouse, people: list[dict[str, Any]], audiences: dict[str, list[str]]) -> None:
    """Replace cdp.profiles and cdp.audience_members (audience -> profile ids)."""
    _replace(warehouse, "cdp.profiles", PROFILE_COLUMNS, people)
    members = [{"audience": name, "profile_id": pid, "entered_at": datetime(2026, 1, 1)}
               for name, ids in audiences.items() for pid in ids]
    _replace(warehouse, "cdp.audience_members", "audience VARCHAR, profile_id VARCHAR, entered_at TIMESTAMP", members)


def people_in_audience(warehouse: Warehouse, audience: str, count: int) -> list[dict[str, Any]]:
    """person(1) .. person(count), all of them members of `audience`; returned for a test to edit
    and pass to `set_profiles` again."""
    people = [person(n) for n in range(1, count + 1)]
    set_profiles(warehouse, people, {audience: [p["profile_id"] for p in people]})
    return people


def set_conversions(warehouse: Warehouse, rows: list[dict[str, Any]], people: list[dict[str, Any]] | None = None) -> None:
    """Replace cdp.conversions, and cdp.profiles for consent (default: everyone consents)."""
    _replace(warehouse, "cdp.conversions", CONVERSION_COLUMNS, rows)
    if people is None:
        people = [person(int(r["profile_id"].split("-")[1])) for r in rows]
    _replace(warehouse, "cdp.profiles", PROFILE_COLUMNS, people)


def config(warehouse: Warehouse, destination: dict[str, Any], sync: dict[str, Any]) -> HeadwaterConfig:
    return parse_config({"warehouse": warehouse.url, "destinations": [destination], "syncs": [sync]})


def run(cfg: HeadwaterConfig, name: str, **options: Any):
    """One sync run on virtual time, so retries and Retry-After never really wait."""
    return run_sync(cfg, name, timing=VirtualTime(), **options)


def bad_minute(control: DestinationControl, throttled: int, retry_after: float, *failures: tuple[int, int]) -> None:
    """The vendor's bad minute: the next `throttled` calls answer 429 with this Retry-After, and
    each (request number, 5xx status) in `failures` fails once; a sync must ride it out, no row lost."""
    control.throttle(throttled, retry_after=retry_after)
    for number, status in failures:
        control.fail_request(number, status)


def refused_run(warehouse: Warehouse, cfg: HeadwaterConfig, name: str, control: DestinationControl, value: str):
    """Run while the vendor refuses the one row carrying `value`: that row fails, the others are
    delivered (status partial). Returns (report, the row's sync_errors entry)."""
    control.reject_value(value)
    report = run(cfg, name)
    assert (report.status, report.rows_failed) == ("partial", 1)
    [error] = sync_errors(warehouse, name)
    return report, error


def rerun_once_accepted(cfg: HeadwaterConfig, name: str, control: DestinationControl):
    """The vendor accepts the refused value again: the next run sends that row and nothing else."""
    control.rejected_values.clear()
    report = run(cfg, name)
    assert (report.rows_planned, report.rows_succeeded) == (1, 1)
    return report


def dry_run_plan(cfg: HeadwaterConfig, name: str, control: DestinationControl, plan: Path, secret: str):
    """A dry run's plan lines, checked to have sent nothing and to hold no `secret`."""
    report = run(cfg, name, dry_run=True, plan_path=plan)
    assert report.status == "dry_run" and control.requests == []
    assert secret not in plan.read_text()
    return plan_lines(plan)


def sync_errors(warehouse: Warehouse, sync: str) -> list[dict[str, Any]]:
    return warehouse.query("SELECT run_id, row_key, action, error_code, error_message FROM cdp.sync_errors "
                           "WHERE sync = %s ORDER BY occurred_at, row_key", [sync])


def sync_runs(warehouse: Warehouse, sync: str) -> list[dict[str, Any]]:
    return warehouse.query("SELECT * FROM cdp.sync_runs WHERE sync = %s ORDER BY started_at", [sync])


def plan_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()]


def logged_text(warehouse: Warehouse) -> str:
    """Everything the run logs hold, as one string, to assert no secret is in it."""
    runs = warehouse.query("SELECT * FROM cdp.sync_runs")
    errors = warehouse.query("SELECT * FROM cdp.sync_errors")
    return orjson.dumps([runs, errors], default=str).decode()
