"""The Shopify dlt source against the emulator, on DuckDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest

from headwater.config import ShopifySourceConfig
from headwater.loopback import LoopbackServer
from pipelines.cloud_sources import cloud_pipeline, run_source
from sources.shopify import shopify_source
from sources.shopify.emulator import create_app
from sources.vendor_http import MissingCredential
from tests import shopify_records as records

pytestmark = pytest.mark.usefixtures("private_dlt_dir")

TOKEN = "shpat_source_test_token"
KINDS = {"customers": "customers", "orders": "orders", "products": "products",
         "abandoned_checkouts": "abandonedCheckouts"}


class FakeTime:
    """Shared by the emulator's bucket and the source: waiting moves the clock, never the test."""

    def __init__(self) -> None:
        self.now = 10_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@contextmanager
def serve(shop: dict, fake_time: FakeTime) -> Iterator[tuple[LoopbackServer, object]]:
    """The Shopify emulator for `shop` on virtual time, stopped when the test ends: (server, its state)."""
    app = create_app(shop, access_token=TOKEN, bucket_clock=fake_time.monotonic, polls_to_complete=2)
    with LoopbackServer(app) as server:
        yield server, app.state.shopify


def entry_for(server: LoopbackServer, name: str = "shop", **settings) -> ShopifySourceConfig:
    return ShopifySourceConfig(name=name, type="shopify", access_token=TOKEN, base_url=server.url,
                               **{"backfill": "pages", **settings})


def load(entry, warehouse, fake_time: FakeTime) -> dict[str, int]:
    pipeline = cloud_pipeline(entry, warehouse)
    pipeline.run(shopify_source(entry, sleep=fake_time.sleep, clock=fake_time.monotonic, bulk_poll_seconds=1.0))
    info = pipeline.last_trace.last_normalize_info
    return {t: n for t, n in (info.row_counts if info else {}).items() if not t.startswith("_dlt")}


def _epoch(value) -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.timestamp()


def assert_warehouse_matches_shop(warehouse, emulator, schema: str = "shop") -> None:
    """Every table holds exactly the emulator's records, at their current version."""
    for table, kind in KINDS.items():
        rows = warehouse.query(f"SELECT id, updated_at FROM {schema}.{table}")
        assert len(rows) == len({row["id"] for row in rows}), f"{table} has duplicate ids"
        assert {row["id"]: _epoch(row["updated_at"]) for row in rows} == {
            int(record["legacyResourceId"]): _epoch(record["updatedAt"]) for record in emulator.data.all(kind)}
    emails = {row["id"]: row["email"] for row in warehouse.query(f"SELECT id, email FROM {schema}.customers")}
    assert emails == {int(c["legacyResourceId"]): c["email"] for c in emulator.data.all("customers")}
    cancelled = {row["id"]: row["cancelled_at"] is not None
                 for row in warehouse.query(f"SELECT id, cancelled_at FROM {schema}.orders")}
    assert cancelled == {int(o["legacyResourceId"]): o.get("cancelledAt") is not None for o in emulator.data.all("orders")}
    items = warehouse.query(
        f"SELECT o.id, COUNT(li.id) AS n FROM {schema}.orders o "
        f"LEFT JOIN {schema}.orders__line_items li ON li._dlt_parent_id = o._dlt_id GROUP BY o.id")
    assert {row["id"]: row["n"] for row in items} == {
        int(o["legacyResourceId"]): len(o["lineItems"]) for o in emulator.data.all("orders")}


def test_incremental_run_fetches_only_changes_and_warehouse_matches_the_shop(warehouse, fake_time):
    with serve(records.shop(customers=6, orders=8, products=3, checkouts=2), fake_time) as (server, emulator):
        entry = entry_for(server)
        first = load(entry, warehouse, fake_time)
        assert (first["customers"], first["orders"], first["orders__line_items"]) == (6, 8, 16)
        assert_warehouse_matches_shop(warehouse, emulator)
        newest_customer = max(c["updatedAt"] for c in emulator.data.all("customers"))

        emulator.data.touch("customers", 2, email="moved@example.com")
        emulator.data.touch("orders", 3, cancelledAt="2025-06-01T00:00:00Z", cancelReason="CUSTOMER")
        emulator.data.upsert("orders", records.order(9, 1, items=3, updated="2025-06-02T00:00:00Z"))
        emulator.data.upsert("orders", records.order(10, 2, items=1, updated="2025-06-02T00:00:01Z"))
        emulator.requests.clear()
        second = load(entry, warehouse, fake_time)

        calls = {call["field"]: call for request in emulator.requests for call in request.calls}
        assert calls["customers"]["query"] == f"updated_at:>='{newest_customer}'"
        boundary = {int(c["legacyResourceId"]) for c in emulator.data.all("customers")
                    if c["updatedAt"] == newest_customer}
        assert set(calls["customers"]["returned_ids"]) - boundary == {2}
        assert set(calls["orders"]["returned_ids"]) - {8} == {3, 9, 10}
        assert (second["customers"], second["orders"]) == (1, 3)  # the re-read boundary rows merge away
        assert_warehouse_matches_shop(warehouse, emulator)


def test_throttling_and_5xx_mid_pagination_load_every_record_exactly_once(warehouse, fake_time):
    shop = records.shop(customers=230, orders=20, products=2, checkouts=1, items=12)
    with serve(shop, fake_time) as (server, emulator):
        emulator.faults.drain_bucket(after=1)  # the 2nd page finds the bucket empty: THROTTLED
        emulator.faults.error(503, after=3)
        emulator.faults.error(502, after=6)
        load(entry_for(server), warehouse, fake_time)
        throttled = [r for r in emulator.requests if r.throttled]
        assert throttled and {503, 502} <= {r.status for r in emulator.requests}
        assert fake_time.sleeps and max(fake_time.sleeps) >= throttled[0].requested_cost / 50
        assert warehouse.query("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM shop.customers") == [{"n": 230, "d": 230}]
        assert warehouse.query("SELECT COUNT(*) AS n FROM shop.orders__line_items")[0]["n"] == 20 * 12
        assert_warehouse_matches_shop(warehouse, emulator)


def test_fresh_pipelines_dir_resumes_from_the_state_kept_in_the_warehouse(warehouse, fake_time, tmp_path,
                                                                          monkeypatch):
    with serve(records.shop(customers=4, orders=2, products=1, checkouts=1), fake_time) as (server, emulator):
        entry = entry_for(server)
        load(entry, warehouse, fake_time)
        newest_order = max(o["updatedAt"] for o in emulator.data.all("orders"))
        monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "another-machine"))
        emulator.requests.clear()
        load(entry, warehouse, fake_time)
        calls = {call["field"]: call for request in emulator.requests for call in request.calls}
        assert calls["orders"]["query"] == f"updated_at:>='{newest_order}'"
        assert_warehouse_matches_shop(warehouse, emulator)


def test_bulk_backfill_loads_the_same_rows_as_paging_then_continues_incrementally(duckdb_warehouse, fake_time):
    with serve(records.shop(customers=5, orders=6, products=3, checkouts=2, items=12), fake_time) as (server, emulator):
        load(entry_for(server, "paged"), duckdb_warehouse, fake_time)
        bulk = entry_for(server, "bulked", backfill="bulk")
        load(bulk, duckdb_warehouse, fake_time)
        assert len(emulator.bulk.queries()) == 4
        for table in ("customers", "orders", "orders__line_items", "orders__discount_applications",
                      "orders__refunds", "products", "products__variants", "abandoned_checkouts__line_items"):
            columns = [c["column_name"] for c in duckdb_warehouse.query(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'paged' AND table_name = %s "
                "AND column_name NOT LIKE '\\_dlt%%' ESCAPE '\\' ORDER BY column_name", [table])]
            select = ", ".join(columns)
            paged = duckdb_warehouse.query(f"SELECT {select} FROM paged.{table} ORDER BY ALL")
            bulked = duckdb_warehouse.query(f"SELECT {select} FROM bulked.{table} ORDER BY ALL")
            assert paged and paged == bulked, table
        assert_warehouse_matches_shop(duckdb_warehouse, emulator, "bulked")

        emulator.data.touch("customers", 1, email="after-backfill@example.com")
        emulator.requests.clear()
        load(bulk, duckdb_warehouse, fake_time)
        assert len(emulator.bulk.queries()) == 4  # later runs page incrementally
        assert 1 in {i for r in emulator.requests for i in r.returned_ids("customers")}
        assert_warehouse_matches_shop(duckdb_warehouse, emulator, "bulked")


def test_auto_backfill_uses_bulk_only_for_tables_above_the_threshold(duckdb_warehouse, fake_time):
    with serve(records.shop(customers=7, orders=2, products=3, checkouts=1), fake_time) as (server, emulator):
        load(entry_for(server, backfill="auto", bulk_threshold=5), duckdb_warehouse, fake_time)
        [query] = emulator.bulk.queries()
        assert query.lstrip("{ ").startswith("customers")
        assert_warehouse_matches_shop(duckdb_warehouse, emulator)


def test_missing_access_token_names_the_field_and_the_fix():
    entry = ShopifySourceConfig(name="shop", type="shopify")
    with pytest.raises(MissingCredential, match=r"sources\.shop\.access_token is not set.*SHOPIFY_ACCESS_TOKEN"):
        shopify_source(entry)


def test_rejected_token_fails_with_a_clear_message_that_never_shows_the_token(duckdb_warehouse, fake_time):
    with serve(records.shop(customers=1, orders=0, products=0, checkouts=0), fake_time) as (server, _):
        entry = ShopifySourceConfig(name="shop", type="shopify", access_token="shpat_revoked_123",
                                    base_url=server.url, backfill="pages")
        with pytest.raises(Exception) as caught:
            load(entry, duckdb_warehouse, fake_time)
        text = str(caught.value)
        assert "rejected the access token (401" in text and "shpat_revoked_123" not in text


def test_pipeline_runner_loads_the_configured_shop_and_reports_rows(duckdb_warehouse):
    with LoopbackServer(create_app(records.shop(customers=3, orders=2, products=1, checkouts=1),
                                   access_token=TOKEN)) as server:
        report = run_source(ShopifySourceConfig(name="store", type="shopify", access_token=TOKEN,
                                                base_url=server.url), duckdb_warehouse)
    assert report.rows_by_table["customers"] == 3 and report.rows_by_table["orders"] == 2
    assert report.rows_by_table["orders__line_items"] == 4


def test_start_date_limits_the_first_load_and_the_api_version_is_pinned(duckdb_warehouse, fake_time):
    shop = records.shop(customers=2, orders=0, products=0, checkouts=0)
    shop["customers"].append(records.customer(3, updated="2025-09-01T00:00:00Z"))
    with serve(shop, fake_time) as (server, emulator):
        load(entry_for(server, start_date="2025-06-01", api_version="2025-07"), duckdb_warehouse, fake_time)
        assert [row["id"] for row in duckdb_warehouse.query("SELECT id FROM shop.customers")] == [3]
        calls = {call["field"]: call for request in emulator.requests for call in request.calls}
        assert calls["customers"]["query"] == "updated_at:>='2025-06-01T00:00:00Z'"
        assert {request.api_version for request in emulator.requests} == {"2025-07"}


def test_generated_world_loads_every_shopify_record(duckdb_warehouse, tmp_path, fake_time):
    from sources.synthetic import generate_world

    manifest = generate_world(tmp_path / "world", people=40, seed=11, end="2026-11-01T00:00:00Z")
    app = create_app(tmp_path / "world", access_token=TOKEN, bucket_clock=fake_time.monotonic)
    with LoopbackServer(app) as server:
        load(entry_for(server), duckdb_warehouse, fake_time)
    expected = manifest.counts["shopify"]
    for table, kind in KINDS.items():
        assert duckdb_warehouse.query(f"SELECT COUNT(*) AS n FROM shop.{table}")[0]["n"] == expected[table], kind
    assert_warehouse_matches_shop(duckdb_warehouse, app.state.shopify)
