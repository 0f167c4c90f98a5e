"""`headwater serve`: run the collect endpoint."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from headwater.runtime import cli_config, config_option


def create_app_from_environment():
    """Uvicorn's factory in each worker process: the config path travels in the environment."""
    from sources.collect.app import create_app

    return create_app()


@click.command()
@config_option
@click.option("--host", default=None, help="interface to bind (default: collect.host, 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port to bind (default: collect.port, 8088)")
@click.option("--workers", type=int, default=None, help="server processes; each spools to its own file")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(config_file: Path | None, host: str | None, port: int | None, workers: int | None, log_level: str) -> None:
    """Run the Segment-compatible collect endpoint (answers 200 once events are fsync'd)."""
    import uvicorn

    config = cli_config(config_file)
    if not config.events_sources():
        raise click.ClickException(
            "no events source is configured: add one to `sources` in headwater.yml, e.g.\n"
            "  sources:\n    - name: website\n      type: events\n      write_key: ${WEBSITE_WRITE_KEY}")
    from sources.tracking_plan.enforce import enforcers

    enforcers(config.tracking_plan)  # a bad plan file stops here with its field named, not in a worker
    if config_file is not None:
        os.environ["HEADWATER_CONFIG"] = str(config_file.resolve())
    host = host or config.collect.host
    port = port or config.collect.port
    workers = workers or config.collect.workers
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="headwater-metrics-")
    click.echo(f"collect endpoint on http://{host}:{port} ({workers} worker(s)), spooling to "
               f"{config.collect.spool_dir}; sources: {', '.join(s.name for s in config.events_sources())}")
    uvicorn.run("sources.collect.commands:create_app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, access_log=False, lifespan="on",
                timeout_graceful_shutdown=10)
