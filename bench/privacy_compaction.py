"""What a deletion's DuckDB compaction costs: FORCE CHECKPOINT (baseline) vs the file rewrite.

Why: the rewrite (pipelines/privacy/compaction.py) is what makes deleted bytes leave the
disk, and it copies the whole database; this shows its price against the checkpoint it
replaced, on a warehouse of --rows event rows (three tables), deleting one person each run.
Usage: .venv/bin/python bench/privacy_compaction.py [--rows 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.privacy.compaction import rewrite_duckdb_file


def make_warehouse(path: Path, rows: int) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA website")
        for table in ("tracks", "identifies", "pages"):
            connection.execute(
                f"CREATE TABLE website.{table} AS SELECT 'm-' || i AS id, 'u-' || (i % 50000) AS user_id, "
                f"'person' || (i % 50000) || '@example.org' AS email, now() AS received_at "
                f"FROM range({rows // 3}) r(i)")


def delete_one(path: Path, person: int) -> None:
    with duckdb.connect(str(path)) as connection:
        for table in ("tracks", "identifies", "pages"):
            connection.execute(f"DELETE FROM website.{table} WHERE user_id = ?", [f"u-{person}"])


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "warehouse.duckdb"
        make_warehouse(path, args.rows)
        size = path.stat().st_size
        checkpoint, rewrite = [], []
        for run in range(args.runs):
            delete_one(path, 2 * run)

            def force_checkpoint() -> None:
                with duckdb.connect(str(path)) as connection:
                    connection.execute("FORCE CHECKPOINT")

            checkpoint.append(timed(force_checkpoint))
            delete_one(path, 2 * run + 1)
            rewrite.append(timed(lambda: rewrite_duckdb_file(path)))
    print(f"DuckDB warehouse of {args.rows:,} rows ({size / 1e6:.0f} MB), median of {args.runs} runs, 2 cores")
    print(f"  FORCE CHECKPOINT (baseline): {statistics.median(checkpoint):.2f} s")
    print(f"  file rewrite (COPY FROM DATABASE): {statistics.median(rewrite):.2f} s")


if __name__ == "__main__":
    main()
