"""Move closed spool files into the warehouse: `load_spool(config) -> LoadReport`.

Why this shape: a file is claimed atomically (so racing loaders never share one), read,
split by source into Segment's tables as Arrow, and handed to one dlt pipeline per
source schema with merge strategy `insert-only` on `id`. Only after every source's load
committed is the file deleted (or archived). A crash anywhere leaves the file claimed
and unlocked, so the next loader takes it again; insert-only makes that reload add
nothing. Duplicates are settled as "the first copy received wins": by spool order within
a load, and by the warehouse's existing row across loads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dlt
import orjson
import pyarrow as pa

from headwater.config import HeadwaterConfig
from headwater.warehouse import Warehouse, fetch_dicts
from pipelines.column_types import (
    BIGINT, BOOLEAN, DOUBLE, TEXT, TIMESTAMP, TypeConflict, keyed_arrow_schema, parse_timestamp, warehouse_kind,
)
from pipelines.quarantine import (
    REJECTED_BY_COLLECT, REJECTED_BY_LOAD, UNKNOWN_SOURCE_SCHEMA, quarantine_row, quarantine_table,
)
from pipelines.segment_layout import (
    IDENTITY_COLUMNS, QUARANTINE_TABLE, TIMESTAMP_COLUMNS, TYPE_TABLES, WEBHOOKS_TABLE, place,
)
from pipelines.plan_violations import VIOLATIONS_TABLE, refresh_violation_counts, violation_rows, violations_table
from pipelines.schema_lock import schema_lock
from pipelines.table_batches import SchemaBatch
from pipelines.users_table import quote, refresh_users
from sources.collect.spool import backlog, claim_files, scan
from pipelines.privacy.spool_erase import filter_record, rewrite_archive, tombstones
from pipelines.privacy.store import store_inbox
from sources.tracking_plan.enforce import REJECTED_BY_PLAN, Enforcer, enforcers, forget_violations

INSERT_ONLY = {"disposition": "merge", "strategy": "insert-only"}
MESSAGE_TABLES = frozenset(TYPE_TABLES.values())

WEBHOOK_SCHEMA = keyed_arrow_schema(id=TEXT, vendor=TEXT, topic=TEXT, received_at=TIMESTAMP, payload=TEXT,
                                    uuid_ts=TIMESTAMP)


class LoadError(Exception):
    """The warehouse refused a load; the claimed files stay in the spool for the next run."""


@dataclass
class SourceLoad:
    """What one load did to one source schema."""

    source: str
    messages: int = 0          # messages read for this source (excluding duplicates within the load)
    loaded: int = 0            # messages newly stored (one per message, in its type table)
    duplicates: int = 0        # messages whose id was already loaded or seen earlier in the load
    quarantined: int = 0       # rows newly added to _quarantine
    violations: int = 0        # tracking-plan violations newly recorded in _violations
    rows_by_table: dict[str, int] = field(default_factory=dict)
    users_refreshed: int = 0


@dataclass
class LoadReport:
    files: int = 0
    torn_bytes: int = 0
    tombstoned: int = 0        # messages of deleted people dropped (privacy tombstones)
    regulations: int = 0       # privacy requests handed to headwater.privacy_inbox
    sources: dict[str, SourceLoad] = field(default_factory=dict)

    def source(self, name: str) -> SourceLoad:
        return self.sources.setdefault(name, SourceLoad(name))

    @property
    def loaded(self) -> int:
        return sum(s.loaded for s in self.sources.values())

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.sources.values())

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.sources.values())

    @property
    def violations(self) -> int:
        return sum(s.violations for s in self.sources.values())


def existing_kinds(warehouse: Warehouse, schema: str) -> dict[str, dict[str, str]]:
    """Column types already in the warehouse: they, not this batch, decide conflicts."""
    with warehouse.connect() as connection:
        rows = fetch_dicts(
            connection,
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = %s",
            [schema], warehouse.dialect,
        )
    kinds: dict[str, dict[str, str]] = {}
    for row in rows:
        kinds.setdefault(row["table_name"], {})[row["column_name"]] = warehouse_kind(row["data_type"])
    return kinds


# every message table has these, typed, even before a non-null value arrives
STANDARD_KINDS = {
    **{column: TEXT for column in IDENTITY_COLUMNS},
    **{column: TIMESTAMP for column in ("received_at", "sent_at", "timestamp", "original_timestamp", "uuid_ts")},
}


def message_tables(warehouse: Warehouse, schema: str) -> SchemaBatch:
    """An empty batch for `schema`'s message tables, typed by what the warehouse holds."""
    return SchemaBatch(existing_kinds(warehouse, schema), TIMESTAMP_COLUMNS, STANDARD_KINDS)


class SourceBatch:
    """Everything one load sends to one source schema, in spool order."""

    def __init__(self, schema: str, warehouse: Warehouse, loaded_at: datetime, plan: Enforcer | None = None):
        self.schema = schema
        self.loaded_at = loaded_at
        self.plan = plan  # the source's tracking plan, for records no endpoint checked against it
        self.violations: dict[str, dict[str, Any]] = {}
        self.tables = message_tables(warehouse, schema)
        self.seen_ids: set[str] = set()
        self.duplicates = 0
        self.messages = 0
        self.quarantine: list[dict[str, Any]] = []
        self._quarantine_ids: set[str] = set()
        self.webhooks: list[dict[str, Any]] = []
        self._webhook_ids: set[str] = set()
        self.identified_users: set[str] = set()

    def refuse(self, source: str, reason: str, payload: Any, received_at: Any,
               rejected_by: str = REJECTED_BY_LOAD) -> None:
        reason = reason.strip() or "rejected without a stated reason"  # never an empty reason
        row = quarantine_row(source, reason, payload, received_at, self.loaded_at, rejected_by)
        if row["id"] not in self._quarantine_ids:
            self._quarantine_ids.add(row["id"])
            self.quarantine.append(row)

    def note_violations(self, message: Any, received_at: Any) -> None:
        for row in violation_rows(message, received_at, self.loaded_at):
            self.violations.setdefault(row["id"], row)

    def add_message(self, message: Any, received_at: Any, check_plan: bool = False) -> None:
        if not isinstance(message, dict):
            self.refuse(self.schema, "(message): must be a JSON object", message, received_at)
            return
        message_id = message.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            self.refuse(self.schema, "messageId: missing; the collect endpoint always sets one", message, received_at)
            return
        if message_id in self.seen_ids:
            self.duplicates += 1
            return
        self.seen_ids.add(message_id)
        self.messages += 1
        if message.get("type") not in TYPE_TABLES:
            self.refuse(self.schema, f"type: must be one of {', '.join(sorted(TYPE_TABLES))}", message, received_at)
            return
        if check_plan and self.plan is not None:
            forget_violations(message)  # an older plan's verdict; the current plan decides
            verdict = self.plan.apply(message)
            if verdict is not None and verdict.quarantine:
                self.note_violations(message, received_at)
                self.refuse(self.schema, verdict.reason(), message, received_at, REJECTED_BY_PLAN)
                return
        try:
            placement = place(message, received_at)
            rows = [(placement.type_table, placement.row)]
            if placement.event_table is not None:
                rows.append((placement.event_table, placement.event_row))
            for _, row in rows:
                row["uuid_ts"] = self.loaded_at
            self.tables.admit(rows)
        except (TypeConflict, ValueError) as error:  # UnstorableValue and TooWide are ValueErrors
            self.refuse(self.schema, str(error) or f"{type(error).__name__} placing the message", message,
                        received_at)
            return
        self.note_violations(message, received_at)
        if placement.type_table == "identifies" and isinstance(message.get("userId"), str):
            self.identified_users.add(message["userId"])

    def add_webhook(self, record: dict) -> None:
        webhook_id = record.get("webhook_id")
        if not isinstance(webhook_id, str) or not webhook_id:
            self.refuse(self.schema, "webhook_id: missing from the webhook record", record, record.get("received_at"))
            return
        if any("\x00" in value for value in (webhook_id, record.get("topic"), record.get("vendor"))
               if isinstance(value, str)):
            self.refuse(self.schema, "webhook_id: the webhook's id or topic holds a NUL character (\\u0000), which "
                                     "PostgreSQL cannot store", record, record.get("received_at"))
            return
        if webhook_id not in self._webhook_ids:
            self._webhook_ids.add(webhook_id)
            received = record.get("received_at")
            try:
                received_at = parse_timestamp(received) if isinstance(received, str) else None
            except ValueError:
                received_at = None
            self.webhooks.append({
                "id": webhook_id, "vendor": record.get("vendor"), "topic": record.get("topic"),
                "received_at": received_at, "payload": orjson.dumps(record.get("raw")).decode(),
                "uuid_ts": self.loaded_at,
            })
        if record.get("unconverted"):
            self.refuse(self.schema, f"webhook: this {record.get('vendor')} {record.get('topic')} delivery could not be "
                                     f"turned into Segment messages ({record['unconverted']}); its raw payload is in "
                                     f"{WEBHOOKS_TABLE}", record.get("raw"), record.get("received_at"))
        for message in record.get("messages") or []:
            self.add_message(message, record.get("received_at"))

    def arrow_tables(self) -> dict[str, pa.Table]:
        tables = {name: table.to_arrow() for name, table in self.tables.tables.items() if len(table)}
        if self.webhooks:
            tables[WEBHOOKS_TABLE] = pa.Table.from_pylist(self.webhooks, schema=WEBHOOK_SCHEMA)
        if self.quarantine:
            tables[QUARANTINE_TABLE] = quarantine_table(self.quarantine)
        if self.violations:
            tables[VIOLATIONS_TABLE] = violations_table(list(self.violations.values()))
        return tables


def schema_of(record: Any, known_sources: set[str]) -> str:
    """The schema a spool record loads into; unconfigured sources go to the quarantine schema."""
    source = record.get("source") if isinstance(record, dict) else None
    return source if source in known_sources else UNKNOWN_SOURCE_SCHEMA


def add_record(batch: SourceBatch, record: Any) -> None:
    """One spool record into its schema's batch; never drops one."""
    source = record.get("source") if isinstance(record, dict) else None
    received_at = record.get("received_at") if isinstance(record, dict) else None
    if batch.schema == UNKNOWN_SOURCE_SCHEMA:
        batch.refuse(
            str(source),
            f"source: {source!r} is not in the configuration's sources; add it, then run "
            f"`headwater quarantine replay --source {UNKNOWN_SOURCE_SCHEMA}`",
            record, received_at,
        )
        return
    kind = record.get("kind")
    if kind == "events":
        # spooled before this plan version (or with none): the loader applies the current plan
        check_plan = batch.plan is not None and record.get("plan") != batch.plan.version
        for message in record.get("messages") or []:
            batch.add_message(message, received_at, check_plan)
    elif kind == "webhook":
        batch.add_webhook(record)
    elif kind == "quarantine":
        for item in record.get("items") or []:
            item = item if isinstance(item, dict) else {"raw": item}
            rejected_by = REJECTED_BY_PLAN if item.get("rejected_by") == REJECTED_BY_PLAN else REJECTED_BY_COLLECT
            if rejected_by == REJECTED_BY_PLAN:
                batch.note_violations(item.get("raw"), received_at)
            batch.refuse(source, str(item.get("reason") or "rejected by the collect endpoint"),
                         item.get("raw"), received_at, rejected_by)
    else:
        batch.refuse(source, f"kind: unknown spool record kind {kind!r}", record, received_at)


def _run_dlt(warehouse: Warehouse, batch: SourceBatch) -> None:
    tables = batch.arrow_tables()
    if not tables:
        return
    resources = [dlt.resource(table, name=name, write_disposition=INSERT_ONLY, primary_key="id")
                 for name, table in tables.items()]
    # A private working folder per run: concurrent loaders of one source must not share
    # dlt's local state; dlt restores the schema and state from the warehouse instead.
    with tempfile.TemporaryDirectory(prefix="headwater-dlt-") as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name=f"headwater_spool_{batch.schema}",
            pipelines_dir=pipelines_dir,
            destination=warehouse.dlt_destination(),
            dataset_name=batch.schema,
        )
        _adopt_warehouse_types(pipeline, warehouse, batch)
        pipeline.run(resources)


# our kinds as dlt spells them, and back
DLT_TYPES = {TEXT: "text", DOUBLE: "double", BIGINT: "bigint", BOOLEAN: "bool", TIMESTAMP: "timestamp"}
KIND_OF_DLT_TYPE = {value: key for key, value in DLT_TYPES.items()}


def _adopt_warehouse_types(pipeline: dlt.Pipeline, warehouse: Warehouse, batch: SourceBatch) -> None:
    """Make dlt's stored schema agree with column types someone changed in the warehouse.

    The warehouse is the authority (an analyst may ALTER revenue to text to accept the
    quarantined strings); dlt would otherwise build its staging table from its own stale
    type and refuse the load. Stale staging tables are dropped; dlt recreates them.
    """
    pipeline.sync_destination()
    if pipeline.default_schema_name is None:
        return
    schema = pipeline.default_schema
    stale: list[str] = []
    for name, table in batch.tables.tables.items():
        if name not in schema.tables:
            continue
        dlt_columns = schema.get_table_columns(name)
        for column, kind in batch.tables.warehouse_kinds(name).items():
            hints = dlt_columns.get(column)
            if hints is None or KIND_OF_DLT_TYPE.get(hints.get("data_type"), kind) == kind:
                continue
            hints["data_type"] = DLT_TYPES[kind]
            stale.append(name)
    if not stale:
        return
    schema._bump_version()
    with warehouse.connect() as connection:
        cursor = connection if warehouse.is_duckdb else connection.cursor()
        for name in dict.fromkeys(stale):
            cursor.execute(f"DROP TABLE IF EXISTS {quote(batch.schema + '_staging')}.{quote(name)}")


def _count_inserted(warehouse: Warehouse, batch: SourceBatch, tables: list[str]) -> dict[str, int]:
    """Rows this load actually inserted: insert-only skipped the ids already present."""
    if not tables:
        return {}
    union = " UNION ALL ".join(
        f"SELECT '{name}' AS table_name, COUNT(*) AS n FROM {quote(batch.schema)}.{quote(name)} WHERE uuid_ts = %s"
        for name in tables
    )
    rows = warehouse.query(union, [batch.loaded_at] * len(tables))
    return {row["table_name"]: int(row["n"]) for row in rows}


def _cause(error: BaseException) -> str:
    """The innermost error (dlt wraps the engine's), on one line, without the URL's password."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = " ".join(str(error).split())[:300]
    return f"{type(error).__name__}: {text}"


def load_batch(warehouse: Warehouse, batch: SourceBatch, report: SourceLoad) -> None:
    """One source's rows into its schema; then its `users` rows for the users identified."""
    handed = {name: len(table) for name, table in batch.tables.tables.items()}
    try:
        _run_dlt(warehouse, batch)
    except Exception as error:
        raise LoadError(f"loading source {batch.schema!r} into {warehouse.safe_url()} failed: "
                        f"{_cause(error)}") from error
    names = [name for name, count in handed.items() if count]
    if batch.webhooks:
        names.append(WEBHOOKS_TABLE)
    if batch.quarantine:
        names.append(QUARANTINE_TABLE)
    if batch.violations:
        names.append(VIOLATIONS_TABLE)
    inserted = _count_inserted(warehouse, batch, names)
    for name, count in inserted.items():
        if count:
            report.rows_by_table[name] = report.rows_by_table.get(name, 0) + count
    new_messages = sum(inserted.get(name, 0) for name in handed if name in MESSAGE_TABLES)
    offered = sum(count for name, count in handed.items() if name in MESSAGE_TABLES)
    report.messages += batch.messages
    report.loaded += new_messages
    report.duplicates += batch.duplicates + (offered - new_messages)
    report.quarantined += inserted.get(QUARANTINE_TABLE, 0)
    report.violations += inserted.get(VIOLATIONS_TABLE, 0)
    report.users_refreshed += refresh_users(warehouse, batch.schema, batch.identified_users)


ProgressCallback = Callable[[int, int], None]


def load_files(config: HeadwaterConfig, claimed: list, report: LoadReport) -> None:
    """Load already-claimed files; marks them done only after every source committed.

    Each schema is typed and loaded under its lock (see schema_lock), one schema at a
    time, so concurrent loaders never interleave their dedup checks or schema changes.
    """
    warehouse = Warehouse(config.warehouse)
    loaded_at = datetime.now(timezone.utc)
    known = {s.name for s in config.sources}
    records: dict[str, list[Any]] = {}
    regulations: list[dict] = []
    deleted_people = tombstones(config.collect.spool_dir)
    tombstoned_before = report.tombstoned
    try:
        plans = enforcers(config.tracking_plan)
        for claimed_file in claimed:
            result = scan(Path(claimed_file.path).read_bytes())
            report.torn_bytes += result.torn_bytes
            for payload in result.payloads:
                try:
                    record = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    record = {"source": None, "payload_text": payload.decode("utf-8", "replace")}
                if isinstance(record, dict) and record.get("kind") == "regulation":
                    regulations.append(record)
                    continue
                record, dropped = filter_record(record, deleted_people)
                report.tombstoned += dropped
                if record is not None:
                    records.setdefault(schema_of(record, known), []).append(record)
        if regulations:
            report.regulations += store_inbox(warehouse, regulations)
        for schema in sorted(records):
            with schema_lock(warehouse, schema):
                batch = SourceBatch(schema, warehouse, loaded_at, plans.get(schema))
                for record in records[schema]:
                    add_record(batch, record)
                load_batch(warehouse, batch, report.source(schema))
        if plans or any(report.source(schema).violations for schema in records):
            refresh_violation_counts(warehouse, sorted(known))
    except BaseException as error:
        for claimed_file in claimed:
            claimed_file.release()
        if isinstance(error, Exception) and not isinstance(error, LoadError):
            raise LoadError(f"loading into {warehouse.safe_url()} failed: {_cause(error)}") from error
        raise
    for claimed_file in claimed:
        # event streams and workflows read loaded files too: archived, they leave once all have passed
        claimed_file.done(archive=config.collect.archive or bool(config.streams or config.workflows))
    if config.collect.archive and report.tombstoned > tombstoned_before:
        rewrite_archive(config.collect.spool_dir, deleted_people)  # archives keep no deleted person either
    report.files += len(claimed)


def load_spool(config: HeadwaterConfig, *, files_per_load: int = 8,
               progress: ProgressCallback | None = None) -> LoadReport:
    """Claim and load every closed spool file; returns what was loaded per source and table.

    Files go in groups of `files_per_load` (one dlt load per source per group), which
    bounds memory; it stops once the files waiting at the start are done, so a busy
    endpoint cannot keep it running forever.
    """
    spool_dir = Path(config.collect.spool_dir)
    enforcers(config.tracking_plan)  # a bad plan file is reported before any file is claimed
    waiting = backlog(spool_dir)
    total = waiting["closed"] + waiting["claimed"]
    report = LoadReport()
    if progress:
        progress(0, total)
    while report.files < max(total, 1):
        claimed = claim_files(spool_dir, limit=files_per_load)
        if not claimed:
            break
        load_files(config, claimed, report)
        if progress:
            progress(report.files, max(total, report.files))
    return report
