"""`headwater pull` (run the configured cloud sources) and `headwater emulators` (serve them locally).

Why here: `pull` drives pipelines.cloud_sources, so it sits in pipelines/; `emulators` is
its companion for demos, starting the vendor emulators that ship inside sources/.
Errors a user can fix (a missing key, a rejected key, an unreachable API) are one line
naming the source and the fix, found by unwrapping dlt's step failure to the cause.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from headwater.cli import UserError
from headwater.config import HeadwaterConfig
from headwater.redaction import redact, secret_values
from headwater.runtime import cli_config, config_option
from pipelines.cloud_sources import SOURCE_FACTORIES, SourceRunReport, run_sources
from sources.vendor_http import VendorError

def user_facing_cause(error: BaseException) -> str | None:
    """The one-line message of a fixable failure somewhere in the exception chain, if any."""
    import httpx

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, VendorError):
            return str(current)
        if isinstance(current, httpx.ConnectError):
            return f"cannot reach the API ({current.__class__.__name__}); check the network or the source's base_url"
        current = current.__cause__ or current.__context__ or getattr(current, "exception", None)
    return None


def pick_entries(config: HeadwaterConfig, names: tuple[str, ...]) -> list:
    cloud = [s for s in config.sources if s.type in SOURCE_FACTORIES]
    if not cloud:
        raise UserError("no cloud sources configured: add a source with type shopify, stripe or mailchimp "
                        "to the sources section of headwater.yml")
    known = {s.name for s in cloud}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UserError(f"no cloud source named {unknown[0]!r} in headwater.yml; configured: {', '.join(sorted(known))}")
    return [s for s in cloud if not names or s.name in names]


def summary_table(reports: list[SourceRunReport]) -> Table:
    table = Table(title="rows loaded")
    for column in ("source", "table", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for report in reports:
        for name, rows in sorted(report.rows_by_table.items()) or [("(no changes)", 0)]:
            table.add_row(report.source, name, str(rows))
    return table


@click.command()
@click.argument("names", nargs=-1)
@config_option
def pull(names: tuple[str, ...], config_file: Path | None) -> None:
    """Load the configured cloud sources (all, or the NAMES given) into the warehouse."""
    config = cli_config(config_file)
    console, errors = Console(stderr=True), Console(stderr=True, highlight=False)
    reports: list[SourceRunReport] = []
    failures: list[str] = []
    for entry in pick_entries(config, names):
        started = time.perf_counter()
        with console.status(f"pulling {entry.name} ({entry.type})..."):
            try:
                [report] = run_sources(config, [entry.name])
            except Exception as error:  # noqa: BLE001 - reported as one line below, or re-raised
                message = user_facing_cause(error)
                if message is None:
                    raise
                message = redact(message, secret_values(entry))   # a vendor may echo the token back
                failures.append(f"{entry.name}: {message}")
                errors.print(f"error: {entry.name}: {message}", markup=False, soft_wrap=True)
                continue
        reports.append(report)
        console.print(f"{entry.name}: {report.rows} rows in {time.perf_counter() - started:.1f}s")
    if reports:
        Console().print(summary_table(reports))
    if failures:
        raise click.exceptions.Exit(2)


@click.command()
@click.option("--world", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="a synthetic world (headwater generate --out DIR) whose vendor records to serve")
@click.option("--port", type=int, default=12111, show_default=True,
              help="Shopify's port; Stripe uses port+1, Mailchimp port+2")
@click.option("--host", default="127.0.0.1", show_default=True)
def emulators(world: Path | None, port: int, host: str) -> None:
    """Serve the Shopify, Stripe and Mailchimp emulators until Ctrl-C (for demos and manual tests)."""
    import signal

    import yaml

    from sources.emulators import EMULATORS, Emulators

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop cleanly on kill, like Ctrl-C
    ports = {spec.vendor: port + offset for offset, spec in enumerate(EMULATORS)}
    running = Emulators(world, host=host, ports=ports)
    try:
        running.start()
    except (OSError, RuntimeError, TimeoutError) as error:
        raise UserError(f"cannot start the emulators on {host}:{port}-{port + len(EMULATORS) - 1} ({error}); "
                        f"pick other ports with --port") from None
    try:
        click.echo("emulators running; add these to the `sources` section of headwater.yml:\n")
        click.echo(yaml.safe_dump(running.source_entries(), sort_keys=False))
        click.echo("serving; press Ctrl-C to stop")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
