"""`headwater explain IDENTIFIER` and `headwater docs` (build lives in dagster_project: it drives Dagster)."""

from __future__ import annotations

import click

from headwater.cli import UserError
from headwater.runtime import cli_config, config_option
from headwater.warehouse import Warehouse


@click.command()
@click.argument("identifier")
@config_option
def explain(identifier: str, config_file) -> None:
    """Show which edges joined IDENTIFIER (email, phone, user or anonymous id) to its profile."""
    from models.explain import explain as run_explain, render

    config = cli_config(config_file)
    try:
        explanations, rejections = run_explain(Warehouse(config.warehouse), config, identifier)
    except LookupError as error:
        raise UserError(str(error)) from None
    for line in render(explanations, rejections, identifier):
        click.echo(line)
    if not explanations and not rejections:
        raise UserError(f"{identifier!r} was never seen; check the spelling or run `headwater build`")


@click.command()
@click.option("--staging", is_flag=True, help="also document the cdp_staging tables")
def docs(staging: bool) -> None:
    """Print the documentation of every analyst table (schema cdp) as Markdown."""
    from models.docs import render_markdown

    click.echo(render_markdown(include_staging=staging))
