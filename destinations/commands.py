"""`headwater sync` and `headwater destination test`: run, preview and check reverse-ETL syncs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import httpx

from destinations.base import CredentialProblem
from headwater.cli import UserError
from headwater.config import ConfigError, find_named
from headwater.runtime import cli_config, config_option


@click.command()
@click.argument("name", required=False)
@click.option("--list", "list_syncs", is_flag=True, help="print the configured syncs, one a line, name first")
@click.option("--dry-run", is_flag=True, help="send nothing; with --plan, write the requests it would send")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON-lines file for the planned requests (secrets as \"***\")")
@click.option("--full", is_flag=True, help="plan or send as if nothing had been delivered before")
@config_option
def sync(name: str | None, list_syncs: bool, dry_run: bool, plan_file: Path | None, full: bool,
         config_file: Path | None) -> None:
    """Run one sync NAME (diff, send, log), or --list them."""
    config = cli_config(config_file)
    if list_syncs:
        for entry in config.syncs:
            source = f"audience:{entry.source.audience}" if entry.source.audience else f"model:{entry.source.model}"
            click.echo(f"{entry.name}\t{source}\t-> {entry.destination}\t{entry.mode}\t{entry.schedule or 'manual'}")
        return
    if not name:
        raise UserError("give a sync NAME to run, or --list to see them")
    if plan_file is not None and not dry_run:
        raise UserError("--plan writes the requests a dry run would send; add --dry-run")
    from destinations.engine import SyncError, run_sync

    try:
        report = run_sync(config, name, dry_run=dry_run, plan_path=plan_file, full=full)
    except (ConfigError, SyncError) as error:
        raise UserError(str(error)) from None
    click.echo(report.line())
    if dry_run and plan_file is not None:
        click.echo(f"plan: {plan_file} ({report.requests} requests, nothing sent)")
    if report.status == "failed":
        raise UserError(f"sync {name} failed: {report.message}")


@click.group()
def destination() -> None:
    """Check configured destinations."""


@destination.command("test")
@click.argument("name")
@config_option
def test_destination(name: str, config_file: Path | None) -> None:
    """Check destination NAME's credentials with a harmless call."""
    config = cli_config(config_file)
    from destinations.engine import make_destination

    try:
        instance = make_destination(find_named(config.destinations, name, "destination"))
    except ConfigError as error:
        raise UserError(str(error)) from None

    async def check() -> str:
        async with httpx.AsyncClient(timeout=30.0) as client:
            return await instance.check_credentials(client)

    try:
        click.echo(f"{name}: ok: {asyncio.run(check())}")
    except CredentialProblem as problem:
        raise UserError(f"{name}: {instance.redact(str(problem))}") from None
    except httpx.TransportError as error:
        raise UserError(f"{name}: cannot reach {instance.base_url} ({error.__class__.__name__}); "
                        f"check base_url and the network") from None
