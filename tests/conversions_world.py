"""Hand-made raw tables for the conversions, attribution and audience tests.

Vendor tables get typed columns like dlt makes them (Shopify ids BIGINT, money DECIMAL,
Stripe `created` unix seconds, `metadata__order_id` flattened with `__`); Segment tables
use the loader's layout. A table gets exactly the columns its rows use.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from headwater.config import HeadwaterConfig, parse_config
from headwater.warehouse import Warehouse
from models.adapter import Engine, quote
from models.build import BuildContext, build_models

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
_ids = itertools.count(1)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _kind(values: list) -> str:
    sample = next((v for v in values if v is not None), "")
    if isinstance(sample, bool):
        return "BOOLEAN"
    if isinstance(sample, int):
        return "BIGINT"
    if isinstance(sample, Decimal):
        return "DECIMAL(18, 2)"
    if isinstance(sample, float):
        return "DOUBLE"
    if isinstance(sample, datetime):
        return "TIMESTAMPTZ"
    return "VARCHAR"


def load(warehouse: Warehouse, schema: str, table: str, rows: list[dict]) -> None:
    """Create (or add to) a raw table with the columns, typed from the values, these rows use."""
    columns = list(dict.fromkeys(key for r in rows for key in r))
    with warehouse.connect() as connection:
        engine = Engine(connection, warehouse.dialect)
        engine.ensure_schema(schema)
        target = f"{quote(schema)}.{quote(table)}"
        kinds = {c: _kind([r.get(c) for r in rows]) for c in columns}
        if not engine.table_exists(schema, table):
            engine.create_table(target, kinds)
        for column in set(columns) - set(engine.columns(schema).get(table, [])):
            engine.run(f"ALTER TABLE {target} ADD COLUMN {quote(column)} {kinds[column]}")
        engine.insert_rows(target, columns, [[r.get(c) for c in columns] for r in rows])
        engine.commit()


def event(when: datetime, **columns) -> dict:
    """One Segment row (tracks, pages, identifies or a per-event table) with a fresh messageId."""
    return {"id": f"msg-{next(_ids)}", "timestamp": when, **columns}


def track(warehouse: Warehouse, source: str, name: str, when: datetime, **columns) -> dict:
    """A track call as the loader writes it: one `tracks` row and one per-event-table row, same id."""
    table = name.lower().replace(" ", "_")
    row = event(when, event=table, event_text=name, **columns)
    identity = {k: v for k, v in row.items() if k in ("id", "timestamp", "anonymous_id", "user_id", "event",
                                                      "event_text") or k.startswith("context_")}
    load(warehouse, source, "tracks", [identity])
    load(warehouse, source, table, [row])
    return row


def config(**sections) -> HeadwaterConfig:
    raw = {"sources": [{"name": "web", "type": "events", "write_key": "k"},
                       {"name": "shop", "type": "shopify"}, {"name": "pay", "type": "stripe"}], **sections}
    return parse_config(raw)


def build(warehouse: Warehouse, cfg: HeadwaterConfig | None = None, as_of: datetime = NOW, **options) -> None:
    build_models(BuildContext(warehouse, cfg or config(), as_of=as_of, **options))


def profile_of(warehouse: Warehouse, id_type: str, id_value: str) -> str | None:
    rows = warehouse.query("SELECT profile_id FROM cdp.profile_identities WHERE id_type = %s AND id_value = %s",
                           [id_type, id_value])
    return rows[0]["profile_id"] if rows else None
