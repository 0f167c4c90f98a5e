"""Stripe source throughput: records/s loaded into DuckDB from the emulator, vs fetching only.

Baseline: the same list pages fetched with the source's own client and thrown away, so the
difference is what dlt (normalize + load) costs per record. Run:
    .venv/bin/python bench/sources_stripe.py [--records 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

from headwater.config import StripeSourceConfig  # noqa: E402
from headwater.loopback import LoopbackServer  # noqa: E402
from sources.stripe.emulator import DEFAULT_API_KEY, StripeEmulator, create_app  # noqa: E402
from sources.stripe.helpers import list_objects, stripe_client  # noqa: E402
from sources.stripe.settings import OBJECTS  # noqa: E402
from source_runs import load_fresh, per_second  # noqa: E402


def records(count: int, now: int) -> list[dict]:
    """Half customers, half charges, in the shapes of sources/synthetic/FORMAT.md."""
    half = count // 2
    out = [{"id": f"cus_{i:07d}", "object": "customer", "created": now - 86400 + i % 80000, "email": f"u{i}@x.io",
            "name": f"User {i}", "phone": None, "metadata": {"segment": "b"}} for i in range(half)]
    out += [{"id": f"ch_{i:07d}", "object": "charge", "created": now - 86400 + i % 80000, "amount": 1000 + i,
             "currency": "usd", "customer": f"cus_{i:07d}", "paid": True, "status": "succeeded",
             "billing_details": {"email": f"u{i}@x.io", "name": None, "phone": None}, "metadata": {}}
            for i in range(count - half)]
    return out


def fetch_all(entry) -> int:
    with stripe_client(entry) as client:
        return sum(len(page) for spec in OBJECTS for page in list_objects(client, spec, 0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    emulator = StripeEmulator(records(args.records, int(time.time())))
    fetch_rates, load_rates = [], []
    with LoopbackServer(create_app(emulator)) as server:
        entry = StripeSourceConfig(name="stripe", type="stripe", api_key=DEFAULT_API_KEY, base_url=server.url)
        for _ in range(args.runs):
            fetch_rates.append(per_second(lambda: fetch_all(entry)))
            load_rates.append(per_second(lambda: sum(load_fresh(entry)[table] for table in ("customers", "charges"))))
    print(f"stripe: {args.records} records, median of {args.runs} runs")
    print(f"  fetch only (baseline): {statistics.median(fetch_rates):,.0f} records/s")
    print(f"  full load into DuckDB: {statistics.median(load_rates):,.0f} records/s")


if __name__ == "__main__":
    main()
