"""`headwater build`: materialize every warehouse model through the Dagster definitions.

Why through Dagster and not a plain loop: the CLI, the schedule and the UI then run the
very same assets, and a build from the terminal shows up like any other materialization.
It runs in-process on an ephemeral instance, so no Dagster daemon or DAGSTER_HOME is needed.
"""

from __future__ import annotations

from datetime import datetime, timezone

import click

from headwater.cli import UserError
from headwater.runtime import cli_config, config_option


def parse_as_of(value: str | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"--as-of: {value!r} is not an ISO 8601 time; use e.g. 2026-01-31T00:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def materialize_models(warehouse_url: str, config_file: str | None, as_of: datetime, full_refresh: bool):
    """Run the model assets of the project's Definitions; returns Dagster's result."""
    import dagster as dg

    from dagster_project.defs.models.assets import ModelBuild, asset_key
    from dagster_project.definitions import defs
    from models.catalog import catalog

    wanted = {asset_key(model.key) for model in catalog()}
    assets = [a for a in defs().assets or [] if isinstance(a, dg.AssetsDefinition) and set(a.keys) & wanted]
    resource = ModelBuild(warehouse_url=warehouse_url, config_file=config_file, as_of=as_of.isoformat(),
                          full_refresh=full_refresh)
    return dg.materialize(
        assets, resources={"model_build": resource}, instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False, run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
    )


@click.command()
@click.option("--full-refresh", is_flag=True, help="ignore earlier builds' state and rebuild from the raw tables")
@click.option("--as-of", "as_of", default=None, help="ignore rows after this ISO time (default: now)")
@config_option
def build(full_refresh: bool, as_of: str | None, config_file) -> None:
    """Build every warehouse model (staging, identity, ...) on the configured warehouse."""
    import dagster as dg

    config = cli_config(config_file)
    moment = parse_as_of(as_of)
    result = materialize_models(config.warehouse, str(config_file) if config_file else None, moment, full_refresh)
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        rows = materialization.metadata.get("dagster/row_count")
        click.echo(f"{materialization.asset_key.to_user_string().replace('/', '.'):45} {rows.value if rows else '?':>10} rows")
    if not result.success:
        failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        message = failures[0].event_specific_data.error.message.strip().splitlines()[-1] if failures else "failed"
        step = failures[0].step_key if failures else "build"
        raise UserError(f"model {step} failed: {message}")
