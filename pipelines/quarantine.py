"""The `_quarantine` table: every message the loader or the endpoint refused, with why.

Why: a bad row must neither crash a batch nor vanish. It is kept whole (payload as JSON
text) in its source's schema with a reason naming the field or column at fault, so it
can be listed, fixed at the sender or in the warehouse, and replayed through the collect
endpoint's own validation into the spool. Spool records of a source missing from the
configuration are kept whole in the `headwater` schema (see UNKNOWN_SOURCE_SCHEMA).

A row's `id` is a hash of its source, reason and payload, so loading the same spool file
twice quarantines it once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from headwater.config import HeadwaterConfig
from headwater.warehouse import Warehouse
from pipelines.column_types import TEXT, TIMESTAMP, keyed_arrow_schema, parse_timestamp
from pipelines.segment_layout import QUARANTINE_TABLE
from pipelines.users_table import quote

# whole spool records whose `source` is not configured land here, never in a guessed schema
UNKNOWN_SOURCE_SCHEMA = "headwater"

QUARANTINE_SCHEMA = keyed_arrow_schema(id=TEXT, source=TEXT, message_id=TEXT, rejected_by=TEXT,
                                       reason=TEXT, payload=TEXT, received_at=TIMESTAMP, uuid_ts=TIMESTAMP)


def _received(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError:
            return None
    return None


# who refused a row decides how replay re-checks it
REJECTED_BY_COLLECT = "collect"   # a raw message the endpoint refused: validated and enriched on replay
REJECTED_BY_LOAD = "load"         # an enriched message the loader refused: re-validated, never re-enriched


def storable_text(text: str | None) -> str | None:
    """Text a warehouse column can hold: a NUL (PostgreSQL refuses it) spelled as `\\u0000`."""
    return text.replace("\x00", "\\u0000") if isinstance(text, str) else text


def quarantine_row(source: str, reason: str, payload: Any, received_at: Any, loaded_at: datetime,
                   rejected_by: str = REJECTED_BY_LOAD) -> dict[str, Any]:
    payload_text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    digest = hashlib.sha256(f"{source}\0{reason}\0{payload_text}".encode()).hexdigest()[:20]
    message_id = payload.get("messageId") if isinstance(payload, dict) else None
    return {
        "id": digest,
        "source": storable_text(source),
        "message_id": storable_text(message_id) if isinstance(message_id, str) else None,
        "rejected_by": rejected_by,
        "reason": storable_text(reason),
        "payload": payload_text,
        "received_at": _received(received_at),
        "uuid_ts": loaded_at,
    }


def quarantine_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


# --- reading and replaying -------------------------------------------------------------

def quarantine_schemas(config: HeadwaterConfig, source: str | None) -> list[str]:
    names = [s.name for s in config.sources] + [UNKNOWN_SOURCE_SCHEMA]
    if source is not None:
        if source not in names:
            from headwater.config import ConfigError

            raise ConfigError(f"--source {source!r} is not a configured source; choose one of {', '.join(names)}")
        return [source]
    return list(dict.fromkeys(names))


def list_quarantined(config: HeadwaterConfig, source: str | None = None, limit: int | None = 50,
                     ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Quarantined rows, newest first, across the configured sources' schemas."""
    warehouse = Warehouse(config.warehouse)
    rows: list[dict[str, Any]] = []
    for schema in quarantine_schemas(config, source):
        if not warehouse.table_exists(schema, QUARANTINE_TABLE):
            continue
        sql = (f"SELECT id, source, message_id, rejected_by, reason, payload, received_at, uuid_ts "
               f"FROM {quote(schema)}.{quote(QUARANTINE_TABLE)}")
        params: list[Any] = []
        if ids:
            sql += f" WHERE id IN ({', '.join(['%s'] * len(ids))}) OR message_id IN ({', '.join(['%s'] * len(ids))})"
            params = [*ids, *ids]
        for row in warehouse.query(sql, params or None):
            rows.append({"schema": schema, **row})
    rows.sort(key=lambda row: (row["uuid_ts"] is not None, row["uuid_ts"] or 0, row["id"]), reverse=True)
    return rows[:limit] if limit is not None else rows
