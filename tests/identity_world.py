"""Hand-made raw Segment tables for the identity tests: the loader's layout, nothing more.

Rows are dicts of Segment warehouse columns (id, anonymous_id, user_id, email, phone,
context_traits_email, previous_id, timestamp); a table gets exactly the columns its rows
use, like a source that never sent a trait has no column for it.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from headwater.config import HeadwaterConfig, parse_config
from headwater.warehouse import Warehouse
from models.adapter import Engine, quote
from models.build import BuildContext, build_models
from models.catalog import catalog

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
_ids = itertools.count(1)


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def row(minutes: int, **identifiers: str) -> dict:
    """One raw row at START + minutes, with a fresh message id."""
    return {"id": f"msg-{next(_ids)}", "timestamp": at(minutes), **identifiers}


def _kind(value) -> str:
    """The column type dlt would give this Python value."""
    if isinstance(value, datetime):
        return "TIMESTAMPTZ"
    return "BIGINT" if isinstance(value, int) else "VARCHAR"


def load_raw(warehouse: Warehouse, source: str, table: str, rows: list[dict]) -> None:
    """Create (or add to) a raw Segment table with the columns these rows use."""
    columns = list(dict.fromkeys(key for r in rows for key in r))
    with warehouse.connect() as connection:
        engine = Engine(connection, warehouse.dialect)
        engine.ensure_schema(source)
        target = f"{quote(source)}.{quote(table)}"
        kinds = {c: _kind(next(r[c] for r in rows if r.get(c) is not None)) for c in columns}
        if not engine.table_exists(source, table):
            engine.create_table(target, kinds)
        for column in set(columns) - set(engine.columns(source).get(table, [])):  # new trait: new column
            engine.run(f"ALTER TABLE {target} ADD COLUMN {quote(column)} {kinds[column]}")
        engine.insert_rows(target, columns, [[r.get(c) for c in columns] for r in rows])
        engine.commit()


def config(*sources: str, identity: dict | None = None) -> HeadwaterConfig:
    raw = {"sources": [{"name": s, "type": "events", "write_key": "k"} for s in sources or ("web",)]}
    if identity:
        raw["identity"] = identity
    return parse_config(raw)


IDENTITY_LAYERS = ("staging", "identity")


def build(warehouse: Warehouse, cfg: HeadwaterConfig | None = None, **options) -> dict[str, int]:
    """Build the staging and identity models (later layers have their own tests)."""
    models = [model for model in catalog() if model.layer in IDENTITY_LAYERS]
    return build_models(BuildContext(warehouse, cfg or config(), **options), models)


def profiles(warehouse: Warehouse) -> dict[str, set[tuple[str, str]]]:
    """profile_id -> its (id_type, id_value) pairs."""
    out: dict[str, set[tuple[str, str]]] = {}
    for r in warehouse.query("SELECT profile_id, id_type, id_value FROM cdp.profile_identities"):
        out.setdefault(r["profile_id"], set()).add((r["id_type"], r["id_value"]))
    return out


def profile_of(warehouse: Warehouse, id_type: str, id_value: str) -> str | None:
    rows = warehouse.query("SELECT profile_id FROM cdp.profile_identities WHERE id_type = %s AND id_value = %s",
                           [id_type, id_value])
    return rows[0]["profile_id"] if rows else None


def rejections(warehouse: Warehouse) -> list[dict]:
    return warehouse.query("SELECT * FROM cdp.identity_rejections ORDER BY seen_at, id_type, id_value")
