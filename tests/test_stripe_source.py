"""The Stripe source against the Stripe emulator, on DuckDB and PostgreSQL."""

from __future__ import annotations

import calendar
import time

import pytest

from headwater.config import StripeSourceConfig
from headwater.loopback import LoopbackServer
from pipelines.cloud_sources import cloud_pipeline, run_source
from sources.stripe import stripe_source
from sources.stripe.emulator import DEFAULT_API_KEY, StripeEmulator, create_app
from sources.stripe.settings import OBJECTS

pytestmark = pytest.mark.usefixtures("private_dlt_dir")

DAY = 86400


def small_world(now: int) -> list[dict]:
    """A few objects of every loaded type, in Stripe's shapes, created in the last week."""
    t = now - 7 * DAY
    records: list[dict] = []
    for i in range(1, 6):
        records.append({"id": f"cus_{i}", "object": "customer", "created": t + i, "email": f"c{i}@example.com",
                        "name": f"Customer {i}", "phone": None, "metadata": {}})
    for i in range(1, 4):
        records.append({"id": f"pi_{i}", "object": "payment_intent", "created": t + 10 + i, "amount": 1000 * i,
                        "currency": "usd", "customer": f"cus_{i}", "status": "succeeded"})
        records.append({"id": f"ch_{i}", "object": "charge", "created": t + 10 + i, "amount": 1000 * i,
                        "amount_refunded": 0, "currency": "usd", "customer": f"cus_{i}", "paid": True,
                        "payment_intent": f"pi_{i}", "status": "succeeded", "metadata": {"order_id": f"o{i}"}})
    records.append({"id": "re_1", "object": "refund", "created": t + 20, "amount": 1000, "charge": "ch_1",
                    "currency": "usd", "status": "succeeded"})
    for i in range(1, 3):
        records.append({"id": f"sub_{i}", "object": "subscription", "created": t + 30 + i,
                        "customer": f"cus_{i}", "status": "active", "canceled_at": None})
        records.append({"id": f"in_{i}", "object": "invoice", "created": t + 30 + i, "customer": f"cus_{i}",
                        "subscription": f"sub_{i}", "status": "paid", "amount_paid": 900})
    records.append({"id": "cs_test_1", "object": "checkout.session", "created": t + 40, "customer": "cus_3",
                    "amount_total": 3000, "currency": "usd", "status": "complete", "mode": "payment"})
    return records


@pytest.fixture
def stripe_emulator():
    emulator = StripeEmulator(small_world(int(time.time())))
    with LoopbackServer(create_app(emulator)) as server:
        emulator.base_url = server.url
        yield emulator


def entry_for(emulator, **overrides) -> StripeSourceConfig:
    values = {"name": "stripe", "type": "stripe", "api_key": DEFAULT_API_KEY, "base_url": emulator.base_url,
              "start_date": "2020-01-01"}
    return StripeSourceConfig(**(values | overrides))


def warehouse_ids(warehouse, table: str, schema: str = "stripe") -> set[str]:
    return {row["id"] for row in warehouse.query(f'SELECT id FROM "{schema}"."{table}"')}


def assert_warehouse_matches(warehouse, emulator) -> None:
    for spec in OBJECTS:
        assert warehouse_ids(warehouse, spec.table) == {o["id"] for o in emulator.current(spec.table)}, spec.table


def test_first_run_loads_every_object_from_the_list_endpoints(warehouse, stripe_emulator):
    report = run_source(entry_for(stripe_emulator), warehouse)

    assert_warehouse_matches(warehouse, stripe_emulator)
    assert report.rows_by_table["customers"] == 5
    paths = set(stripe_emulator.control.paths())
    assert "/v1/events" not in paths
    assert {spec.path for spec in OBJECTS} <= paths
    subscriptions = stripe_emulator.control.requests[[r.path for r in stripe_emulator.control.requests].index("/v1/subscriptions")]
    assert subscriptions.param("status") == "all" and subscriptions.param("limit") == "100"
    assert subscriptions.param("created[gte]") == str(calendar.timegm((2020, 1, 1, 0, 0, 0)))


def test_incremental_run_reads_only_events_and_makes_changes_current(warehouse, stripe_emulator):
    entry = entry_for(stripe_emulator)
    run_source(entry, warehouse)
    stripe_emulator.create("customers", {"id": "cus_new", "email": "new@example.com", "name": "New"})
    stripe_emulator.update("customers", "cus_2", {"email": "moved@example.com"})
    stripe_emulator.cancel_subscription("sub_1")
    stripe_emulator.delete("customers", "cus_5")
    stripe_emulator.create("charges", {"id": "ch_new", "amount": 4200, "currency": "eur", "customer": "cus_new",
                                       "status": "succeeded", "amount_refunded": 0, "paid": True})
    stripe_emulator.control.clear_log()

    report = run_source(entry, warehouse)

    assert set(stripe_emulator.control.paths()) == {"/v1/events"}
    assert report.rows_by_table == {"customers": 3, "charges": 1, "subscriptions": 1}
    assert_warehouse_matches(warehouse, stripe_emulator)
    emails = {r["id"]: r["email"] for r in warehouse.query('SELECT id, email FROM "stripe"."customers"')}
    assert emails["cus_2"] == "moved@example.com" and "cus_5" not in emails
    statuses = {r["id"]: r["status"] for r in warehouse.query('SELECT id, status FROM "stripe"."subscriptions"')}
    assert statuses == {"sub_1": "canceled", "sub_2": "active"}


def test_run_without_changes_fetches_no_rows(duckdb_warehouse, stripe_emulator):
    entry = entry_for(stripe_emulator)
    run_source(entry, duckdb_warehouse)
    stripe_emulator.update("customers", "cus_1", {"name": "Renamed"})
    assert run_source(entry, duckdb_warehouse).rows_by_table == {"customers": 1}

    assert run_source(entry, duckdb_warehouse).rows == 0


def test_fresh_dlt_folder_resumes_from_the_warehouse_state(duckdb_warehouse, stripe_emulator, tmp_path, monkeypatch):
    entry = entry_for(stripe_emulator)
    run_source(entry, duckdb_warehouse)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "another-machine"))
    stripe_emulator.update("customers", "cus_3", {"phone": "+15550100"})
    stripe_emulator.control.clear_log()

    report = run_source(entry, duckdb_warehouse)

    assert set(stripe_emulator.control.paths()) == {"/v1/events"}
    assert report.rows_by_table == {"customers": 1}


def test_cursor_older_than_event_retention_falls_back_to_list_endpoints(duckdb_warehouse, stripe_emulator):
    run_source(entry_for(stripe_emulator), duckdb_warehouse)
    stripe_emulator.advance(31 * DAY)
    stripe_emulator.cancel_subscription("sub_2")
    stripe_emulator.create("customers", {"id": "cus_late", "email": "late@example.com"})
    stripe_emulator.control.clear_log()

    entry = entry_for(stripe_emulator)
    cloud_pipeline(entry, duckdb_warehouse).run(stripe_source(entry, clock=stripe_emulator.now))

    paths = stripe_emulator.control.paths()
    assert "/v1/events" not in paths and "/v1/customers" in paths
    assert_warehouse_matches(duckdb_warehouse, stripe_emulator)
    status = duckdb_warehouse.query("SELECT status FROM stripe.subscriptions WHERE id = 'sub_2'")
    assert status == [{"status": "canceled"}]


def test_throttling_and_server_errors_mid_pagination_load_every_record_once(warehouse, stripe_emulator):
    for i in range(250):
        stripe_emulator.create("customers", {"id": f"cus_bulk_{i:03d}", "created": int(time.time()) - DAY,
                                             "email": f"bulk{i}@example.com"})
    stripe_emulator.control.fail_request(2, status=500)   # the second customers page
    stripe_emulator.control.fail_request(4, status=503)
    stripe_emulator.control.throttle(2, retry_after=0.05)

    run_source(entry_for(stripe_emulator), warehouse)

    rows = warehouse.query('SELECT id, COUNT(*) AS n FROM "stripe"."customers" GROUP BY id')
    assert len(rows) == 255 and {r["n"] for r in rows} == {1}
    assert {r.status for r in stripe_emulator.control.requests} >= {429, 500, 503}


def test_client_waits_exactly_the_retry_after_the_api_asks_for(stripe_emulator):
    from sources.stripe.helpers import stripe_client

    waits: list[float] = []
    stripe_emulator.control.throttle(2, retry_after=7)
    with stripe_client(entry_for(stripe_emulator), sleep=waits.append) as client:
        page = client.get("/v1/customers", {"limit": "100"})
    assert waits == [7.0, 7.0] and len(page["data"]) == 5


def test_rejected_key_fails_with_stripes_explanation_and_no_secret(duckdb_warehouse, stripe_emulator):
    from sources.vendor_http import VendorRejected

    entry = entry_for(stripe_emulator, api_key="rk_test_not_the_right_one")
    with pytest.raises(Exception) as failure:
        run_source(entry, duckdb_warehouse)
    cause = failure.value
    while cause is not None and not isinstance(cause, VendorRejected):
        cause = cause.__cause__ or cause.__context__
    assert isinstance(cause, VendorRejected) and cause.status == 401
    assert "Invalid API Key" in str(cause) and "not_the_right_one" not in str(cause)
