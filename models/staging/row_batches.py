"""Row-local staging models, redone only for the raw rows that changed since the last build.

Why: identifier observations, identifiers and identity edges are each computed row by row
from the table before them (one raw row's identifiers never depend on another row's), yet
they were recomputed over every raw row each build, while a day's build brings a day's rows.
Such a model marks its row-local read in its SQL with the alias `row_batch`
(`FROM cdp_staging.identifier_rows AS row_batch`); other reads (a whole-table lookup such as
the set of known user ids) stay whole. This step runs the same SQL with `row_batch` narrowed
to the changed raw rows, after deleting the model's rows for them.

A raw row (source, source_table, row_id) is changed when
- its upstream row was written since this model last ran (every row-batch table carries the
  `refreshed_at` of the build that last wrote it; models.incremental stamps identifier_rows),
- it crossed the build's as_of (models whose rows, or whose upstream's, are filtered by it name
  the time column, `as_of_column`; their own rows in the crossed span go too),
- or the model lists it as always redone (`always`: alias rows, whose previous_id's type
  depends on every row's user ids).
A merged vendor table is re-read whole each build, and its rows keep their marker where they did
not change (models.incremental), so only changed vendor rows are redone; the model's rows of
such a table whose raw row is gone upstream (deleted at the vendor) go too. A source table
whose every upstream row is new was re-read whole, so the model's rows of that table go first;
a table gone from upstream loses its rows too. The first build, --full-refresh, changed columns, other
identity settings, or an upstream that started over (its oldest row newer than what this model
saw) run the SQL whole. `cdp_staging.row_batch_state` keeps what each model last saw; it is
deleted while the model changes, so a build failing half-way leaves a whole run to the next.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from models.adapter import Engine, quote, timestamp_literal
from models.build import BuildContext
from models.catalog import Model
from models.incremental import merged_table_rows, next_marker, take_state

MARKER = "refreshed_at"
KEY = ("source", "source_table", "row_id")
STATE = '"cdp_staging"."row_batch_state"'
STATE_COLUMNS = {"model": "VARCHAR", "upstream_marker": "TIMESTAMPTZ", "as_of": "TIMESTAMPTZ",
                 "settings": "VARCHAR"}
BATCH = "_hw_row_batch"
ROW_BATCH_READ = re.compile(r"(?P<table>[\w\".]+)\s+AS\s+row_batch\b", re.IGNORECASE)


@dataclass(frozen=True)
class RowBatchModel:
    """What the step needs to know about a model beyond its SQL."""

    # the time column (upstream and here) by which the SQL, or a step before it, filters by as_of
    as_of_column: str | None = None
    always: str | None = None        # SQL over the upstream row: rows redone every build


MODELS = {
    "cdp_staging.identifier_observations": RowBatchModel(as_of_column="seen_at", always="previous_id IS NOT NULL"),
    # rows of the chain past as_of vanish upstream: each step drops its own by the same column
    "cdp_staging.identifiers": RowBatchModel(as_of_column="seen_at"),
    "cdp_staging.identity_edges": RowBatchModel(as_of_column="seen_at"),
}


def upstream_of(model: Model) -> str:
    tables = {match.group("table") for match in ROW_BATCH_READ.finditer(model.sql)}
    if len(tables) != 1:
        raise ValueError(f"{model.key}: a row-batch model reads exactly one table AS row_batch, found {sorted(tables)}")
    return tables.pop()


def settings_fingerprint(context: BuildContext) -> str:
    """Identity settings decide normalization, blocking and priorities: other settings, other rows."""
    return hashlib.sha256(context.config.identity.model_dump_json().encode()).hexdigest()


def write_row_batch(model: Model, context: BuildContext, engine: Engine) -> None:
    spec = MODELS[model.key]
    upstream = upstream_of(model)
    state = take_state(engine, STATE, STATE_COLUMNS, model.key)
    settings = settings_fingerprint(context)
    bounds = engine.run(f"SELECT MIN({quote(MARKER)}) AS oldest, MAX({quote(MARKER)}) AS newest FROM {upstream}")[0]
    marker = next_marker(engine, model, MARKER, datetime.now(timezone.utc))
    stamped = f"SELECT every_row.*, {timestamp_literal(marker)} AS {quote(MARKER)} FROM ({{sql}}) AS every_row"
    whole = (context.full_refresh or state is None or state["settings"] != settings
             or engine.columns(model.schema).get(model.name) != list(model.columns)
             or state["upstream_marker"] is None or bounds["oldest"] is None
             or bounds["oldest"] > state["upstream_marker"]
             or (spec.as_of_column is not None and state["as_of"] is None))
    if whole:
        engine.replace_table(model.target, stamped.format(sql=model.sql))
    else:
        _redo_changed_rows(engine, context, model, spec, upstream, state, stamped)
    engine.insert_rows(STATE, list(STATE_COLUMNS), [(model.key, bounds["newest"], context.as_of, settings)])


def _redo_changed_rows(engine: Engine, context: BuildContext, model: Model, spec: RowBatchModel, upstream: str,
                       state: dict, stamped: str) -> None:
    changed = [f"{quote(MARKER)} > {timestamp_literal(state['upstream_marker'])}"]
    if spec.as_of_column is not None and state["as_of"] != context.as_of:
        low, high = sorted((state["as_of"], context.as_of))
        column = quote(spec.as_of_column)
        crossed = f"({column} > {timestamp_literal(low)} AND {column} <= {timestamp_literal(high)})"
        changed.append(crossed)
        engine.run(f"DELETE FROM {model.target} WHERE {crossed}")  # gone upstream when as_of moved back
    if spec.always:
        changed.append(f"({spec.always})")
    engine.replace_table(BATCH, f"SELECT * FROM {upstream} WHERE {' OR '.join(changed)}", temporary=True)
    key = ", ".join(KEY)
    # tables re-read whole (every upstream row new) or gone from upstream: their old rows all go
    engine.run(f"""
        DELETE FROM {model.target} WHERE (source, source_table) IN (
            SELECT source, source_table FROM {upstream}
            GROUP BY source, source_table
            HAVING COUNT(*) = COUNT(*) FILTER (WHERE {quote(MARKER)} > {timestamp_literal(state['upstream_marker'])})
            UNION ALL
            SELECT source, source_table FROM (SELECT DISTINCT source, source_table FROM {model.target}) AS mine
            WHERE NOT EXISTS (SELECT 1 FROM {upstream} AS up
                              WHERE up.source = mine.source AND up.source_table = mine.source_table))""")
    merged = merged_table_rows(engine, model.target, model.target)
    if merged:  # a merged vendor table is re-read whole: its rows gone at the vendor are gone upstream
        engine.run(f"DELETE FROM {model.target} WHERE {merged} AND NOT EXISTS (SELECT 1 FROM {upstream} AS up "
                   f"WHERE up.source = {model.target}.source AND up.source_table = {model.target}.source_table "
                   f"AND up.row_id = {model.target}.row_id)")
    engine.run(f"DELETE FROM {model.target} WHERE ({key}) IN (SELECT {key} FROM {BATCH})")
    narrowed = ROW_BATCH_READ.sub(f"{BATCH} AS row_batch", model.sql)
    names = ", ".join(quote(name) for name in model.columns)
    engine.run(f"INSERT INTO {model.target} ({names}) SELECT {names} FROM ({stamped.format(sql=narrowed)}) AS batch")
    engine.drop_table(BATCH)
