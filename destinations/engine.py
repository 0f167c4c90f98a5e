"""Run one sync: snapshot the source, plan the diff, deliver it, remember it, log it.

The order is what makes "diff, don't resend" safe: state (delivered__S) is written only
after the vendor answered, and only for the rows it accepted, so a crash or a failed row
means "send again next run", never "lost". Every run leaves one cdp.sync_runs row and
one cdp.sync_errors row per failed or skipped row; neither ever holds a secret.
Imports headwater (kernel) and the destinations modules.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from destinations.base import Batch, Destination, DestinationAuthError, RunContext, SkipRow
from destinations.config import DestinationConfig, SyncConfig
from destinations.delivery import Deliverer, PlanWriter, Timing, authorize
from destinations.registry import destination_class
from destinations.snapshot import SyncDefinitionError, build_snapshot, settings_digest
from destinations.state import (CONSENTED, SqlSession, build_plan, commit_delivery, ensure_log_tables, planned_rows,
                               release_lease, take_lease)
from headwater.config import ConfigError, HeadwaterConfig, find_named
from headwater.warehouse import Warehouse

STREAM_CHUNK = 50_000
LEASE_SECONDS = 6 * 3600  # a run holding a sync longer than this is presumed dead
BOOKKEEPING = frozenset({"row_key", "fingerprint", "delivered_at", CONSENTED})


class SyncError(Exception):
    """A sync could not run; the message is one line a user can act on."""


@dataclass
class SyncRunReport:
    run_id: str
    sync: str
    destination: str
    status: str = "succeeded"
    rows_planned: int = 0
    rows_sent: int = 0
    rows_succeeded: int = 0
    rows_failed: int = 0
    rows_skipped: int = 0
    requests: int = 0
    retries: int = 0
    upserts: int = 0
    removes: int = 0
    message: str = ""
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)  # key, action, code, message

    def line(self) -> str:
        return (f"{self.sync} -> {self.destination}: {self.status}; planned {self.rows_planned} "
                f"({self.upserts} upsert, {self.removes} remove), sent {self.rows_sent}, "
                f"succeeded {self.rows_succeeded}, failed {self.rows_failed}, skipped {self.rows_skipped}"
                + (f"; {self.message}" if self.message else ""))


def make_destination(entry: DestinationConfig, sync_settings: dict[str, Any] | None = None) -> Destination:
    kind = destination_class(entry.type)
    try:
        return kind(entry.name, entry.base_url, entry.credentials, entry.settings, sync_settings)
    except Exception as error:  # pydantic validation of merged per-sync settings
        raise ConfigError(f"destination {entry.name}: {error}".splitlines()[0]) from None


def effective_mapping(destination: Destination, sync: SyncConfig) -> dict[str, str]:
    mapping = {**destination.default_mapping, **sync.mapping}
    if destination.open_mapping:
        return mapping
    unknown = [f for f in sync.mapping if f not in destination.default_mapping]
    if unknown:
        raise ConfigError(f"sync {sync.name}: mapping.{unknown[0]}: {destination.type_name} has no field "
                          f"{unknown[0]!r}; its fields are: {', '.join(destination.default_mapping)}")
    return mapping


def run_sync(config: HeadwaterConfig, name: str, *, dry_run: bool = False, plan_path: Path | None = None,
             full: bool = False, timing: Timing | None = None, transport: httpx.AsyncBaseTransport | None = None,
             chunk: int = STREAM_CHUNK) -> SyncRunReport:
    """Run sync `name` once. `dry_run` sends nothing and advances no state (requests go to
    `plan_path` as JSON lines); `full` plans every consented row as if never delivered.
    `timing` and `transport` let tests and benchmarks replace the clock and the network."""
    sync = find_named(config.syncs, name, "sync")
    entry = find_named(config.destinations, sync.destination, "destination")
    destination = make_destination(entry, sync.settings)
    mapping = effective_mapping(destination, sync)
    consent = sync.consent or destination.consent_category
    if sync.mode == "mirror" and not destination.supports_remove:
        raise ConfigError(f"sync {sync.name}: mode: {entry.type} cannot remove rows; use upsert or add_only")
    warehouse = Warehouse(config.warehouse)
    run_id = uuid.uuid4().hex
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    report = SyncRunReport(run_id, sync.name, entry.name)
    digest = settings_digest(entry.type, mapping, destination.settings.model_dump(mode="json"))
    with warehouse.connect() as connection:
        session = SqlSession(connection, warehouse.dialect)
        ensure_log_tables(session)
        holder = take_lease(session, sync.name, run_id, started, LEASE_SECONDS)
        if holder is not None:
            raise SyncError(f"sync {sync.name} is already running (run {holder['run_id']} since "
                            f"{holder['taken_at']:%Y-%m-%d %H:%M:%S} UTC); wait for it to finish")
        try:
            return _run_leased(session, sync, entry, destination, mapping, consent, digest, report, started,
                               dry_run, plan_path, full, timing, transport, chunk)
        except Exception as error:
            if not dry_run and not isinstance(error, ConfigError):  # an unexpected failure still leaves a log row
                session.rollback()
                report.status = "failed"
                report.message = destination.redact(f"{error.__class__.__name__}: {error}")[:1000]
                report.errors = []
                _log_run(session, report, entry, sync, started, full)
            raise
        finally:
            release_lease(session, sync.name, run_id)


def _run_leased(session, sync, entry, destination, mapping, consent, digest, report, started, dry_run, plan_path,
                full, timing, transport, chunk) -> SyncRunReport:
    """Snapshot, plan, deliver, commit and log, while this run holds the sync's lease."""
    run_id = report.run_id
    try:
        build_snapshot(session, sync, mapping, consent, digest)
    except SyncDefinitionError as error:
        raise ConfigError(str(error)) from None
    counts = build_plan(session, sync.name, sync.mode, full, destination.supports_remove,
                        destination.replace_on_change)
    report.upserts, report.removes = counts.upserts, counts.removes
    report.rows_planned = counts.upserts + counts.removes
    source = f"audience {sync.source.audience}" if sync.source.audience else f"model {sync.source.model}"
    context = RunContext(sync.name, run_id, source, counts.source_rows,
                         {"upsert": counts.upserts, "remove": counts.removes}, sync.settings)
    # a dry run never sends: without --plan its requests go to a null sink
    handle = open(plan_path if plan_path is not None else os.devnull, "w") if dry_run else None
    try:
        failed, skipped = asyncio.run(_deliver_all(
            session, sync, destination, context, report, entry, timing, transport, chunk,
            PlanWriter(handle, destination) if dry_run else None, dry_run))
    finally:
        if handle:
            handle.close()
    report.rows_failed = len(failed)
    report.rows_skipped = len(skipped)
    report.errors = [(k, a, c, m) for (k, a), (c, m) in {**failed, **skipped}.items()]
    if report.status != "failed" and failed:
        report.status = "partial"
    if dry_run:
        report.status = "dry_run"
        return report
    if report.status == "failed":
        # Credentials refused: trust nothing from this run; every planned row is planned again.
        report.rows_failed = report.rows_planned - report.rows_skipped
    else:
        commit_delivery(session, sync.name, list(failed.keys()))
    _log_run(session, report, entry, sync, started, full)
    return report


async def _deliver_all(session, sync, destination, context, report, entry, timing, transport, chunk, plan, dry_run):
    failed: dict[tuple[str, str], tuple[str, str]] = {}
    skipped: dict[tuple[str, str], tuple[str, str]] = {}
    limits = httpx.Limits(max_connections=entry.concurrency or destination.concurrency,
                          max_keepalive_connections=entry.concurrency or destination.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0), transport=transport) as client:
        if not dry_run and report.rows_planned:
            try:
                await authorize(destination, client)
            except DestinationAuthError as error:
                report.status, report.message = "failed", destination.redact(str(error))
        deliverer = Deliverer(destination, client, context, timing=timing, concurrency=entry.concurrency,
                              rate=entry.requests_per_second, plan=plan)
        for action in ("remove", "upsert"):  # removes first: a replaced row leaves before it returns
            if report.status == "failed":
                break
            batcher = Batcher(destination, action, skipped)
            held: Batch | None = None  # the action's last batch goes alone, last (closes vendor sessions)
            for rows in planned_rows(session, sync.name, action, chunk):
                batches = batcher.add(rows)
                if held is not None and batches:
                    batches.insert(0, held)
                    held = None
                if batches:
                    held = batches.pop()
                await deliverer.deliver(batches)
                if deliverer.report.fatal:
                    break
            tail = batcher.flush()
            if held is not None and tail is not None:
                await deliverer.deliver([held])
                held = None
            final = tail or held
            if final is not None and not deliverer.report.fatal:
                final.last = True
                await deliverer.deliver([final])
            if deliverer.report.fatal:
                report.status, report.message = "failed", deliverer.report.fatal
    failed.update(deliverer.report.failed)
    report.rows_sent = deliverer.report.sent
    report.rows_succeeded = deliverer.report.succeeded
    report.requests, report.retries = deliverer.report.requests, deliverer.report.retries
    return failed, skipped


class Batcher:
    """Cuts prepared rows into vendor-sized batches across streamed chunks, numbering them 1, 2, ..."""

    def __init__(self, destination: Destination, action: str, skipped: dict):
        self.destination, self.action, self.skipped = destination, action, skipped
        self.keys: list[str] = []
        self.items: list[Any] = []
        self.prints: list[str] = []
        self.sequence = 0

    def add(self, rows: list[dict]) -> list[Batch]:
        for row in rows:
            fields = {k: v for k, v in row.items() if k not in BOOKKEEPING}
            try:
                item = self.destination.prepare(fields, self.action)
            except SkipRow as reason:
                self.skipped[(row["row_key"], self.action)] = ("skipped", str(reason))
                continue
            self.keys.append(row["row_key"])
            self.items.append(item)
            self.prints.append(row["fingerprint"])
        batches = []
        size = self.destination.batch_size
        while len(self.keys) >= size:
            batches.append(self._cut(size))
        return batches

    def flush(self) -> Batch | None:
        return self._cut(len(self.keys)) if self.keys else None

    def _cut(self, size: int) -> Batch:
        self.sequence += 1
        batch = Batch(self.action, self.keys[:size], self.items[:size], self.prints[:size], self.sequence)
        del self.keys[:size], self.items[:size], self.prints[:size]
        return batch


def _log_run(session: SqlSession, report: SyncRunReport, entry: DestinationConfig, sync: SyncConfig,
             started: datetime, full: bool) -> None:
    finished = datetime.now(timezone.utc).replace(tzinfo=None)
    session.insert_many(
        "INSERT INTO cdp.sync_runs (run_id, sync, destination, destination_type, mode, started_at, finished_at, "
        "status, rows_planned, rows_sent, rows_succeeded, rows_failed, rows_skipped, requests, retries, "
        "full_resync, message) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [(report.run_id, sync.name, entry.name, entry.type, sync.mode, started, finished, report.status,
          report.rows_planned, report.rows_sent, report.rows_succeeded, report.rows_failed, report.rows_skipped,
          report.requests, report.retries, full, report.message)])
    session.insert_many(
        "INSERT INTO cdp.sync_errors (run_id, sync, destination, row_key, action, error_code, error_message, "
        "occurred_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        [(report.run_id, sync.name, entry.name, key, action, code, message, finished)
         for key, action, code, message in report.errors])
    session.commit()
