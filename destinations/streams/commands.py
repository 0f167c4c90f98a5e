"""`headwater stream`: run the forwarder, preview a stream's requests, replay dead letters, status."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections import Counter
from pathlib import Path

import click

from headwater.cli import UserError
from headwater.config import ConfigError, HeadwaterConfig, find_named
from headwater.runtime import cli_config, config_option


@click.group(invoke_without_command=True)
@click.option("--only", "names", multiple=True, help="run only these streams (repeatable); default: all and workflows")
@click.option("--list", "list_streams", is_flag=True, help="print the configured streams and workflows")
@config_option
@click.pass_context
def stream(ctx: click.Context, names: tuple[str, ...], list_streams: bool, config_file: Path | None) -> None:
    """Forward events to destinations as they arrive (runs until Ctrl-C), or a subcommand."""
    if ctx.invoked_subcommand is not None:
        return
    config = cli_config(config_file)
    if list_streams:
        for entry in config.streams:
            kinds = ",".join(entry.filter.types)
            events = ",".join(entry.filter.events) or "every event"
            click.echo(f"{entry.name}\t{kinds}: {events}\t-> {entry.destination}"
                       + ("" if entry.enabled else "\t(disabled)"))
        for flow in config.workflows:
            trigger = f"audience {flow.trigger.audience} {flow.trigger.on}" if flow.trigger.audience else \
                f"event {','.join(flow.trigger.event.events) or 'any'}"
            click.echo(f"workflow {flow.name}\twhen {trigger}" + (f", wait {flow.wait}" if flow.wait else "")
                       + f"\t-> {', '.join(a.destination for a in flow.actions)}")
        return
    if not config.streams and not config.workflows:
        raise UserError("no streams or workflows in headwater.yml; add a `streams:` section (see README, Event streams)")
    for name in names:
        find_named(config.streams, name, "stream")
    _run_forever(config, list(names))


def _run_forever(config: HeadwaterConfig, names: list[str]) -> None:
    from destinations.streams.service import run_streams

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        shown: dict[str, str] = {}

        def progress(runners) -> None:
            for runner in runners:
                counts = Counter()
                for (_, outcome, _reason), n in runner.state.counters(runner.name).items():
                    counts[outcome] += n
                line = (f"{runner.name}: {runner.status}; forwarded {counts['forwarded']}, filtered "
                        f"{counts['filtered']}, skipped {counts['skipped']}, dead letters {counts['dead']}"
                        + (f", workflow runs triggered {counts['triggered']}" if counts['triggered'] else ""))
                if shown.get(runner.name) != line:
                    shown[runner.name] = line
                    click.echo(line, err=True)

        click.echo(f"streaming from {config.collect.spool_dir} (Ctrl-C stops; cursors are kept)", err=True)
        await run_streams(config, stop, names=names or None, progress=progress)

    asyncio.run(main())


@stream.command("test")
@click.argument("name")
@click.option("--event", "event_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="a JSON file with one event (or a list of events) as an app would send it")
@config_option
def test_stream(name: str, event_file: Path, config_file: Path | None) -> None:
    """Print the exact request stream NAME would send for the event(s), secrets as ***; sends nothing."""
    config = cli_config(config_file)
    entry = find_named(config.streams, name, "stream")
    try:
        events = json.loads(event_file.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{event_file}: not JSON ({error.msg} at line {error.lineno}); give one event object "
                        "or a list of them") from None
    events = events if isinstance(events, list) else [events]
    if not all(isinstance(e, dict) for e in events):
        raise UserError(f"{event_file}: every event must be a JSON object")
    from destinations.streams.preview import preview

    for line in preview(config, entry, events):
        click.echo(line)


@stream.command("replay")
@click.option("--stream", "stream_name", default=None, help="only this stream's dead letters")
@click.option("--id", "ids", multiple=True, help="only these dead letters (repeatable)")
@config_option
def replay(stream_name: str | None, ids: tuple[str, ...], config_file: Path | None) -> None:
    """Send dead-lettered events again (after fixing the transformation, mapping or credentials)."""
    config = cli_config(config_file)
    if stream_name:
        find_named(config.streams, stream_name, "stream")
    from destinations.streams.replay import replay_dead_letters

    result = asyncio.run(replay_dead_letters(config, stream_name, list(ids)))
    if not result:
        click.echo("no dead letters waiting" + (f" for stream {stream_name}" if stream_name else ""))
        return
    for status, count in sorted(Counter(result.values()).items()):
        click.echo(f"{status}: {count}")


@stream.command("status")
@config_option
def status(config_file: Path | None) -> None:
    """Per stream: events forwarded, filtered, skipped (why) and dead-lettered; files not yet read."""
    config = cli_config(config_file)
    from destinations.streams.service import stream_status

    for line in stream_status(config):
        click.echo(line)
