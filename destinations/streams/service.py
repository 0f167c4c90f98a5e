"""`headwater stream`: every enabled stream and workflow side by side, until stopped.

Each stream (and the workflow engine) runs as its own task over its own cursors; this module
starts them, copies their state to the warehouse now and then, removes archived spool files
every reader has passed (unless `collect.archive` keeps them), and reports progress.
Imports destinations.streams and sources.collect.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from destinations.delivery import Timing
from destinations.streams.forwarder import StreamRunner
from destinations.streams.publish import try_publish
from destinations.streams.state import StreamState
from headwater.config import HeadwaterConfig
from headwater.suppression import SuppressionList
from headwater.warehouse import Warehouse
from sources.collect.spool import ARCHIVE
from sources.collect.tail import SpoolTail

log = logging.getLogger("headwater.streams")


def readers(config: HeadwaterConfig) -> list[str]:
    """The cursor names that must pass a spool file before it may leave: streams and workflows."""
    names = [s.name for s in config.streams if s.enabled]
    if any(w.enabled for w in config.workflows):
        from destinations.streams.workflows import WORKFLOW_READER

        names.append(WORKFLOW_READER)
    return names


def retire_passed_files(config: HeadwaterConfig, state: StreamState) -> list[str]:
    """Delete archived spool files every reader has finished (they were kept only for streams)."""
    if config.collect.archive:
        return []
    names = readers(config)
    cursors = {name: state.cursors(name) for name in names}
    retired = []
    folder = Path(config.collect.spool_dir) / ARCHIVE
    for file, where in SpoolTail(config.collect.spool_dir).files().items():
        if where != ARCHIVE:
            continue
        if all(cursors[name].get(file, (0, False))[1] for name in names):
            try:
                os.unlink(folder / file)
            except FileNotFoundError:
                pass
            state.forget_file(file)
            retired.append(file)
    return retired


def try_audience_triggers(config: HeadwaterConfig, warehouse: Warehouse, state: StreamState) -> int:
    """Runs started from audience changes since the last look; 0 while the warehouse is busy."""
    from destinations.state import SqlSession
    from destinations.streams.workflows import audience_triggers

    try:
        with warehouse.connect() as connection:
            return audience_triggers(config, state, SqlSession(connection, warehouse.dialect))
    except Exception as error:  # noqa: BLE001 - busy, or no build yet: looked at again later
        log.debug("audience triggers not read yet: %s", error.__class__.__name__)
        return 0


def build_runners(config: HeadwaterConfig, state: StreamState, names: list[str] | None = None, **options) -> list:
    suppression = SuppressionList(config.privacy.suppression_file)
    runners: list = [StreamRunner(config, stream, state, suppression=suppression, **options)
                     for stream in config.streams if stream.enabled and (not names or stream.name in names)]
    if any(w.enabled for w in config.workflows) and not names:
        from destinations.streams.workflows import WorkflowEngine

        runners.append(WorkflowEngine(config, state, suppression=suppression, **options))
    return runners


async def run_streams(config: HeadwaterConfig, stop: asyncio.Event, *, names: list[str] | None = None,
                      transport: httpx.AsyncBaseTransport | None = None, timing: Timing | None = None,
                      poll_seconds: float = 0.05, publish_seconds: float = 10.0,
                      progress: Callable[[list], None] | None = None, state: StreamState | None = None) -> None:
    state = state or StreamState(config.collect.spool_dir)
    runners = build_runners(config, state, names, transport=transport, timing=timing)
    warehouse = Warehouse(config.warehouse)
    tasks = [asyncio.create_task(runner.run(stop, poll_seconds), name=getattr(runner, "name", "stream"))
             for runner in runners]

    async def housekeeping() -> None:
        last = 0.0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
            retire_passed_files(config, state)
            if progress is not None:
                progress(runners)
            if time.monotonic() - last >= publish_seconds:
                last = time.monotonic()
                await asyncio.to_thread(try_publish, warehouse, state)
                if any(w.enabled and w.trigger.audience for w in config.workflows):
                    await asyncio.to_thread(try_audience_triggers, config, warehouse, state)

    keeper = asyncio.create_task(housekeeping())
    try:
        done, _ = await asyncio.wait(tasks + [keeper], return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()
    finally:
        stop.set()
        for task in tasks + [keeper]:
            task.cancel()
        await asyncio.gather(*tasks, keeper, return_exceptions=True)
        try_publish(warehouse, state)


def stream_status(config: HeadwaterConfig, state: StreamState | None = None) -> list[str]:
    """One line per stream and workflow reader: counters, and spool files it has not finished."""
    state = state or StreamState(config.collect.spool_dir)
    files = SpoolTail(config.collect.spool_dir).files()
    lines = []
    for name in readers(config):
        cursors = state.cursors(name)
        behind = sum(1 for file in files if not cursors.get(file, (0, False))[1])
        counts = state.counters(name)
        totals: dict[str, int] = {}
        for (_, outcome, _reason), n in counts.items():
            totals[outcome] = totals.get(outcome, 0) + n
        lines.append(f"{name}: " + ", ".join(f"{outcome} {n}" for outcome, n in sorted(totals.items()))
                     + f"; spool files not yet read to the end: {behind}")
        for (_, outcome, reason), n in sorted(counts.items()):
            if reason and outcome != "forwarded":
                lines.append(f"  {outcome} ({reason}): {n}")
    pending = state.dead_letters(pending=True)
    lines.append(f"dead letters waiting for `headwater stream replay`: {len(pending)}")
    return lines


def drain_streams(config: HeadwaterConfig, state: StreamState | None = None, **options) -> StreamState:
    """Forward everything in the spool now, act on every due workflow run, copy the state to the
    warehouse, and return: the demo's (and a one-off catch-up's) way to run streams to the end."""
    state = state or StreamState(config.collect.spool_dir)

    async def catch_up() -> None:
        for runner in build_runners(config, state, **options):
            async with runner:
                while (await runner.step()).frames:
                    pass
                await runner.idle()

    asyncio.run(catch_up())
    try_publish(Warehouse(config.warehouse), state)
    return state
