"""What the per-vendor source benchmarks (bench/sources_<vendor>.py) share.

Each measures records/s of its source against its own emulator, beside a fetch-only
baseline; a full load always starts as a first run on a new machine (a fresh DuckDB file
and a dlt folder of its own), so the three vendors' figures are measured alike.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from headwater.warehouse import Warehouse
from pipelines.cloud_sources import run_source


def per_second(count: Callable[[], int]) -> float:
    """Items per second of one call of `count` (which returns how many items it handled)."""
    started = time.perf_counter()
    items = count()
    return items / (time.perf_counter() - started)


def load_fresh(entry) -> dict[str, int]:
    """Rows by table of one `run_source` into a new DuckDB warehouse with a new dlt folder."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ["DLT_DATA_DIR"] = str(Path(folder) / "dlt")
        return run_source(entry, Warehouse(f"duckdb:///{folder}/w.duckdb")).rows_by_table
