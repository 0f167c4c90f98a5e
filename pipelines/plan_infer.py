"""`headwater plan infer`: a first tracking plan written from what a source already sent.

Why from the warehouse: it is the record of every event a source has delivered, typed by
the loader, so a plan drafted from it matches today's traffic and turns tomorrow's drift
into violations. Each planned event gets its properties with the type their column holds;
a property is `required` when every row so far has it. Property names are the warehouse's
column names (snake_case, nested objects flattened to `parent_child`), so review the draft
before enforcing it: a sender using `orderId` must be planned as `orderId`.
"""

from __future__ import annotations

from typing import Any

from headwater.warehouse import Warehouse
from pipelines.column_types import BIGINT, BOOLEAN, DOUBLE, TEXT, TIMESTAMP
from pipelines.segment_layout import STANDARD_COLUMNS, TYPE_COLUMNS, TYPE_TABLES
from pipelines.spool_loader import existing_kinds
from pipelines.users_table import quote

JSON_TYPE_OF_KIND = {TEXT: "string", TIMESTAMP: "string", DOUBLE: "number", BIGINT: "integer", BOOLEAN: "boolean"}
NOT_PROPERTIES = frozenset(STANDARD_COLUMNS.values()) | frozenset(TYPE_COLUMNS.values()) | {
    "uuid_ts", "event", "event_text"}
# the plan's sections that describe one table's custom columns
SECTION_TABLES = {"identify": "identifies", "page": "pages", "screen": "screens", "group": "groups"}


def _is_property(column: str) -> bool:
    return column not in NOT_PROPERTIES and not column.startswith(("context_", "_dlt"))


def _schema_of(warehouse: Warehouse, schema: str, table: str, columns: dict[str, str]) -> dict[str, Any]:
    """Properties typed by their column; `required` where no row lacks the column's value."""
    names = sorted(columns)
    counts = ", ".join(f"count({quote(name)}) AS c{index}" for index, name in enumerate(names))
    [row] = warehouse.query(f"SELECT count(*) AS n{', ' + counts if counts else ''} "
                            f"FROM {quote(schema)}.{quote(table)}")
    total = int(row["n"])
    section: dict[str, Any] = {}
    required = [name for index, name in enumerate(names) if total and int(row[f"c{index}"]) == total]
    if required:
        section["required"] = required
    section["properties"] = {name: {"type": JSON_TYPE_OF_KIND.get(columns[name], "string")} for name in names}
    return section


def infer_plan(warehouse: Warehouse, schema: str) -> dict[str, Any]:
    """A plan (as the plan file's dict) for the events in `schema`; empty if nothing was loaded."""
    kinds = existing_kinds(warehouse, schema)
    plan: dict[str, Any] = {}
    tracks = kinds.get(TYPE_TABLES["track"])
    if tracks is not None:
        shared = set(tracks)
        events = warehouse.query(f"SELECT event, min(event_text) AS event_text FROM {quote(schema)}.tracks "
                                 f"GROUP BY event ORDER BY event")
        planned = {}
        for event in events:
            columns = kinds.get(event["event"])
            if columns is None:
                continue
            own = {name: kind for name, kind in columns.items() if name not in shared and _is_property(name)}
            planned[event["event_text"]] = _schema_of(warehouse, schema, event["event"], own)
        if planned:
            plan["track"] = planned
    for section, table in SECTION_TABLES.items():
        columns = kinds.get(table)
        if columns is not None:
            plan[section] = _schema_of(warehouse, schema, table,
                                       {name: kind for name, kind in columns.items() if _is_property(name)})
    return plan
