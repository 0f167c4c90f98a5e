"""Where a Segment-spec message lands in Segment's warehouse schema, and as which columns.

Why its own module: analysts' existing Segment queries must work unchanged, so the table
and column naming rules (snake_case, `_`-flattened objects, JSON-text lists, the
standard columns) live here once, apart from how rows travel to the warehouse.

Names go through dlt's own snake_case convention, so the names we compute are exactly
the names dlt creates; a property or trait whose name is taken by a standard column is
kept as `properties_<name>` / `traits_<name>` (Segment discards it; we never drop data).
"""

from __future__ import annotations

from collections.abc import Iterable
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


def column_name(prefix: str, key: Any) -> str:
    """The column for `key` inside `prefix` (`""` at the top): a blank key, which names
    nothing, is spelled `x`, as dlt spells a name with no ASCII letter in it."""
    name = f"{prefix}_{key}" if prefix else str(key)
    try:
        return snake(name)
    except ValueError:
        return snake(f"{prefix}_x") if prefix else "x"


# a message's custom field never takes these columns; it is kept as `<container>_<name>`
FIXED_COLUMNS = frozenset(STANDARD_COLUMNS.values()) | {"uuid_ts", "event", "event_text"}
# claims from the context, then top-level extras, then properties/traits: earlier wins a tie
CONTEXT_RANK, EXTRAS_RANK, PAYLOAD_RANK = 0, 1, 2


# One leaf value asking for a column, as a plain tuple (the loader makes one per value):
# (rank, inexact, key path, column, rename prefix, value). `inexact`: the column is not the
# key path itself, so `A B` -> a_b yields to a key `a_b`. The first four order contested names.
Claim = tuple[int, bool, tuple[str, ...], str, str, Any]
_ORDER, _COLUMN, _RENAME, _VALUE = slice(0, 4), 3, 4, 5


def _claims(value: dict, prefix: str, path: tuple[str, ...], rank: int, rename: str, out: list[Claim]) -> None:
    """Nested objects become `parent_child` columns; lists become JSON text; nulls no column."""
    for key, item in value.items():
        if item is None:
            continue
        key = str(key)
        column = column_name(prefix, key)
        if isinstance(item, dict):
            _claims(item, column, path + (key,), rank, rename, out)
            continue
        if isinstance(item, list):
            item = orjson.dumps(item).decode()
        here = path + (key,)
        out.append((rank, "_".join(here) != column, here, column, rename, item))


def _suffixed(column: str, number: int) -> str:
    return snake(f"{column}_{number}")


def resolve_columns(taken: Iterable[str], claims: list[Claim]) -> list[str]:
    """Each claim's own column (in claim order), chosen losslessly and deterministically.

    A claim on a column the row already has (`taken`: the standard columns, `event`,
    `group_id`...) or on dlt's `_dlt*` names is renamed `<container>_<name>`
    (`properties_id`); then claims that still share a name are ordered (context before
    extras before the payload, the key that *is* the name first, then by key path) and all
    but the first get `_2`, `_3`, ..., skipping names taken by anything else, so no value
    ever overwrites another.
    """
    taken = set(taken)
    by_column: dict[str, list[int]] = {}
    for index, claim in enumerate(claims):
        column = claim[_COLUMN]
        if column in taken or column in FIXED_COLUMNS or column.startswith("_dlt"):
            column = column_name(claim[_RENAME], column)
        by_column.setdefault(column, []).append(index)
    names = [""] * len(claims)
    in_use = taken | by_column.keys()
    for column, indexes in by_column.items():
        if len(indexes) > 1:
            indexes.sort(key=lambda index: claims[index][_ORDER])
        if column not in taken:
            names[indexes[0]] = column
            indexes = indexes[1:]
        number = 2
        for index in indexes:
            while _suffixed(column, number) in in_use:
                number += 1
            names[index] = _suffixed(column, number)
            in_use.add(names[index])
    return names


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
    claims: list[Claim] = []
    context = message.get("context")
    if isinstance(context, dict):
        _claims(context, "context", ("context",), CONTEXT_RANK, "context", claims)
    for key, value in message.items():  # top-level extras such as `channel`
        if key not in STRUCTURAL_KEYS and value is not None:
            _claims({key: value}, "", (), EXTRAS_RANK, "message", claims)

    own = dict(common)
    for key, column in TYPE_COLUMNS.items():
        if message.get(key) is not None:
            own[column] = message[key]
    payload_key = PAYLOAD_KEY[message_type]
    payload = message.get(payload_key)
    if message_type == "track":
        event = message.get("event")
        if not isinstance(event, str) or not event.strip():
            raise ValueError("event: a track call needs an event name")
        table = event_table(event)
        own["event"] = table
        own["event_text"] = event
    shared = len(claims)  # the context's and extras' claims: on the type table too
    if isinstance(payload, dict):
        _claims(payload, "", (), PAYLOAD_RANK, payload_key, claims)
    names = resolve_columns(own.keys(), claims)
    if message_type != "track":
        own.update(zip(names, (claim[_VALUE] for claim in claims)))
        return Placement(type_table, own)
    event_row = dict(own)
    event_row.update(zip(names, (claim[_VALUE] for claim in claims)))
    own.update(zip(names[:shared], (claim[_VALUE] for claim in claims[:shared])))
    return Placement(type_table, own, table, event_row)
