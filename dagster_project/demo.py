"""`headwater demo`: the whole data path on one machine, from a fresh install.

Why it lives here: the demo drives every layer (collect, the loader, the sources, the
models, the syncs), and dagster_project is the package allowed to import all of them.
Each step is a small function over one `DemoRun`, so adding a layer means adding a step.
The demo is idempotent: a second run replays the same messageIds (skipped on load), so
the current-state tables come out the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import click
from rich.console import Console
from rich.table import Table

from headwater.config import HeadwaterConfig, parse_config
from headwater.loopback import LoopbackServer
from headwater.warehouse import Warehouse

SAMPLE_WORLD = Path("data/sample")
GENERATED_WORLD = Path("data/world")
DEMO_PEOPLE, DEMO_SEED = 300, 7


@dataclass
class DemoRun:
    world_dir: Path
    config: HeadwaterConfig
    console: Console
    emulators: "Emulators"
    summary: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def find_or_generate_world(console: Console) -> Path:
    """The shipped sample when it is there; otherwise a small world generated once."""
    from sources.synthetic import generate_world

    for candidate in (SAMPLE_WORLD, GENERATED_WORLD):
        if (candidate / "manifest.json").exists():
            return candidate
    console.print(f"[dim]no sample world found; generating {DEMO_PEOPLE} people into {GENERATED_WORLD}[/dim]")
    generate_world(GENERATED_WORLD, people=DEMO_PEOPLE, seed=DEMO_SEED)
    return GENERATED_WORLD


def demo_config(world_dir: Path, warehouse: str, emulators: "Emulators") -> HeadwaterConfig:
    """The demo's configuration: the world's Tracking API sources and the cloud sources
    pointed at their emulators, on the chosen warehouse."""
    from sources.synthetic import read_manifest

    manifest = read_manifest(world_dir)
    events_sources = [{"name": source, "type": "events", "write_key": key}
                      for source, key in sorted(manifest.write_keys.items())]
    return parse_config({
        "warehouse": warehouse,
        "collect": {"spool_dir": "data/spool", "rotate_seconds": 3600},
        "sources": events_sources + emulators.source_entries(),
    }, origin="the demo configuration")


def step_collect(run: DemoRun) -> None:
    """Start the collect endpoint on a free loopback port and replay the world through HTTP."""
    from sources.collect.app import create_app
    from sources.synthetic.replay import replay

    with LoopbackServer(create_app(run.config)) as server:
        run.console.print(f"collect endpoint on {server.url}; replaying {run.world_dir} ...")
        report = replay(run.world_dir, server.url, progress=True)
    if report.failed:
        raise click.ClickException(f"{len(report.failed)} batches could not be delivered: {report.failed[0]}")
    run.summary["events sent"] = f"{report.messages_sent:,} in {report.batches_sent:,} batches"
    if report.rejected:
        run.summary["events rejected (quarantined)"] = f"{len(report.rejected):,}"


def step_load(run: DemoRun) -> None:
    """Move the spool into the warehouse (first copy of each messageId wins)."""
    from pipelines.spool_loader import load_spool

    report = load_spool(run.config)
    run.summary["events loaded"] = f"{report.loaded:,} new ({sum(s.duplicates for s in report.sources.values()):,} " \
                                   f"duplicates skipped)"
    for source in report.sources.values():
        tables = len(source.rows_by_table)
        run.summary[f"  {source.source}"] = f"{source.loaded:,} new rows across {tables} tables"


def step_sources(run: DemoRun) -> None:
    """Pull Shopify, Stripe and Mailchimp incrementally from their emulators."""
    from pipelines.cloud_sources import run_sources

    with run.emulators:
        reports = run_sources(run.config)
    for report in reports:
        run.summary[f"{report.source} records loaded"] = f"{report.rows:,} across {len(report.rows_by_table)} tables"


STEPS: list[tuple[str, Callable[[DemoRun], None]]] = [
    ("collect", step_collect),
    ("load", step_load),
    ("sources", step_sources),
]


def print_summary(run: DemoRun) -> None:
    table = Table(title="Headwater demo", show_header=False, title_justify="left")
    for key, value in run.summary.items():
        table.add_row(key, value)
    table.add_row("time", ", ".join(f"{name} {seconds:.1f}s" for name, seconds in run.timings.items()))
    run.console.print(table)
    warehouse = Warehouse(run.config.warehouse)
    where = warehouse.duckdb_path if warehouse.is_duckdb else warehouse.safe_url()
    run.console.print(f"\nQuery the warehouse: [bold]{where}[/bold] "
                      f"(e.g. `duckdb {where} \"select event_text, count(*) from website.tracks group by 1\"`)")


@click.command()
@click.option("--warehouse", default="duckdb:///data/warehouse.duckdb", show_default=True,
              help="warehouse URL, e.g. postgresql://postgres@127.0.0.1:5432/test")
def demo(warehouse: str) -> None:
    """Run the whole data path on the shipped sample world and print what happened."""
    console = Console()
    from sources.emulators import Emulators

    world_dir = find_or_generate_world(console)
    emulators = Emulators(world_dir)
    run = DemoRun(world_dir, demo_config(world_dir, warehouse, emulators), console, emulators)
    for name, step in STEPS:
        started = time.perf_counter()
        step(run)
        run.timings[name] = time.perf_counter() - started
    print_summary(run)
