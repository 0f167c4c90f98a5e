"""Spool loader throughput: messages/s from closed spool files into a fresh DuckDB warehouse.

Baseline, measured in the same run on the same files: only reading the files, checking
their frames and parsing the JSON (the floor any loader pays). The ratio shows what
typing, Arrow building and dlt's insert-only merge cost on top.

    .venv/bin/python bench/load.py [--messages 60000] [--files 4] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from headwater.config import parse_config
from pipelines.spool_loader import load_spool
from sources.collect.spool import SpoolWriter, encode, scan

RECEIVED = "2024-05-01T12:00:00.000Z"
EVENTS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]


def message(number: int) -> dict:
    """A realistic mix: 70% track, 20% page, 10% identify, with context like analytics.js sends."""
    base = {"messageId": f"bench-{number}", "anonymousId": f"anon-{number % 5000}",
            "userId": f"user-{number % 2000}", "timestamp": RECEIVED, "sentAt": RECEIVED,
            "originalTimestamp": RECEIVED, "receivedAt": RECEIVED,
            "context": {"ip": "203.0.113.9", "userAgent": "Mozilla/5.0 (bench)", "library": {
                "name": "analytics.js", "version": "5.2.0"}, "page": {"url": f"https://shop.test/p/{number % 300}",
                                                                      "path": f"/p/{number % 300}"}}}
    kind = number % 10
    if kind < 7:
        return {**base, "type": "track", "event": EVENTS[number % len(EVENTS)],
                "properties": {"product_id": f"sku-{number % 500}", "price": 19.99 + number % 7, "quantity": 1 + number % 3,
                               "currency": "USD", "tags": ["a", "b"]}}
    if kind < 9:
        return {**base, "type": "page", "name": "Product", "properties": {"title": "A product", "referrer": ""}}
    return {**base, "type": "identify", "traits": {"email": f"user{number % 2000}@example.com", "plan": "pro",
                                                  "logins": number % 50}}


def write_files(spool_dir: Path, messages: int, files: int, per_record: int = 100) -> None:
    per_file = messages // files
    number = 0
    for file_number in range(files):
        writer = SpoolWriter(spool_dir, name=f"bench-{file_number}")
        for start in range(0, per_file, per_record):
            batch = [message(number + i) for i in range(min(per_record, per_file - start))]
            number += len(batch)
            writer.write(encode({"source": "website", "kind": "events", "received_at": RECEIVED, "messages": batch}))
        writer.close()


def baseline(files: list[Path]) -> int:
    count = 0
    for path in files:
        for payload in scan(path.read_bytes()).payloads:
            count += len(orjson.loads(payload)["messages"])
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="headwater-bench-load-"))
    template = work / "template"
    write_files(template, args.messages, args.files)
    template_files = sorted((template / "closed").glob("*.hws"))
    parse_rates, load_rates = [], []
    try:
        for run in range(args.runs):
            started = time.perf_counter()
            parsed = baseline(template_files)
            parse_rates.append(parsed / (time.perf_counter() - started))

            run_dir = work / f"run-{run}"
            shutil.copytree(template, run_dir / "spool")
            config = parse_config({"warehouse": f"duckdb:///{run_dir / 'warehouse.duckdb'}",
                                   "collect": {"spool_dir": str(run_dir / "spool")},
                                   "sources": [{"name": "website", "type": "events", "write_key": "bench"}]})
            started = time.perf_counter()
            report = load_spool(config)
            elapsed = time.perf_counter() - started
            assert report.loaded == parsed, (report.loaded, parsed)
            load_rates.append(report.loaded / elapsed)
            print(f"run {run + 1}: parse only {parse_rates[-1]:,.0f} msg/s; load {load_rates[-1]:,.0f} msg/s "
                  f"({elapsed:.2f}s for {report.loaded:,} messages)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    parse, load = statistics.median(parse_rates), statistics.median(load_rates)
    print(f"median of {args.runs}: parse only {parse:,.0f} msg/s, load into DuckDB {load:,.0f} msg/s "
          f"({load / parse:.1%} of the parse-only baseline); {args.messages:,} messages in {args.files} files")


if __name__ == "__main__":
    main()
