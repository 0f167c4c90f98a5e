"""`headwater load` and `headwater quarantine list|replay`: thin click wrappers.

The work lives in spool_loader / quarantine / quarantine_replay (also called by Dagster
and the demo); here we only parse options, show progress and print short summaries.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from headwater.cli import UserError
from headwater.config import ConfigError
from headwater.runtime import cli_config, config_option


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@click.command()
@config_option
@click.option("--files-per-load", type=click.IntRange(min=1), default=8, show_default=True,
              help="spool files per dlt load (bounds memory)")
def load(config_file: Path | None, files_per_load: int) -> None:
    """Load all closed spool files into the warehouse (deduplicated on messageId)."""
    from pipelines.spool_loader import LoadError, load_spool

    config = cli_config(config_file)
    console = _console()
    with Progress(TextColumn("loading spool files"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("load", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = load_spool(config, files_per_load=files_per_load, progress=advance)
        except LoadError as error:
            raise UserError(f"{error}; the files stay in the spool, run `headwater load` again") from None
    if not report.files:
        console.print(f"nothing to load: no closed spool files in {config.collect.spool_dir}")
        return
    console.print(f"loaded {report.files} spool file(s): {report.loaded} new message(s), "
                  f"{report.duplicates} duplicate(s) skipped, {report.quarantined} quarantined")
    if report.violations:
        console.print(f"{report.violations} tracking-plan violation(s) recorded: see cdp.tracking_plan_violations")
    if report.torn_bytes:
        console.print(f"skipped {report.torn_bytes} byte(s) of torn records at file ends (never acknowledged)")
    table = Table("source", "table", "new rows", box=None, pad_edge=False)
    for source in report.sources.values():
        for name, rows in sorted(source.rows_by_table.items()):
            table.add_row(source.source, name, str(rows))
        if source.users_refreshed:
            table.add_row(source.source, "users (refreshed)", str(source.users_refreshed))
    if table.row_count:
        console.print(table)
    if report.quarantined:
        console.print("see why with `headwater quarantine list`")


@click.group()
def quarantine() -> None:
    """Inspect and replay messages that were refused, with their reasons."""


def _short(text: str | None, width: int) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


@quarantine.command("list")
@config_option
@click.option("--source", default=None, help="only this source's quarantine")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def list_command(config_file: Path | None, source: str | None, limit: int) -> None:
    """Show quarantined rows, newest first, with the reason for each."""
    from pipelines.quarantine import list_quarantined

    config = cli_config(config_file)
    try:
        rows = list_quarantined(config, source, limit)
    except ConfigError as error:
        raise UserError(str(error)) from None
    console = _console()
    if not rows:
        console.print("the quarantine is empty")
        return
    for row in rows:  # one block per row: reasons are long and must never be cut
        received = row["received_at"].strftime("%Y-%m-%d %H:%M:%S") if row["received_at"] else "?"
        console.print(f"[bold]{row['id']}[/bold]  {row['source']}  messageId={row['message_id'] or '-'}  "
                      f"received {received}  (refused by {row['rejected_by'] or '?'})")
        console.print(f"  reason: {escape(row['reason'] or '')}")
        console.print(f"  payload: {escape(_short(row['payload'], 160))}")
    console.print(f"{len(rows)} row(s); replay with `headwater quarantine replay [--source NAME] [--id ID]`")


@quarantine.command("replay")
@config_option
@click.option("--source", default=None, help="only this source's quarantine")
@click.option("--id", "ids", multiple=True, help="a quarantine id (as listed) or a messageId; repeatable")
def replay_command(config_file: Path | None, source: str | None, ids: tuple[str, ...]) -> None:
    """Re-check quarantined messages; spool the ones that now pass for the next load."""
    from pipelines.quarantine_replay import replay_quarantined

    config = cli_config(config_file)
    try:
        report = replay_quarantined(config, source, list(ids) or None)
    except ConfigError as error:
        raise UserError(str(error)) from None
    console = _console()
    if report.respooled:
        console.print(f"re-spooled {len(report.respooled)} message(s) to {report.spool_file}; "
                      f"run `headwater load` to load them")
    for row, why in report.still_failing:
        console.print(f"still failing: {row['id']} ({row['message_id'] or 'no messageId'}): {why}")
    if not report.respooled and not report.still_failing:
        console.print("nothing to replay: no quarantined rows matched")
