"""Shopify source throughput: records/s loaded into DuckDB from the emulator, vs fetching only.

Baseline: the same GraphQL pages (nested line items included) fetched with the source's
own client and thrown away, so the difference is what dlt (normalize + load) costs.
Also measured: the bulk-operation backfill (one JSONL download per table). The emulator's
bucket is made large here so the figures measure our code, not Shopify's refill rate
(at the standard 50 points/s, cost alone bounds paging; see BENCHMARKS.md). Run:
    .venv/bin/python bench/sources_shopify.py [--records 6000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from headwater.config import ShopifySourceConfig  # noqa: E402
from headwater.loopback import LoopbackServer  # noqa: E402
from sources.shopify.emulator import create_app  # noqa: E402
from sources.shopify.helpers import paginate, shopify_client  # noqa: E402
from sources.shopify.nodes import RESOURCES  # noqa: E402
from source_runs import load_fresh  # noqa: E402
from tests.shopify_records import customer, order  # noqa: E402

TOKEN = "shpat_bench"
TABLES = ("customers", "orders")


def shop(count: int) -> dict:
    """Half customers, half orders with two line items each (GraphQL node shapes)."""
    half = count // 2
    stamp = lambda n: f"2025-03-{1 + n // 86400:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"  # noqa: E731
    return {"customers": [customer(n, stamp(n)) for n in range(1, half + 1)],
            "orders": [order(n, (n % half) + 1, 2, stamp(n)) for n in range(1, count - half + 1)]}


def fetch_only(entry) -> int:
    fetched = 0
    with shopify_client(entry) as client:
        for resource in RESOURCES:
            for page in paginate(client, resource.page_query(), resource.connection, {"query": None}):
                fetched += len(page)
    return fetched


def full_load(entry) -> int:
    rows = load_fresh(entry)
    return sum(rows.get(table, 0) for table in TABLES)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=6000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"fetch only (baseline)": [], "paged load into DuckDB": [],
                                     "bulk backfill into DuckDB": []}
    app = create_app(shop(args.records), access_token=TOKEN, bucket_size=10**9, restore_rate=10**9,
                     polls_to_complete=1)
    with LoopbackServer(app) as server:
        paged = ShopifySourceConfig(name="shopify", type="shopify", access_token=TOKEN, base_url=server.url,
                                    backfill="pages")
        bulk = paged.model_copy(update={"backfill": "bulk"})
        for _ in range(args.runs):
            for label, run, entry in (("fetch only (baseline)", fetch_only, paged),
                                      ("paged load into DuckDB", full_load, paged),
                                      ("bulk backfill into DuckDB", full_load, bulk)):
                started = time.perf_counter()
                count = run(entry)
                assert count == args.records, (label, count)
                rates[label].append(count / (time.perf_counter() - started))
    print(f"shopify: {args.records} records (customers + orders with 2 line items), median of {args.runs} runs")
    for label, values in rates.items():
        print(f"  {label:<27} {statistics.median(values):>8,.0f} records/s")


if __name__ == "__main__":
    main()
