"""Model build speed: a full build of every model, and an incremental build after ~1% new events.

What it measures, on one synthetic world (sources.synthetic.generate_world) in DuckDB:
  setup        the world's events except the newest ~1% go through the spool and the loader
               (SpoolWriter files -> load_spool), Shopify/Stripe/Mailchimp are pulled from
               their emulators with dlt; then a first build of every model. Timed once.
  per run      a copy of that warehouse gets the newest ~1% of events (spool -> loader, timed
               apart), then
    incremental  `build_models` as `headwater build` runs it (only new loads are scanned)
    full         `build_models(full_refresh=True)` as of the same instant: the baseline,
                 what every build cost before builds were incremental
  and checks both leave the same row count in every cdp table. Medians of --runs runs.
  With --keep, a second invocation reuses the world and the loaded, pulled warehouse and
  only redoes the first build (with the code as it is now) and the runs.

    .venv/bin/python bench/build.py --people 100000 --runs 1
    .venv/bin/python bench/build.py --people 5000 --runs 3      # quick run
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from headwater.loopback import LoopbackServer  # noqa: E402
from headwater.warehouse import Warehouse  # noqa: E402
from models.adapter import Engine  # noqa: E402
from models.build import BuildContext, build_models, run_model  # noqa: E402
from models.catalog import catalog  # noqa: E402

END = "2026-11-01T00:00:00Z"
# logs and histories: a full refresh adds to them or keeps them
LOGS = ("cdp.profile_merges", "cdp.audience_history")


def fast_emulators(world: Path) -> list[LoopbackServer]:
    """The three emulators, Shopify with a cost bucket that never throttles: this measures models, not pulls."""
    from sources.mailchimp.emulator import create_app as mailchimp_app
    from sources.shopify.emulator import create_app as shopify_app
    from sources.stripe.emulator import create_app as stripe_app

    return [LoopbackServer(shopify_app(world, restore_rate=1_000_000, bucket_size=1_000_000)).start(),
            LoopbackServer(stripe_app(world)).start(), LoopbackServer(mailchimp_app(world)).start()]


def cdp_counts(warehouse: Warehouse) -> dict[str, int]:
    return {model.key: warehouse.query(f"SELECT COUNT(*) AS n FROM {model.target}")[0]["n"]
            for model in catalog() if model.schema == "cdp"}


def timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def profiled_build(context: BuildContext, seconds: dict[str, float]) -> None:
    """build_models, model by model on one connection, with each model's seconds in `seconds`."""
    with context.warehouse.connect() as connection:
        engine = Engine(connection, context.warehouse.dialect)
        for model in catalog():
            seconds[model.key] = timed(lambda: run_model(model, context, engine))


def print_profile(incremental: dict[str, float], full: dict[str, float], top: int = 15) -> None:
    print("\nslowest models of the last run's incremental build (full rebuild beside it):")
    for key in sorted(incremental, key=incremental.get, reverse=True)[:top]:
        print(f"  {key:45s} {incremental[key]:7.2f} s   full {full.get(key, float('nan')):7.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--new-share", type=float, default=0.01, help="share of events that arrive after setup")
    parser.add_argument("--advance-hours", type=float, default=0.0,
                        help="build the runs this many hours after the first build's as_of (as a daily build would)")
    parser.add_argument("--profile", action="store_true",
                        help="also print each model's seconds in the incremental and full builds of the last run")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work in this folder (reuses a world generated there, and its loaded warehouse)")
    args = parser.parse_args()

    from headwater.config import parse_config
    from pipelines.cloud_sources import run_sources
    from pipelines.spool_loader import load_spool
    from sources.synthetic.world import generate_world, read_manifest
    from tests.incremental_world import event_time_quantile, spool_events

    folder = args.keep or Path(tempfile.mkdtemp(prefix="hw-build-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    world = folder / "world"
    if not (world / "manifest.json").exists():
        seconds = timed(lambda: generate_world(world, people=args.people, seed=args.seed, end=END))
        print(f"world: {args.people} people generated in {seconds:.0f} s")
    manifest = read_manifest(world)
    cut = event_time_quantile(world, 1 - args.new_share)
    base = folder / "base.duckdb"
    loaded = folder / "loaded.json"  # the setup's loads and pulls are done: --keep reuses them
    reuse = args.keep is not None and loaded.exists() and base.exists()
    emulators = [] if reuse else fast_emulators(world)
    if not reuse:
        for stale in folder.glob("*.duckdb*"):
            stale.unlink()
        shutil.rmtree(folder / "spool", ignore_errors=True)

    def url(index: int) -> str:
        return emulators[index].url if emulators else "http://127.0.0.1:9"  # reused setup: nothing is pulled

    def config_for(warehouse_file: Path, spool: Path):
        from sources.mailchimp.emulator import DEFAULT_API_KEY as MAILCHIMP_KEY
        from sources.stripe.emulator import DEFAULT_API_KEY as STRIPE_KEY

        return parse_config({
            "warehouse": f"duckdb:///{warehouse_file}",
            "collect": {"spool_dir": str(spool)},
            "sources": [
                *({"name": n, "type": "events", "write_key": k} for n, k in manifest.write_keys.items()),
                {"name": "shopify", "type": "shopify", "access_token": "shpat_emulator", "base_url": url(0)},
                {"name": "stripe", "type": "stripe", "api_key": STRIPE_KEY, "base_url": url(1)},
                {"name": "mailchimp", "type": "mailchimp", "api_key": MAILCHIMP_KEY,
                 "base_url": url(2) + "/3.0"},
            ]})

    config = config_for(base, folder / "spool")
    if reuse:
        setup = json.loads(loaded.read_text())
        events, load_seconds, pull_seconds = setup["events"], setup["load_seconds"], setup["pull_seconds"]
        print("setup: reusing the loaded and pulled warehouse in", base)
    else:
        try:
            events = spool_events(world, config, until=cut)
            load_seconds = timed(lambda: load_spool(config))
            pull_seconds = timed(lambda: run_sources(config))
        finally:
            for server in emulators:
                server.stop()
        loaded.write_text(json.dumps({"events": events, "load_seconds": load_seconds, "pull_seconds": pull_seconds}))
    as_of = datetime.fromisoformat(END.replace("Z", "+00:00")) + timedelta(days=1)
    warehouse = Warehouse(config.warehouse)
    first_seconds = timed(lambda: build_models(BuildContext(warehouse, config, as_of)))
    print(f"setup: {events} events loaded in {load_seconds:.0f} s, vendors pulled in {pull_seconds:.0f} s, "
          f"first build {first_seconds:.1f} s")

    incremental, full, new_loads = [], [], []
    incremental_models: dict[str, float] = {}
    full_models: dict[str, float] = {}
    for run in range(args.runs):
        copy = folder / f"run{run}.duckdb"
        shutil.copy(base, copy)
        run_config = config_for(copy, folder / f"spool{run}")
        new_events = spool_events(world, run_config, after=cut)
        new_loads.append(timed(lambda: load_spool(run_config)))
        run_warehouse = Warehouse(run_config.warehouse)
        run_as_of = as_of + timedelta(hours=args.advance_hours)
        incremental_context = BuildContext(run_warehouse, run_config, run_as_of)
        full_context = BuildContext(run_warehouse, run_config, run_as_of, full_refresh=True)
        if args.profile:
            incremental.append(timed(lambda: profiled_build(incremental_context, incremental_models)))
        else:
            incremental.append(timed(lambda: build_models(incremental_context)))
        after_incremental = cdp_counts(run_warehouse)
        if args.profile:
            full.append(timed(lambda: profiled_build(full_context, full_models)))
        else:
            full.append(timed(lambda: build_models(full_context)))
        after_full = cdp_counts(run_warehouse)
        differing = sorted(k for k in after_full if k not in LOGS and after_incremental.get(k) != after_full[k])
        print(f"run {run + 1}: {new_events} new events (loaded in {new_loads[-1]:.1f} s); incremental "
              f"{incremental[-1]:.1f} s, full rebuild {full[-1]:.1f} s; "
              f"row counts differ in: {', '.join(differing) or 'no table'}")
        copy.unlink()
        shutil.rmtree(folder / f"spool{run}", ignore_errors=True)
    if not incremental:
        return
    if args.profile:
        print_profile(incremental_models, full_models)
    inc, ful = statistics.median(incremental), statistics.median(full)
    print(f"\n{args.people} people, {events + new_events} events, median of {args.runs}: "
          f"full rebuild {ful:.1f} s, incremental after {args.new_share:.0%} new events {inc:.1f} s "
          f"({ful / inc:.2f}x faster)")


if __name__ == "__main__":
    main()
