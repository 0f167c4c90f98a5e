"""`headwater quarantine replay`: give quarantined messages a second chance after a fix.

Why through the spool: a replayed message must pass exactly the checks a new one
passes, and must reach the warehouse the one way everything does (the loader, with its
dedup on `id`). So each row is re-checked with the collect endpoint's own validation and
against the warehouse's current column types and the source's current tracking plan
(so an event the plan held back passes once the plan, or its policy, allows it); the
ones that now pass are written as a new closed spool file and only then deleted from
`_quarantine`. The rest stay, with why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from headwater.config import HeadwaterConfig
from headwater.warehouse import Warehouse
from pipelines.column_types import TypeConflict
from pipelines.quarantine import REJECTED_BY_COLLECT, UNKNOWN_SOURCE_SCHEMA, list_quarantined
from pipelines.segment_layout import QUARANTINE_TABLE, place
from pipelines.spool_loader import message_tables
from pipelines.users_table import quote
from sources.collect.messages import InvalidMessage, format_timestamp, normalize_message, validate
from sources.collect.spool import SpoolWriter, encode, writer_name
from sources.tracking_plan.enforce import Enforcer, enforcers, forget_violations


@dataclass
class ReplayReport:
    respooled: list[dict[str, Any]] = field(default_factory=list)      # quarantine rows now in the spool
    still_failing: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (row, why)
    spool_file: Path | None = None


class _Recheck:
    """Re-runs the endpoint's validation and the loader's type check for one schema."""

    def __init__(self, warehouse: Warehouse, schema: str, plan: Enforcer | None = None):
        self.tables = message_tables(warehouse, schema)
        self.plan = plan

    def message(self, row: dict[str, Any]) -> dict:
        raw = orjson.loads(row["payload"])
        if isinstance(raw, str):  # an unparseable request body, kept as text
            try:
                raw = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise InvalidMessage("(body)", "is still not valid JSON") from None
        received_at = row["received_at"] or datetime.now(timezone.utc)
        if row.get("rejected_by") == REJECTED_BY_COLLECT:
            message = normalize_message(raw, received_at=received_at.astimezone(timezone.utc))
        else:  # already enriched when it was spooled; enriching again would shift its timestamp
            message = _revalidate_enriched(raw)
        if self.plan is not None:  # the plan as it is now: a held message passes once the plan allows it
            forget_violations(message)
            verdict = self.plan.apply(message)
            if verdict is not None and verdict.quarantine:
                raise ValueError(verdict.reason())
        placement = place(message, format_timestamp(received_at))
        rows = [(placement.type_table, placement.row)]
        if placement.event_table is not None:
            rows.append((placement.event_table, placement.event_row))
        self.tables.admit(rows)  # raises TypeConflict if the column still cannot hold it
        return message


def _revalidate_enriched(message: Any) -> dict:
    """The endpoint's rules, except that webhook messages may lack userId/anonymousId."""
    try:
        return validate(message)
    except InvalidMessage as error:
        if error.field != "userId" or not isinstance(message, dict):
            raise
    validate({**message, "anonymousId": "(checking the other rules)"})
    return message


def replay_quarantined(config: HeadwaterConfig, source: str | None = None,
                       ids: list[str] | None = None) -> ReplayReport:
    """Re-check quarantined rows (all, one source's, or those with the given ids/messageIds)."""
    warehouse = Warehouse(config.warehouse)
    configured = {s.name for s in config.sources}
    report = ReplayReport()
    records: list[dict[str, Any]] = []
    messages_by_source: dict[str, list[dict]] = {}
    rechecks: dict[str, _Recheck] = {}
    plans = enforcers(config.tracking_plan)
    for row in reversed(list_quarantined(config, source, limit=None, ids=ids)):  # oldest first
        if row["schema"] == UNKNOWN_SOURCE_SCHEMA and row["source"] not in configured:
            report.still_failing.append((row, f"source: {row['source']!r} is still not in the configuration"))
            continue
        if row["schema"] == UNKNOWN_SOURCE_SCHEMA:
            records.append(orjson.loads(row["payload"]))  # a whole spool record, now routable
            report.respooled.append(row)
            continue
        recheck = rechecks.get(row["schema"])
        if recheck is None:
            recheck = rechecks[row["schema"]] = _Recheck(warehouse, row["schema"], plans.get(row["schema"]))
        try:
            message = recheck.message(row)
        except InvalidMessage as error:
            report.still_failing.append((row, f"{error.field}: {error.reason}"))
            continue
        except (TypeConflict, ValueError, KeyError) as error:
            report.still_failing.append((row, str(error)))
            continue
        messages_by_source.setdefault(row["schema"], []).append(message)
        report.respooled.append(row)

    if not report.respooled:
        return report
    now = format_timestamp(datetime.now(timezone.utc))
    records += [{"source": name, "kind": "events", "received_at": now, "messages": messages}
                for name, messages in messages_by_source.items()]
    writer = SpoolWriter(Path(config.collect.spool_dir), name=writer_name("replay"))
    for record in records:
        writer.write(encode(record))
    report.spool_file = writer.close()  # fsync'd and in closed/ before any row is deleted

    by_schema: dict[str, list[str]] = {}
    for row in report.respooled:
        by_schema.setdefault(row["schema"], []).append(row["id"])
    with warehouse.connect() as connection:
        cursor = connection.cursor()
        for schema, row_ids in by_schema.items():
            placeholders = ", ".join(["%s"] * len(row_ids))
            sql = f"DELETE FROM {quote(schema)}.{quote(QUARANTINE_TABLE)} WHERE id IN ({placeholders})"
            cursor.execute(sql.replace("%s", "?") if warehouse.is_duckdb else sql, row_ids)
    return report
