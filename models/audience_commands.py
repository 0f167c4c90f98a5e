"""`headwater audience preview NAME`: an audience's size, its SQL and a sample, before saving it.

Why a preview: an audience definition is checked against the real warehouse (are the trait
columns there, did anyone ever send that event) and its size seen before a sync sends it
anywhere. It evaluates as of now and writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone

import click

from headwater.cli import UserError
from headwater.runtime import cli_config, config_option
from headwater.warehouse import Warehouse

SAMPLE_SIZE = 10


@click.group()
def audience() -> None:
    """Inspect the audiences defined in headwater.yml (and the shipped defaults)."""


@audience.command("list")
@config_option
def list_audiences(config_file) -> None:
    """List the enabled audiences with their descriptions."""
    config = cli_config(config_file)
    for name, definition in config.audiences.active().items():
        click.echo(f"{name:28} {definition.description}")


@audience.command()
@click.argument("name")
@click.option("--sample", "sample_size", default=SAMPLE_SIZE, show_default=True, help="profiles to show")
@config_option
def preview(name: str, sample_size: int, config_file) -> None:
    """Print the size of audience NAME, the SQL it compiles to, and a sample of its members."""
    from models.adapter import Engine, transpile
    from models.audiences.compiler import AudienceCompiler, AudienceError

    config = cli_config(config_file)
    active = config.audiences.active()
    if name not in active:
        raise UserError(f"no audience named {name!r}; defined: {', '.join(sorted(active))} "
                        f"(add it under audiences: in headwater.yml)")
    warehouse = Warehouse(config.warehouse)
    with warehouse.connect() as connection:
        engine = Engine(connection, warehouse.dialect)
        if not engine.table_exists("cdp", "profile_identities"):
            raise UserError("the warehouse has no profiles yet; run `headwater build` first")
        compiler = AudienceCompiler(engine, active, datetime.now(timezone.utc), [s.name for s in config.sources])
        try:
            sql = compiler.sql(name)
        except AudienceError as error:
            raise UserError(str(error)) from None
        size = engine.scalar(f"SELECT COUNT(*) AS n FROM ({sql}) AS members")
        sample = engine.run(
            f"SELECT members.profile_id, MAX(emails.id_value) AS email FROM ({sql}) AS members "
            f"LEFT JOIN cdp.profile_identities AS emails ON emails.profile_id = members.profile_id "
            f"AND emails.id_type = 'email' GROUP BY members.profile_id ORDER BY members.profile_id LIMIT {int(sample_size)}")
    click.echo(f"audience {name}: {size} profiles")
    click.echo("")
    click.echo(f"-- SQL ({warehouse.dialect})")
    click.echo(transpile(sql, warehouse.dialect))
    click.echo("")
    click.echo(f"-- sample ({len(sample)} of {size})")
    for row in sample:
        click.echo(f"{row['profile_id']}  {row['email'] or ''}")
