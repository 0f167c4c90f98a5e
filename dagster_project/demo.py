"""`headwater demo`: the whole data path on one machine, from a fresh install.

Why it lives here: the demo drives every layer (collect, the loader, the sources, the
models, the syncs), and dagster_project is the package allowed to import all of them.
After the events are replayed over HTTP, everything else is one in-process run of the
project's own Dagster definitions (the ones `dagster dev` shows), with the cloud sources
and every destination type served by local emulators.

The demo is idempotent: a second run replays the same messageIds (skipped on load), the
models rebuild the same current-state tables, and the syncs find nothing new to send.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import yaml
from rich.console import Console

from headwater.cli import UserError
from headwater.config import CONFIG_ENV, ConfigError, HeadwaterConfig, parse_config
from headwater.loopback import LoopbackServer

SAMPLE_WORLD = Path("data/sample")
GENERATED_WORLD = Path("data/world")
RUNTIME_DIR = Path("data/runtime")  # git-ignored: this run's config (emulator ports) and shifted vendor world
DEMO_CONFIG_FILE = RUNTIME_DIR / "demo.yml"
DEMO_PEOPLE, DEMO_SEED = 300, 7
CLOUD_SOURCES = ("shopify", "stripe", "mailchimp")


@dataclass
class DemoRun:
    world_dir: Path
    warehouse: str
    console: Console
    config: HeadwaterConfig | None = None
    summary: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    deliveries: list[tuple[str, str, str, str]] = field(default_factory=list)  # destination, what, sent, unsent
    streams: list[tuple[str, str, str]] = field(default_factory=list)        # stream, forwarded, the rest


def find_or_generate_world(console: Console, world: Path | None = None) -> Path:
    """`world` if given; else the shipped sample; otherwise a small world generated once."""
    from sources.synthetic import generate_world

    if world is not None:
        if not (world / "manifest.json").exists():
            raise UserError(f"--world: {world} has no manifest.json; generate one with `headwater generate`")
        return world
    for candidate in (SAMPLE_WORLD, GENERATED_WORLD):
        if (candidate / "manifest.json").exists():
            return candidate
    console.print(f"[dim]no sample world found; generating {DEMO_PEOPLE} people into {GENERATED_WORLD}[/dim]")
    generate_world(GENERATED_WORLD, people=DEMO_PEOPLE, seed=DEMO_SEED)
    return GENERATED_WORLD


def demo_document(world_dir: Path, warehouse: str, source_entries: list[dict],
                  destination_sections: dict[str, list[dict]]) -> dict:
    """The demo's headwater.yml: the world's Tracking API sources, the cloud sources and every
    destination pointed at their emulators, on the chosen warehouse; schedules stay off."""
    from sources.synthetic import read_manifest

    manifest = read_manifest(world_dir)
    events_sources = [{"name": source, "type": "events", "write_key": key}
                      for source, key in sorted(manifest.write_keys.items())]
    return {
        "warehouse": warehouse,
        "collect": {"spool_dir": "data/spool", "rotate_seconds": 3600},
        "sources": events_sources + source_entries,
        **destination_sections,
        "schedules": {"enabled": False},
    }


def step_collect(run: DemoRun) -> None:
    """Start the collect endpoint on a free loopback port and replay the world through HTTP."""
    from sources.collect.app import create_app
    from sources.synthetic.replay import replay

    with LoopbackServer(create_app(run.config)) as server:
        run.console.print(f"collect endpoint on {server.url}; replaying {run.world_dir} ...")
        report = replay(run.world_dir, server.url, progress=True)
    if report.failed:
        raise UserError(f"{len(report.failed)} batches could not be delivered to the collect endpoint: {report.failed[0]}")
    run.summary["events collected"] = f"{report.messages_sent:,} in {report.batches_sent:,} HTTP batches"
    if report.rejected:
        run.summary["events rejected (quarantined)"] = f"{len(report.rejected):,}"


def materialize_everything(run: DemoRun):
    """Every asset and check of the project's Definitions, in one in-process Dagster run."""
    import dagster as dg

    from dagster_project.definitions import defs

    job = defs().resolve_implicit_global_asset_job_def()
    with run.console.status("materializing every asset through Dagster (load, sources, models, syncs) ..."):
        return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                                      run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})


def read_result(run: DemoRun, result) -> dict[str, dict]:
    """Materialization metadata by asset key, and failed steps and checks into run.failures."""
    import dagster as dg

    metadata: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        metadata[materialization.asset_key.to_user_string()] = {k: v.value for k, v in materialization.metadata.items()}
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            message = root_cause(event.event_specific_data.error)
            run.failures.append(f"{event.step_key}: {message}")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                where = f"{evaluation.check_name} on {evaluation.asset_key.to_user_string()}"
                (run.warnings if evaluation.severity == dg.AssetCheckSeverity.WARN else run.failures).append(where)
    return metadata


def root_cause(error) -> str:
    """The innermost error's last line: what went wrong, not Dagster's wrapper around it."""
    while error is not None and error.cause is not None:
        error = error.cause
    return (error.message.strip().splitlines() or ["failed"])[-1] if error else "failed"


def step_dagster(run: DemoRun) -> None:
    """Write the demo's headwater.yml, start the emulators, and materialize everything."""
    from dagster_project.demo_destinations import DestinationEmulators
    from sources.emulators import Emulators

    from sources.synthetic.shift import shifted_vendor_world

    # the emulators serve the world's vendor records moved to end today, as replay does events
    sources = Emulators(shifted_vendor_world(run.world_dir, RUNTIME_DIR / "vendor-world"))
    with sources, DestinationEmulators() as destinations:
        document = demo_document(run.world_dir, run.warehouse, sources.source_entries(), destinations.config_sections())
        DEMO_CONFIG_FILE.parent.mkdir(parents=True, exist_ok=True)
        DEMO_CONFIG_FILE.write_text(yaml.safe_dump(document, sort_keys=False))
        previous = os.environ.get(CONFIG_ENV)
        os.environ[CONFIG_ENV] = str(DEMO_CONFIG_FILE)
        try:
            run.config = parse_config(document, origin=str(DEMO_CONFIG_FILE))
            step_streams(run)
            result = materialize_everything(run)
        finally:
            if previous is None:
                os.environ.pop(CONFIG_ENV, None)
            else:
                os.environ[CONFIG_ENV] = previous
    metadata = read_result(run, result)
    summarize_loads(run, metadata)
    summarize_warehouse(run)
    summarize_syncs(run, metadata)


def step_streams(run: DemoRun) -> None:
    """Forward the replayed events through the event streams and run the workflow, as
    `headwater stream` does as events arrive (here: until the spool is read to the end)."""
    from collections import Counter

    from destinations.streams.service import drain_streams, readers

    started = time.perf_counter()
    with run.console.status("forwarding the events through the event streams and workflows ..."):
        state = drain_streams(run.config)
    for name in readers(run.config):
        totals: Counter = Counter()
        for (_, outcome, _reason), n in state.counters(name).items():
            totals[outcome] += n
        if name.startswith("_"):
            runs = Counter(r["status"] for r in state.workflow_rows())
            run.streams.append(("workflows", f"{totals['triggered']:,} triggered",
                                ", ".join(f"{status} {n}" for status, n in sorted(runs.items())) or "none"))
        else:
            run.streams.append((name, f"{totals['forwarded']:,}",
                                f"filtered {totals['filtered']:,}, skipped {totals['skipped']:,}, "
                                f"dead letters {totals['dead']:,}"))
    run.timings["streams"] = time.perf_counter() - started


def summarize_loads(run: DemoRun, metadata: dict[str, dict]) -> None:
    spool = [(key, m) for key, m in metadata.items() if key.endswith("/events")]
    loaded = sum(m.get("loaded", 0) for _, m in spool)
    duplicates = sum(m.get("duplicates", 0) for _, m in spool)
    run.summary["events loaded"] = f"{loaded:,} new, {duplicates:,} duplicates skipped (already loaded)"
    pulled: dict[str, int] = {}
    for key, m in metadata.items():
        schema = key.split("/")[0]
        if schema in CLOUD_SOURCES and not key.endswith("/webhooks"):
            pulled[schema] = pulled.get(schema, 0) + int(m.get("rows_loaded") or 0)
    for schema, rows in pulled.items():
        run.summary[f"{schema} records pulled"] = f"{rows:,} new or changed"


def summarize_warehouse(run: DemoRun) -> None:
    from headwater.warehouse import Warehouse

    warehouse = Warehouse(run.config.warehouse)
    if not warehouse.table_exists("cdp", "profiles"):
        return
    people = warehouse.query("SELECT count(*) AS n FROM cdp.profiles")[0]["n"]
    identifiers = warehouse.query("SELECT count(*) AS n FROM cdp.profile_identities")[0]["n"]
    run.summary["people resolved"] = f"{people:,} profiles from {identifiers:,} identifiers"
    devices = warehouse.query("SELECT count(*) AS n FROM (SELECT profile_id FROM cdp.profile_identities "
                              "WHERE id_type = 'anonymous_id' GROUP BY profile_id HAVING count(*) > 1) joined")[0]["n"]
    merges = warehouse.query("SELECT count(*) AS n FROM cdp.profile_merges")[0]["n"] \
        if warehouse.table_exists("cdp", "profile_merges") else 0
    run.summary["profiles merged"] = (f"{devices:,} people recognised across several devices; "
                                      f"{merges:,} earlier profiles merged into others")
    if warehouse.table_exists("cdp", "conversions"):
        orders = warehouse.query("SELECT count(*) AS n FROM cdp.conversions")[0]["n"]
        run.summary["purchases (conversions)"] = f"{orders:,}"
    if warehouse.table_exists("cdp", "audience_members"):
        sizes = warehouse.query("SELECT audience, count(*) AS n FROM cdp.audience_members GROUP BY audience ORDER BY audience")
        run.summary["audience sizes"] = ", ".join(f"{r['audience']} {r['n']:,}" for r in sizes) or "none"


def summarize_syncs(run: DemoRun, metadata: dict[str, dict]) -> None:
    """One row per sync: what went to which destination, and what did not (retried next run)."""
    for sync in run.config.syncs:
        m = metadata.get(f"syncs/{sync.name}")
        what = "conversions" if sync.source.model else f"audience {sync.source.audience}"
        if m is None:
            run.deliveries.append((sync.destination, what, "not run", "-"))
            continue
        unsent = m.get("rows_failed", 0) + m.get("rows_skipped", 0)
        run.deliveries.append((sync.destination, what, f"{m.get('rows_succeeded', 0):,}", f"{unsent:,}"))


STEPS = [("collect", step_collect), ("dagster", step_dagster)]


def print_summary(run: DemoRun) -> None:
    from rich.table import Table

    from headwater.warehouse import Warehouse

    table = Table(title="Headwater demo", show_header=False, title_justify="left")
    for key, value in run.summary.items():
        table.add_row(key, value)
    table.add_row("failures", "\n".join(run.failures) or "none")
    if run.warnings:
        table.add_row("check warnings", "\n".join(run.warnings))
    table.add_row("time", ", ".join(f"{name} {seconds:.1f}s" for name, seconds in run.timings.items()))
    run.console.print(table)
    if run.deliveries:
        sent = Table(title="Sent to destinations (emulators)", title_justify="left")
        for column, justify in (("destination", "left"), ("what", "left"), ("sent", "right"),
                                ("failed or skipped", "right")):
            sent.add_column(column, justify=justify)
        for row in run.deliveries:
            sent.add_row(*row)
        run.console.print(sent)
        run.console.print("[dim]failed or skipped rows are in cdp.sync_errors with the vendor's reason "
                          "(e.g. events older than the vendor accepts); they are retried next run[/dim]")
    if run.streams:
        streamed = Table(title="Event streams and workflows (emulators)", title_justify="left")
        for column in ("stream", "forwarded", "not forwarded"):
            streamed.add_column(column)
        for row in run.streams:
            streamed.add_row(*row)
        run.console.print(streamed)
    warehouse = Warehouse(run.warehouse)
    where = warehouse.duckdb_path if warehouse.is_duckdb else warehouse.safe_url()
    run.console.print(f"\nQuery the warehouse: [bold]{where}[/bold] "
                      f"(e.g. `duckdb {where} \"select audience, count(*) from cdp.audience_members group by 1\"`)")
    run.console.print(f"Open the Dagster UI on these assets: [bold]HEADWATER_CONFIG={DEMO_CONFIG_FILE} "
                      f".venv/bin/dagster dev[/bold] (then http://127.0.0.1:3000)")


@click.command()
@click.option("--warehouse", default="duckdb:///data/warehouse.duckdb", show_default=True,
              help="warehouse URL, e.g. postgresql://postgres@127.0.0.1:5432/test")
@click.option("--world", "world", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="a synthetic world folder to replay instead of the shipped sample (see `headwater generate`)")
def demo(warehouse: str, world: Path | None) -> None:
    """Run the whole data path on the shipped sample world and print what happened."""
    console = Console()
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")  # dlt: schema-inference notes are for source authors
    world_dir = find_or_generate_world(console, world)
    run = DemoRun(world_dir, warehouse, console)
    # the collect endpoint needs only the events sources; parse once to validate the URL early
    try:
        run.config = parse_config(demo_document(world_dir, warehouse, [], {}), origin="the demo configuration")
    except ConfigError as error:
        problem = str(error).splitlines()[-1].strip().replace("Value error, ", "")
        raise UserError(f"--{problem}") from None
    for name, step in STEPS:
        started = time.perf_counter()
        step(run)
        run.timings[name] = time.perf_counter() - started
    print_summary(run)
    if run.failures:
        raise UserError(f"the demo finished with {len(run.failures)} failure(s); see the table above")
