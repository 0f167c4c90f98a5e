"""Loading the configuration for a CLI command, turning config errors into clean exits."""

from __future__ import annotations

from pathlib import Path

import click

from headwater.config import ConfigError, HeadwaterConfig, load_config


def config_option(function):
    return click.option(
        "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="headwater.yml to use (default: ./headwater.yml or $HEADWATER_CONFIG)",
    )(function)


def cli_config(config_file: Path | None) -> HeadwaterConfig:
    try:
        return load_config(config_file)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
