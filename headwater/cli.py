"""The `headwater` command.

Each feature keeps its commands beside its code; this module only lists them, and imports
a command's module when that command runs, so `headwater --help` stays quick and a
broken optional feature cannot break the others. Errors that users can fix are printed
as one clear line, never as a stack trace.
"""

from __future__ import annotations

import sys

import click

from headwater.config import ConfigError
from headwater.import_target import import_target

# command name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "serve": "sources.collect.commands:serve",
    "load": "pipelines.commands:load",
    "quarantine": "pipelines.commands:quarantine",
    "demo": "dagster_project.demo:demo",
    "sync": "destinations.commands:sync",
    "destination": "destinations.commands:destination",
    "pull": "pipelines.cloud_commands:pull",
    "emulators": "pipelines.cloud_commands:emulators",
    "generate": "sources.synthetic.commands:generate",
    "replay": "sources.synthetic.commands:replay",
    "score-identity": "sources.synthetic.commands:score_identity",
    "build": "dagster_project.build:build",
    "explain": "models.commands:explain",
    "docs": "models.commands:docs",
    "privacy": "pipelines.privacy.commands:privacy",
    "audience": "models.audience_commands:audience",
    "status": "dagster_project.status:status",
    "plan": "sources.tracking_plan.commands:plan",
    "stream": "destinations.streams.commands:stream",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        return import_target(target)


class UserError(click.ClickException):
    """An error the user can fix; shown as `error: ...` with exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="headwater")
def cli() -> None:
    """Headwater: a warehouse-first customer data platform."""


def main() -> None:
    try:
        cli(standalone_mode=True)
    except ConfigError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
