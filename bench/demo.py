"""`headwater demo` after the replay: the Dagster run vs the same work as plain function calls.

What is measured, on the shipped sample world (or --world), fresh DuckDB warehouse each run:
- dagster: the demo's in-process run of the project's Definitions (spool load, three cloud
  sources through dagster-dlt, every model, every check, one sync per destination type);
- baseline: the same steps called directly in the same order (load_spool, run_sources,
  build_models, run_sync per sync), no Dagster and no checks.
Both replay the world over HTTP first (not timed) and use the same emulators. The ratio is
what orchestration (step isolation, events, checks) costs on this machine.

    .venv/bin/python bench/demo.py [--world data/sample] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import sys

import yaml
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo's packages before bench/'s modules
os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")


def prepare(world: Path, folder: Path, console: Console):
    """Replay the world into a fresh spool under `folder` (cwd) and return the demo run."""
    from dagster_project import demo

    os.chdir(folder)
    run = demo.DemoRun(world, "duckdb:///data/warehouse.duckdb", console)
    run.config = demo.parse_config(demo.demo_document(world, run.warehouse, [], {}))
    demo.step_collect(run)
    return run


def with_emulators(world: Path, run, work) -> float:
    from dagster_project import demo
    from dagster_project.demo_destinations import DestinationEmulators
    from sources.emulators import Emulators

    sources = Emulators(world)
    with sources, DestinationEmulators() as destinations:
        document = demo.demo_document(world, run.warehouse, sources.source_entries(), destinations.config_sections())
        demo.DEMO_CONFIG_FILE.parent.mkdir(parents=True, exist_ok=True)
        demo.DEMO_CONFIG_FILE.write_text(yaml.safe_dump(document, sort_keys=False))
        os.environ["HEADWATER_CONFIG"] = str(demo.DEMO_CONFIG_FILE)
        run.config = demo.parse_config(document)
        started = time.perf_counter()
        work(run)
        return time.perf_counter() - started


def through_dagster(run) -> None:
    from dagster_project import demo

    result = demo.materialize_everything(run)
    assert result.success, "the Dagster run failed; run `headwater demo` to see why"


def plain_calls(run) -> None:
    from destinations.engine import run_sync
    from headwater.warehouse import Warehouse
    from models.build import build_models
    from models.build import BuildContext
    from pipelines.cloud_sources import run_sources
    from pipelines.spool_loader import load_spool

    load_spool(run.config)
    run_sources(run.config)
    build_models(BuildContext(Warehouse(run.config.warehouse), run.config, datetime.now(timezone.utc), False))
    for sync in run.config.syncs:
        run_sync(run.config, sync.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=Path("data/sample"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    world = args.world.resolve()
    console = Console(quiet=True)
    timings: dict[str, list[float]] = {"dagster": [], "baseline": []}
    for _ in range(args.runs):
        for name, work in (("dagster", through_dagster), ("baseline", plain_calls)):
            with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
                run = prepare(world, Path(folder), console)
                timings[name].append(with_emulators(world, run, work))
    dagster, baseline = statistics.median(timings["dagster"]), statistics.median(timings["baseline"])
    print(f"world {args.world} ({os.cpu_count()} cores), median of {args.runs} runs each, after the HTTP replay:")
    print(f"  through Dagster (every asset and check): {dagster:6.1f} s")
    print(f"  baseline, plain function calls:           {baseline:6.1f} s")
    print(f"  orchestration overhead:                   {dagster / baseline:6.2f}x")


if __name__ == "__main__":
    main()
