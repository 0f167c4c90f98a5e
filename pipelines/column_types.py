"""The few column types the spool loader writes, and which values each accepts.

Why: a column's type is fixed by the first value it ever got (or by the warehouse, if
the column exists), and a later message whose value cannot be stored in it losslessly
must go to quarantine instead of failing the batch or silently becoming NULL. Every
JSON number is a double (a `price` of 10 then 10.5 is one column); numbers and booleans
stored into an existing text column become their JSON text, which loses nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

TEXT, DOUBLE, BIGINT, BOOLEAN, TIMESTAMP = "text", "double", "bigint", "boolean", "timestamp"

ARROW_TYPES: dict[str, pa.DataType] = {
    TEXT: pa.string(),
    DOUBLE: pa.float64(),
    BIGINT: pa.int64(),
    BOOLEAN: pa.bool_(),
    TIMESTAMP: pa.timestamp("us", tz="UTC"),
}


def keyed_arrow_schema(**columns: str) -> pa.Schema:
    """The Arrow schema of a bookkeeping table the loader writes (quarantine, webhooks,
    violations): column name -> our type name, the first column the non-null key."""
    names = list(columns)
    return pa.schema([pa.field(name, ARROW_TYPES[kind], nullable=name != names[0]) for name, kind in columns.items()])


class TypeConflict(ValueError):
    """A value its column cannot hold; the message goes to `_quarantine` with this reason."""

    def __init__(self, table: str, column: str, kind: str, value: Any):
        self.table, self.column, self.kind = table, column, kind
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        super().__init__(
            f"column {table}.{column} is {kind}, but this message has {json_kind(value)} {shown}; "
            f"fix the sender or change the column's type, then run `headwater quarantine replay`"
        )


class UnstorableValue(ValueError):
    """A value no column type can hold as sent (a NUL in text, a time outside UTC's years)."""

    def __init__(self, table: str, column: str, why: str):
        self.table, self.column = table, column
        super().__init__(f"column {table}.{column}: {why}; fix the sender, then run `headwater quarantine replay`")


class TooWide(ValueError):
    """A message with more columns than a warehouse table can take."""


# PostgreSQL's limit is 1,600 columns a table, and dlt adds _dlt_load_id and _dlt_id
MAX_TABLE_COLUMNS = 1_590
MAX_ROW_COLUMNS = 1_500


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def value_kind(column: str, value: Any, timestamp_columns: frozenset[str]) -> str:
    """The type a new column gets from its first value."""
    if column in timestamp_columns:
        return TIMESTAMP
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, (int, float)):
        return DOUBLE
    return TEXT


def warehouse_kind(data_type: str) -> str:
    """Map information_schema's data_type (DuckDB or PostgreSQL spelling) to our kinds."""
    spelled = data_type.lower()
    if "timestamp" in spelled or spelled == "date":
        return TIMESTAMP
    if "bool" in spelled:
        return BOOLEAN
    if "int" in spelled and "interval" not in spelled:
        return BIGINT
    if any(word in spelled for word in ("double", "real", "float", "numeric", "decimal")):
        return DOUBLE
    return TEXT


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 text as an aware datetime in UTC (naive means UTC), as the collect
    endpoint parses it; ValueError when it is no date or falls outside the years 1-9999."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{value[:40]!r} falls outside the years 1-9999 in UTC") from None


def coerce(table: str, column: str, kind: str, value: Any) -> Any:
    """`value` as `kind` can hold it, or TypeConflict."""
    value_type = type(value)
    if kind == TEXT:
        if value_type is str:
            if "\x00" in value:
                raise UnstorableValue(table, column, "the text holds a NUL character (\\u0000), which "
                                                     "PostgreSQL cannot store")
            return value
        if value_type is bool:
            return "true" if value else "false"
        if value_type in (int, float):
            return repr(value)
    elif kind == DOUBLE:
        if value_type in (int, float):
            return float(value)
    elif kind == BOOLEAN:
        if value_type is bool:
            return value
    elif kind == BIGINT:
        if value_type is int or (value_type is float and value.is_integer()):
            return int(value)
    elif kind == TIMESTAMP:
        if value_type is datetime:
            try:
                return value if value.tzinfo is None else value.astimezone(timezone.utc)
            except OverflowError:
                raise UnstorableValue(table, column, f"{value!s} falls outside the years 1-9999 in UTC") from None
        if value_type is str:
            try:
                return parse_timestamp(value)
            except ValueError:
                pass
    raise TypeConflict(table, column, kind, value)
