"""Reverse-ETL throughput: audience members/s through the sync engine to the Meta emulator.

Scenarios, each on a fresh DuckDB warehouse with N consented audience members:
  first      the first sync: every member normalized, hashed, batched (10,000) and sent
  resync     the same sync again with nothing changed: the diff in SQL finds no work
  changed    a re-sync after 1% of members changed and 1% left (mirror mode)
  full       baseline: a full resync (`--full`), what every run would cost without the diff
The emulator runs in its own process (uvicorn), so it does not share the engine's GIL;
both share this machine's 2 cores.

    .venv/bin/python bench/sync.py                 # 1,000,000 members, 3 runs
    .venv/bin/python bench/sync.py --rows 100000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from destinations.engine import run_sync  # noqa: E402
from destinations.normalize import _hashed_text, e164  # noqa: E402
from headwater.config import parse_config  # noqa: E402
from headwater.loopback import free_port  # noqa: E402
from headwater.warehouse import Warehouse  # noqa: E402

TOKEN = "bench-token"


def start_emulator() -> tuple[subprocess.Popen, str]:
    port = free_port()
    code = ("import uvicorn; from destinations.emulators.meta import create_app; "
            f"uvicorn.run(create_app(access_token={TOKEN!r}), host='127.0.0.1', port={port}, log_level='warning')")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/v24.0/x", params={"access_token": TOKEN})
            return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("emulator did not start")


def build_world(warehouse: Warehouse, rows: int) -> None:
    with warehouse.connect() as db:
        db.execute("CREATE SCHEMA IF NOT EXISTS cdp")
        db.execute(f"""CREATE TABLE cdp.profiles AS SELECT
            'p' || lpad(CAST(i AS VARCHAR), 8, '0') AS profile_id,
            'Person.' || i || '@Example.com' AS email,
            '+1 650 ' || CAST(2000000 + (i % 7999999) AS VARCHAR) AS phone,
            'First' || i AS first_name, 'Doe' AS last_name, 'Menlo Park' AS city, 'CA' AS state,
            '94025' AS postal_code, 'US' AS country, TRUE AS consent_analytics, TRUE AS consent_advertising,
            TRUE AS consent_email, FALSE AS consent_sms
            FROM range({rows}) t(i)""")
        db.execute("CREATE TABLE cdp.audience_members AS SELECT 'vip' AS audience, profile_id, "
                   "CURRENT_TIMESTAMP AS entered_at FROM cdp.profiles")


def change_one_percent(warehouse: Warehouse) -> None:
    with warehouse.connect() as db:
        db.execute("UPDATE cdp.profiles SET last_name = 'Changed' WHERE hash(profile_id) % 100 = 0")
        db.execute("DELETE FROM cdp.audience_members WHERE hash(profile_id) % 100 = 1")


def one_run(rows: int, url: str) -> dict[str, tuple[float, int]]:
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Warehouse(f"duckdb:///{folder}/bench.duckdb")
        build_world(warehouse, rows)
        config = parse_config({
            "warehouse": warehouse.url,
            "destinations": [{"name": "meta", "type": "meta_audience", "base_url": url,
                              "credentials": {"access_token": TOKEN}, "settings": {"audience_id": "6001"},
                              "requests_per_second": 1000}],
            "syncs": [{"name": "vip", "source": {"audience": "vip"}, "destination": "meta", "mode": "mirror"}]})
        results = {}
        for name, prepare, full in (("first", None, False), ("resync", None, False),
                                    ("changed", change_one_percent, False), ("full", None, True)):
            if prepare:
                prepare(warehouse)
            e164.cache_clear()  # every scenario pays for its own normalization: no warm caches
            _hashed_text.cache_clear()
            started = time.perf_counter()
            report = run_sync(config, "vip", full=full)
            elapsed = time.perf_counter() - started
            assert report.rows_failed == 0, report.line()
            results[name] = (elapsed, report.rows_planned)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    process, url = start_emulator()
    try:
        runs = [one_run(args.rows, url) for _ in range(args.runs)]
    finally:
        process.terminate()
        process.wait()
    print(f"{args.rows:,} audience members, median of {args.runs} runs, {os.cpu_count()} cores")
    print("| scenario | rows sent | seconds | members/s (audience size / seconds) |")
    print("| --- | ---: | ---: | ---: |")
    for name in ("first", "resync", "changed", "full"):
        seconds = statistics.median(run[name][0] for run in runs)
        sent = runs[0][name][1]
        print(f"| {name} | {sent:,} | {seconds:.2f} | {args.rows / seconds:,.0f} |")


if __name__ == "__main__":
    main()
