"""Where a Segment-spec message lands in Segment's warehouse schema, and as which columns.

Why its own module: analysts' existing Segment queries must work unchanged, so the table
and column naming rules (snake_case, `_`-flattened objects, JSON-text lists, the
standard columns) live here once, apart from how rows travel to the warehouse.

Names go through dlt's own snake_case convention, so the names we compute are exactly
the names dlt creates; a property or trait whose name is taken by a standard column is
kept as `properties_<name>` / `traits_<name>` (Segment discards it; we never drop data).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from dlt.common.normalizers.naming.snake_case import NamingConvention

# table per message type; `track` also writes one table per event name
TYPE_TABLES = {
    "track": "tracks",
    "identify": "identifies",
    "page": "pages",
    "screen": "screens",
    "group": "groups",
    "alias": "aliases",
}
USERS_TABLE = "users"
WEBHOOKS_TABLE = "webhooks"
QUARANTINE_TABLE = "_quarantine"
RESERVED_TABLES = frozenset(TYPE_TABLES.values()) | {USERS_TABLE, WEBHOOKS_TABLE, QUARANTINE_TABLE}

# message key -> column, present on every table a message writes
STANDARD_COLUMNS = {
    "messageId": "id",
    "anonymousId": "anonymous_id",
    "userId": "user_id",
    "receivedAt": "received_at",
    "sentAt": "sent_at",
    "timestamp": "timestamp",
    "originalTimestamp": "original_timestamp",
}
TIMESTAMP_COLUMNS = frozenset({"received_at", "sent_at", "timestamp", "original_timestamp", "uuid_ts"})
IDENTITY_COLUMNS = ("id", "anonymous_id", "user_id")
# message keys with a dedicated column on their type's table
TYPE_COLUMNS = {"name": "name", "groupId": "group_id", "previousId": "previous_id"}
# keys that are routing or payload containers, never columns of their own
STRUCTURAL_KEYS = frozenset({"type", "event", "properties", "traits", "context", "integrations", "writeKey",
                             "_metadata"}) | frozenset(STANDARD_COLUMNS) | frozenset(TYPE_COLUMNS)
# where a message type keeps its custom fields
PAYLOAD_KEY = {"track": "properties", "page": "properties", "screen": "properties", "identify": "traits",
               "group": "traits", "alias": "traits"}

_naming = NamingConvention(max_length=63)  # PostgreSQL's identifier limit; DuckDB allows more


@lru_cache(maxsize=65536)
def snake(name: str) -> str:
    """Segment's CamelCase -> snake_case, as dlt spells it (`orderId` -> `order_id`)."""
    return _naming.normalize_identifier(name)


def event_table(event: str) -> str:
    """The per-event table: `Order Completed` -> `order_completed`.

    An event whose name is one of our own tables (`users`, `tracks`, ...) or dlt's would
    overwrite it, so it gets an `event_` prefix instead.
    """
    table = snake(event)
    if table in RESERVED_TABLES or table.startswith("_dlt"):
        table = snake(f"event_{table}")
    return table


def _flatten(value: dict, prefix: str, row: dict[str, Any], taken: frozenset[str] | dict[str, Any], rename: str) -> None:
    """Nested objects become `parent_child` columns; lists become JSON text; nulls no column."""
    for key, item in value.items():
        if item is None:
            continue
        column = snake(f"{prefix}_{key}" if prefix else str(key))
        if isinstance(item, dict):
            _flatten(item, column, row, taken, rename)
            continue
        if column in taken or column.startswith("_dlt"):
            column = snake(f"{rename}_{column}")
        if isinstance(item, list):
            item = orjson.dumps(item).decode()
        row.setdefault(column, item)


@dataclass(frozen=True)
class Placement:
    """One message's rows: its type table's row, plus the event table's for a track."""

    type_table: str
    row: dict[str, Any]
    event_table: str | None = None
    event_row: dict[str, Any] | None = None


def place(message: dict, received_at: str | None = None) -> Placement:
    """Lay one validated message out as Segment's warehouse rows (values still raw JSON).

    `received_at` is the spool record's time, used when the message lacks `receivedAt`.
    Raises KeyError/ValueError for a message whose `type` or `event` makes no table.
    """
    message_type = message["type"]
    type_table = TYPE_TABLES[message_type]
    common: dict[str, Any] = {}
    for key, column in STANDARD_COLUMNS.items():
        value = message.get(key)
        if value is not None:
            common[column] = value
    if "received_at" not in common and received_at is not None:
        common["received_at"] = received_at
    context = message.get("context")
    if isinstance(context, dict):
        _flatten(context, "context", common, frozenset(), "context")
    for key, value in message.items():  # top-level extras such as `channel`
        if key not in STRUCTURAL_KEYS and value is not None:
            _flatten({key: value}, "", common, common, "message")

    own = dict(common)
    for key, column in TYPE_COLUMNS.items():
        if message.get(key) is not None:
            own[column] = message[key]
    payload_key = PAYLOAD_KEY[message_type]
    payload = message.get(payload_key)

    if message_type != "track":
        if isinstance(payload, dict):
            _flatten(payload, "", own, dict(own), payload_key)
        return Placement(type_table, own)

    event = message.get("event")
    if not isinstance(event, str) or not snake(event):
        raise ValueError("event: a track call needs an event name")
    table = event_table(event)
    own["event"] = table
    own["event_text"] = event
    event_row = dict(own)
    if isinstance(payload, dict):
        _flatten(payload, "", event_row, dict(own), payload_key)
    return Placement(type_table, own, table, event_row)
