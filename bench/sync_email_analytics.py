"""Audience sync throughput to the email and analytics emulators: Klaviyo, Mailchimp, Mixpanel.

For each destination, on a fresh DuckDB warehouse with N consented audience members:
  first    the first sync: every member mapped, normalized, batched at the vendor's limit, sent
  resync   the same sync with nothing changed: the SQL diff finds no work
  full     baseline: `--full`, what every run would cost without the diff
The emulators run in their own process (uvicorn) so they do not share the engine's GIL; both
share this machine's 2 cores. The client-side rate limit is lifted so the engine, not the
vendor's quota, is measured.

    .venv/bin/python bench/sync_email_analytics.py                  # 100,000 members, 3 runs
    .venv/bin/python bench/sync_email_analytics.py --rows 20000 --runs 1
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

from destinations.emulators import klaviyo, mailchimp, mixpanel  # noqa: E402
from destinations.engine import run_sync  # noqa: E402
from destinations.normalize import e164  # noqa: E402
from headwater.config import parse_config  # noqa: E402
from headwater.loopback import free_port  # noqa: E402
from headwater.warehouse import Warehouse  # noqa: E402

# destination type -> (emulator module, path suffix of base_url, credentials, settings)
TARGETS = {
    "klaviyo_list": ("klaviyo", "", {"api_key": klaviyo.API_KEY}, {"list_id": klaviyo.LIST_ID}),
    "mailchimp_audience": ("mailchimp", "/3.0", {"api_key": mailchimp.API_KEY}, {"list_id": mailchimp.LIST_ID}),
    "mixpanel_profiles": ("mixpanel", "", {"project_token": mixpanel.PROJECT_TOKEN}, {}),
}


def start_emulator(module: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    code = (f"import uvicorn; from destinations.emulators.{module} import create_app; "
            f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            httpx.get(url + "/")
            return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{module} emulator did not start")


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


def one_run(kind: str, rows: int, url: str) -> dict[str, tuple[float, int]]:
    _, suffix, credentials, settings = TARGETS[kind]
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Warehouse(f"duckdb:///{folder}/bench.duckdb")
        build_world(warehouse, rows)
        config = parse_config({
            "warehouse": warehouse.url,
            "destinations": [{"name": "target", "type": kind, "base_url": url + suffix, "credentials": credentials,
                              "settings": settings, "requests_per_second": 1000}],
            "syncs": [{"name": "vip", "source": {"audience": "vip"}, "destination": "target", "mode": "mirror"}]})
        results = {}
        for name, full in (("first", False), ("resync", False), ("full", True)):
            e164.cache_clear()
            started = time.perf_counter()
            report = run_sync(config, "vip", full=full)
            elapsed = time.perf_counter() - started
            assert report.rows_failed == 0, report.line()
            results[name] = (elapsed, report.rows_planned)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.rows:,} audience members, median of {args.runs} runs, {os.cpu_count()} cores")
    print("| destination | scenario | rows sent | seconds | members/s (audience size / seconds) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for kind, (module, *_rest) in TARGETS.items():
        process, url = start_emulator(module)   # a fresh vendor per destination type
        try:
            runs = [one_run(kind, args.rows, url) for _ in range(args.runs)]
        finally:
            process.terminate()
            process.wait()
        for name in ("first", "resync", "full"):
            seconds = statistics.median(run[name][0] for run in runs)
            print(f"| {kind} | {name} | {runs[0][name][1]:,} | {seconds:.2f} | {args.rows / seconds:,.0f} |")


if __name__ == "__main__":
    main()
