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

from audience_sync_world import emulator_process, timed_scenarios
from headwater.warehouse import Warehouse

TOKEN = "bench-token"
META = {"type": "meta_audience", "credentials": {"access_token": TOKEN}, "settings": {"audience_id": "6001"}}


def change_one_percent(warehouse: Warehouse) -> None:
    with warehouse.connect() as db:
        db.execute("UPDATE cdp.profiles SET last_name = 'Changed' WHERE hash(profile_id) % 100 = 0")
        db.execute("DELETE FROM cdp.audience_members WHERE hash(profile_id) % 100 = 1")


SCENARIOS = [("first", None, False), ("resync", None, False), ("changed", change_one_percent, False),
             ("full", None, True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with emulator_process("meta", f"access_token={TOKEN!r}") as url:
        runs = [timed_scenarios(args.rows, {**META, "base_url": url}, SCENARIOS) for _ in range(args.runs)]
    print(f"{args.rows:,} audience members, median of {args.runs} runs, {os.cpu_count()} cores")
    print("| scenario | rows sent | seconds | members/s (audience size / seconds) |")
    print("| --- | ---: | ---: | ---: |")
    for name in ("first", "resync", "changed", "full"):
        seconds = statistics.median(run[name][0] for run in runs)
        sent = runs[0][name][1]
        print(f"| {name} | {sent:,} | {seconds:.2f} | {args.rows / seconds:,.0f} |")


if __name__ == "__main__":
    main()
