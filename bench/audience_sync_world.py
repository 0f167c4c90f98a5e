"""What the audience-sync benchmarks share: the audience, the emulator process, the timed runs.

bench/sync.py (Meta) and bench/sync_email_analytics.py (Klaviyo, Mailchimp, Mixpanel) measure
the same thing against different vendors: N consented members of audience `vip` in a fresh
DuckDB warehouse, synced in mirror mode to an emulator in its own process (so it does not share
the engine's GIL), each scenario timed with cold normalization caches. Keeping that in one
place keeps their figures comparable.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from destinations.engine import run_sync  # noqa: E402
from destinations.normalize import _hashed_text, e164  # noqa: E402
from headwater.config import parse_config  # noqa: E402
from headwater.loopback import free_port  # noqa: E402
from headwater.warehouse import Warehouse  # noqa: E402

# (name, prepare the warehouse before the run or None, `--full`)
Scenario = tuple[str, Callable[[Warehouse], None] | None, bool]


@contextmanager
def emulator_process(module: str, app_arguments: str = "") -> Iterator[str]:
    """Serve `destinations.emulators.<module>.create_app(<app_arguments>)` in a child process; yields its URL."""
    port = free_port()
    code = (f"import uvicorn; from destinations.emulators.{module} import create_app; "
            f"uvicorn.run(create_app({app_arguments}), host='127.0.0.1', port={port}, log_level='warning')")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                httpx.get(url + "/")   # any answer, even a 404, means it is serving
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"{module} emulator did not start")
        yield url
    finally:
        process.terminate()
        process.wait()


def build_audience(warehouse: Warehouse, rows: int) -> None:
    """cdp.profiles with `rows` consented people, all of them members of audience `vip`."""
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


def timed_scenarios(rows: int, destination: dict[str, Any], scenarios: list[Scenario]) -> dict[str, tuple[float, int]]:
    """One run of every scenario, in order, on a fresh warehouse: name -> (seconds, rows planned).

    `destination` is the destinations entry (no name); the sync mirrors audience `vip` to it
    with the client-side rate limit lifted, so the engine, not the vendor's quota, is measured.
    """
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Warehouse(f"duckdb:///{folder}/bench.duckdb")
        build_audience(warehouse, rows)
        config = parse_config({
            "warehouse": warehouse.url,
            "destinations": [{"name": "target", **destination, "requests_per_second": 1000}],
            "syncs": [{"name": "vip", "source": {"audience": "vip"}, "destination": "target", "mode": "mirror"}]})
        results = {}
        for name, prepare, full in scenarios:
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
