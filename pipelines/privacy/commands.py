"""`headwater privacy delete|suppress|unsuppress|export|process|retry|list|keygen`: thin click wrappers.

The work lives in regulations.py / export.py (also called by Dagster); here we parse
arguments and print one line per request. Identifiers are never echoed back: the output
names requests by id, so terminal logs do not become a copy of what was deleted.
"""

from __future__ import annotations

from pathlib import Path

import click

from headwater.cli import UserError
from headwater.runtime import cli_config, config_option


def _run(function, *args, **kwargs):
    from pipelines.privacy.regulations import PrivacyError

    try:
        return function(*args, **kwargs)
    except PrivacyError as error:
        raise UserError(str(error)) from None


def _show(report) -> None:
    click.echo(report.line())
    for step, target, status, detail in report.steps:
        if status != "succeeded":
            click.echo(f"  {step} {target}: {status} {detail}".rstrip())


@click.group()
def privacy() -> None:
    """Regulations (suppress, delete) and access exports, carried to every destination."""


def _regulation_command(name: str, regulation: str, help_text: str):
    @privacy.command(name=name, help=help_text)
    @config_option
    @click.option("--requested-by", default="cli", show_default=True, help="who asked, for the audit")
    @click.argument("identifiers", nargs=-1, required=True)
    def command(config_file: Path | None, requested_by: str, identifiers: tuple[str, ...]) -> None:
        from pipelines.privacy.regulations import submit

        config = cli_config(config_file)
        report = _run(submit, config, regulation, list(identifiers), requested_by=requested_by)
        _show(report)
        if report.status != "succeeded":
            raise SystemExit(1)

    return command


_regulation_command("delete", "suppress_with_delete",
                    "Delete a person everywhere (warehouse, spool, destinations) and keep them suppressed.")
_regulation_command("suppress", "suppress", "Drop a person's future events at the collect endpoint; exclude them.")
_regulation_command("unsuppress", "unsuppress", "Undo a suppress-only request (deletions cannot be undone).")


@privacy.command()
@config_option
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="the JSON file to write")
@click.argument("identifiers", nargs=-1, required=True)
def export(config_file: Path | None, output: Path, identifiers: tuple[str, ...]) -> None:
    """Write everything held about a person as one JSON file (an access request)."""
    from pipelines.privacy.export import export_person, write_export

    document = export_person(cli_config(config_file), list(identifiers))
    write_export(document, output)
    rows = sum(len(v) for v in document["tables"].values()) + len(document["identities"])
    click.echo(f"export {document['request_id']}: {len(document['profile_ids'])} profile(s), "
               f"{rows} row(s) written to {output}")


@privacy.command()
@config_option
def process(config_file: Path | None) -> None:
    """Run the regulations received at POST /v1/regulations (after `headwater load`)."""
    from pipelines.privacy.regulations import process_inbox

    reports = _run(process_inbox, cli_config(config_file))
    if not reports:
        click.echo("no regulation requests waiting")
    for report in reports:
        _show(report)


@privacy.command()
@config_option
@click.argument("request_id")
def retry(config_file: Path | None, request_id: str) -> None:
    """Re-send a deletion's failed destination steps."""
    from pipelines.privacy.regulations import retry as retry_request

    report = _run(retry_request, cli_config(config_file), request_id)
    _show(report)
    if report.status != "succeeded":
        raise SystemExit(1)


@privacy.command(name="list")
@config_option
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def list_requests(config_file: Path | None, limit: int) -> None:
    """The latest privacy requests and their status."""
    from headwater.warehouse import Warehouse
    from pipelines.privacy.store import REQUESTS, privacy_session

    with privacy_session(Warehouse(cli_config(config_file).warehouse)) as session:
        rows = session.run(f"SELECT request_id, regulation, requested_by, requested_at, status, rows_deleted "
                           f"FROM {REQUESTS} ORDER BY requested_at DESC LIMIT {int(limit)}")
    for row in rows:
        click.echo(f"{row['request_id']}  {row['regulation']:<20} {row['status']:<10} "
                   f"{row['rows_deleted'] or 0:>6} rows  {row['requested_at']}  by {row['requested_by']}")


@privacy.command()
def keygen() -> None:
    """Print a new Fernet key for privacy.encryption_key (export it as HEADWATER_PRIVACY_KEY)."""
    from pipelines.privacy.vault import new_key

    click.echo(new_key())
