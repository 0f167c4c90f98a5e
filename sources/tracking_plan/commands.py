"""`headwater plan infer|check|codegen`: draft a plan, test events against it, generate helpers.

Thin click wrappers: the work lives in plan.py, enforce.py, codegen.py and (for infer,
which reads the warehouse) pipelines/plan_infer.py, imported when the command runs.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import click
import orjson
import yaml

from headwater.cli import UserError
from headwater.runtime import cli_config, config_option
from sources.tracking_plan.config import SourcePlanConfig


def _plan_entry(config_file: Path | None, plan_file: Path | None, source: str | None) -> SourcePlanConfig:
    """The plan and policies to use: `--plan FILE` (default policies) or a source's `tracking_plan` entry."""
    if plan_file is not None:
        return SourcePlanConfig(plan=plan_file)
    entries = cli_config(config_file).tracking_plan.sources
    if source is None:
        if len(entries) != 1:
            raise UserError("say which plan: --plan FILE, or --source NAME of a source listed under "
                            f"tracking_plan.sources (configured: {', '.join(entries) or 'none'})")
        source = next(iter(entries))
    if source not in entries:
        raise UserError(f"--source {source!r} has no tracking plan; add it under tracking_plan.sources in "
                        f"headwater.yml (configured: {', '.join(entries) or 'none'})")
    return entries[source]


def plan_options(function):
    function = click.option("--source", default=None, help="use this source's plan and policies from headwater.yml")(function)
    function = click.option("--plan", "plan_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                            help="a plan file (default policies), instead of --source")(function)
    return config_option(function)


@click.group()
def plan() -> None:
    """Tracking plans: infer one from the warehouse, check events offline, generate typed helpers."""


@plan.command()
@config_option
@click.option("--source", required=True, help="the events source whose loaded events to describe")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the plan here (default: print it)")
@click.option("--force", is_flag=True, help="overwrite --output if it exists")
def infer(config_file: Path | None, source: str, output: Path | None, force: bool) -> None:
    """Write a plan from the events already in the warehouse (review it before enforcing)."""
    from headwater.warehouse import Warehouse
    from pipelines.plan_infer import infer_plan  # the CLI sits on top; the warehouse layout is the loader's

    config = cli_config(config_file)
    config.source(source)
    drafted = infer_plan(Warehouse(config.warehouse), source)
    if not drafted:
        raise UserError(f"source {source!r} has no loaded events to infer a plan from; run `headwater load` first")
    text = (f"# tracking plan drafted by `headwater plan infer --source {source}` from the warehouse;\n"
            f"# property names are warehouse column names: review before enforcing\n"
            + yaml.safe_dump(drafted, sort_keys=False, allow_unicode=True))
    if output is None:
        click.echo(text, nl=False)
        return
    if output.exists() and not force:
        raise UserError(f"{output} exists; pass --force to overwrite it")
    output.write_text(text)
    events = len(drafted.get("track", {}))
    click.echo(f"wrote {output}: {events} track event(s), sections {', '.join(drafted)}")


def _messages(path: Path) -> list[Any]:
    try:
        document = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"{path} does not exist") from None
    except orjson.JSONDecodeError as error:
        raise UserError(f"{path} is not valid JSON: {error}") from None
    if isinstance(document, dict) and isinstance(document.get("batch"), list):
        return document["batch"]
    return document if isinstance(document, list) else [document]


@plan.command()
@click.argument("event_file", type=click.Path(dir_okay=False, path_type=Path))
@plan_options
def check(event_file: Path, config_file: Path | None, plan_file: Path | None, source: str | None) -> None:
    """Check a JSON file of events (one message, a list, or {"batch": [...]}) against a plan.

    Exit code 0: every message keeps the plan; 1: some break it or the Tracking API's rules.
    """
    from sources.collect.messages import InvalidMessage, validate
    from sources.tracking_plan.enforce import Enforcer
    from sources.tracking_plan.plan import load_plan

    entry = _plan_entry(config_file, plan_file, source)
    enforcer = Enforcer(load_plan(entry.plan), entry)
    messages = _messages(event_file)
    broken = 0
    for index, raw in enumerate(messages):
        try:
            message = validate(copy.deepcopy(raw))
        except InvalidMessage as error:
            broken += 1
            click.echo(f"message {index}: invalid: {error.field}: {error.reason}")
            continue
        label = f"{message['type']} {message.get('event')!r}" if message["type"] == "track" else message["type"]
        found = enforcer.violations(message)
        if found:
            broken += 1
        for violation, name, description in found:
            where = f" {name}" if name else ""
            click.echo(f"message {index} ({label}): {violation}{where}: {description} "
                       f"[policy: {enforcer.policy[violation]}]")
    click.echo(f"{len(messages)} message(s) checked against {entry.plan}: "
               f"{broken} with problems" if broken else
               f"{len(messages)} message(s) checked against {entry.plan}: all keep the plan")
    sys.exit(1 if broken else 0)


@plan.command()
@plan_options
@click.option("--python", "python_", is_flag=True, required=True, help="emit Python (dataclasses); the only target")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the module here (default: print it)")
def codegen(config_file: Path | None, plan_file: Path | None, source: str | None, python_: bool,
            output: Path | None) -> None:
    """Generate typed helpers (one dataclass per planned event) for sending events that keep the plan."""
    from sources.tracking_plan.codegen import python_module
    from sources.tracking_plan.plan import load_plan

    entry = _plan_entry(config_file, plan_file, source)
    text = python_module(load_plan(entry.plan), str(entry.plan))
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text)
    click.echo(f"wrote {output}")
