"""`headwater generate`, `headwater replay` and `headwater score-identity`.

Thin click wrappers: parse, call the library, print. Every user-fixable problem becomes
one `error: ...` line (headwater.cli.UserError), never a stack trace.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from headwater.cli import UserError

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def _parse_rate(ctx, param, values: tuple[str, ...]) -> dict[str, float]:
    rates: dict[str, float] = {}
    for value in values:
        name, sep, number = value.partition("=")
        try:
            rates[name.strip()] = float(number)
        except ValueError:
            raise click.BadParameter(f"{value!r}: write NAME=FRACTION, e.g. shared_device=0.05") from None
        if not sep:
            raise click.BadParameter(f"{value!r}: write NAME=FRACTION, e.g. shared_device=0.05")
    return rates


@click.command()
@click.option("--people", type=click.IntRange(min=2), required=True, help="how many people the world holds")
@click.option("--seed", type=int, default=1, show_default=True, help="same seed, same world (byte for byte)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="folder to write (layout: sources/synthetic/FORMAT.md)")
@click.option("--end", default=None, help="last moment of the world, e.g. 2026-11-01 (default: now)")
@click.option("--months", type=click.IntRange(1, 60), default=6, show_default=True, help="how far back the world starts")
@click.option("--rate", "rates", multiple=True, callback=_parse_rate,
              help="override an adversarial rate, e.g. --rate shared_device=0.05 (repeatable)")
@click.option("--gzip", "compress", is_flag=True, help="gzip event batches and vendor files (.gz)")
@click.option("--quiet", is_flag=True, help="no progress display")
def generate(people: int, seed: int, out_dir: Path, end: str | None, months: int, rates: dict, compress: bool,
             quiet: bool) -> None:
    """Write a synthetic customer world: Segment events, vendor records, ground truth."""
    from pydantic import ValidationError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from sources.synthetic.clock import parse_end
    from sources.synthetic.settings import WorldRates
    from sources.synthetic.world import WorldError, generate_world

    try:
        world_rates = WorldRates.model_validate(rates)
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        known = ", ".join(WorldRates.model_fields)
        raise UserError(f"--rate {name}: {first['msg']} (known rates: {known})") from None
    try:
        end_time = parse_end(end)
    except ValueError:
        raise UserError(f"--end {end!r}: use a date or ISO time, e.g. 2026-11-01 or 2026-11-01T12:00:00Z") from None
    progress = Progress(TextColumn("generating people"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        disable=quiet)
    try:
        with progress:
            task = progress.add_task("people", total=people)
            manifest = generate_world(out_dir, people, seed, end=end_time, months=months, rates=world_rates,
                                      compress=compress, progress=lambda done: progress.update(task, completed=done))
    except WorldError as error:
        raise UserError(str(error)) from None
    events = manifest.counts["events"]
    click.echo(f"wrote {people} people, {sum(events.values())} events "
               f"({', '.join(f'{s} {n}' for s, n in events.items())}) to {out_dir}; "
               f"world {manifest.start} .. {manifest.end}")


@click.command()
@click.argument("world_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--url", default="http://127.0.0.1:8088", show_default=True, help="collect endpoint base URL")
@click.option("--write-key", "write_keys", multiple=True, help="SOURCE=KEY (default: keys from the manifest)")
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--no-shift", is_flag=True, help="keep the original times instead of ending the world now")
@click.option("--quiet", is_flag=True, help="no progress display")
def replay(world_dir: Path, url: str, write_keys: tuple[str, ...], concurrency: int, no_shift: bool,
           quiet: bool) -> None:
    """Send a world's events to a running collect endpoint, as the apps would have."""
    from sources.synthetic.replay import replay as run_replay
    from sources.synthetic.world import WorldError

    keys = {}
    for item in write_keys:
        source, sep, key = item.partition("=")
        if not sep or not source or not key:
            raise UserError(f"--write-key expects SOURCE=KEY (e.g. website=abc123), got {source or item!r}=...")
        keys[source] = key
    try:
        report = run_replay(world_dir, url, keys, concurrency=concurrency, shift_to_now=not no_shift,
                            progress=not quiet)
    except WorldError as error:
        raise UserError(str(error)) from None
    click.echo(f"sent {report.messages_sent} messages in {report.batches_sent} batches "
               f"({report.seconds:.1f}s, {report.retries} retries, times shifted {report.shift_seconds / 86400:.1f} days)")
    for rejection in report.rejected + report.failed:
        click.echo(f"  {rejection.file}: HTTP {rejection.status or 'no response'}: {rejection.error}", err=True)
    if report.rejected or report.failed:
        raise UserError(f"{len(report.rejected)} batches rejected, {len(report.failed)} failed after retries "
                        f"(is the collect endpoint at {url} up, and are the write keys right?)")


def _resolved_from_warehouse(warehouse_arg: str | None, table: str):
    import polars as pl

    from headwater.config import ConfigError, load_config
    from headwater.warehouse import Warehouse

    if not _TABLE.match(table):
        raise UserError(f"--table {table!r}: use schema.table, e.g. cdp.profile_identities")
    try:
        if warehouse_arg and warehouse_arg.startswith(("duckdb://", "postgresql://", "postgres://")):
            warehouse = Warehouse(warehouse_arg)
        else:
            warehouse = Warehouse(load_config(warehouse_arg).warehouse)
        schema, _, name = table.rpartition(".")
        if not warehouse.table_exists(schema or "main", name):
            raise UserError(f"--table {table}: no such table in {warehouse.safe_url()}; build the identity models "
                            f"first or pass --file")
        rows = warehouse.query(f"SELECT CAST(profile_id AS VARCHAR) AS profile_id, id_type, id_value FROM {table}")
    except ConfigError as error:
        raise UserError(str(error)) from None
    return pl.DataFrame(rows, schema={"profile_id": pl.Utf8, "id_type": pl.Utf8, "id_value": pl.Utf8})


def _resolved_from_file(path: Path):
    import polars as pl

    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False)
    raise UserError(f"--file {path}: use a .csv or .parquet file with columns profile_id, id_type, id_value")


@click.command("score-identity")
@click.option("--truth", "truth_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="the generated world whose truth/ to score against")
@click.option("--warehouse", "warehouse_arg", default=None,
              help="warehouse URL or headwater.yml path (default: the configured warehouse)")
@click.option("--table", default="cdp.profile_identities", show_default=True)
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="read (profile_id, id_type, id_value) from a CSV or parquet file instead")
@click.option("--worst", type=click.IntRange(0, 100), default=5, show_default=True, help="offenders to list")
@click.option("--json", "as_json", is_flag=True, help="print the score as JSON")
def score_identity(truth_dir: Path, warehouse_arg: str | None, table: str, file_path: Path | None, worst: int,
                   as_json: bool) -> None:
    """Compare resolved identities with the ground truth: pairwise precision, recall, F1."""
    from dataclasses import asdict

    from sources.synthetic.scoring import ScoringError
    from sources.synthetic.scoring import score_identity as run_score

    resolved = _resolved_from_file(file_path) if file_path else _resolved_from_warehouse(warehouse_arg, table)
    try:
        score = run_score(resolved, truth_dir, worst=worst)
    except ScoringError as error:
        raise UserError(str(error)) from None
    if as_json:
        click.echo(json.dumps(asdict(score), indent=2))
        return
    click.echo(f"precision {score.precision:.4f}  recall {score.recall:.4f}  F1 {score.f1:.4f}")
    if score.linkable_recall is None:
        click.echo("linkable recall: n/a (this truth has no link groups; regenerate the world to get them)")
    else:
        click.echo(f"linkable recall {score.linkable_recall:.4f} ({score.correct_linkable_pairs} of "
                   f"{score.linkable_pairs} pairs that records tie together; the rest no resolver can join)")
        click.echo(f"recall ceiling {score.recall_ceiling:.4f} (plain recall of a resolver joining every chain "
                   f"of records and guessing nothing)")
    click.echo(f"pairs: {score.correct_pairs} correct of {score.predicted_pairs} predicted, {score.true_pairs} true; "
               f"identifiers scored {score.identifiers_scored} ({score.identifiers_missing} missing from resolution)")
    click.echo(f"people {score.people}, profiles {score.profiles}: over-merged people {score.over_merged_people}, "
               f"split people {score.split_people}")
    for offender in score.worst_over_merged:
        click.echo(f"  over-merged profile {offender['profile_id']}: {offender['people']} people, "
                   f"{offender['identifiers']} identifiers")
    for offender in score.worst_split:
        click.echo(f"  split person {offender['person_id']}: {offender['profiles']} profiles, "
                   f"{offender['identifiers']} identifiers")
