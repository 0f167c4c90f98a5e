"""Staging tables that read each raw table once: only rows loaded since the last build.

Why: the staging models that scan raw tables (identifier rows, page views, purchase reports)
are one row per raw row, so a build that rescans every event costs as much as the whole
history, while a day's build only has a day's events to add. Each of these models is a
UNION of one SELECT per raw table (a `RawPart`); this module runs each part over the new
rows only and appends the result.

What "new" means depends on how the raw table is loaded:

- Segment tables (`tracks`, `pages`, `identifies`, ...) are insert-only (the spool loader
  merges on the message id and keeps the first copy), and every row carries `uuid_ts`, the
  time of the load that inserted it. A build takes the rows whose load it has not processed
  yet, and records those loads in `cdp_staging.raw_watermarks`. Tracking the loads
  themselves, not a max timestamp, stays exact when two loaders commit out of order (on
  PostgreSQL several may run at once). Loads more than a day older than a build's start
  (COMMIT_ALLOWANCE: a load commits within a day) were all visible to that build, so they
  fold into one floor row and the table stays small.
- Cloud-source tables (Shopify, Stripe, Mailchimp) are MERGEd by dlt: a changed customer
  or a cancelled order replaces its earlier row, and a Stripe charge's order id comes from
  another table. Their parts are re-read whole each build (their rows replace the earlier
  observations of that table). They are a small share of the rows: one per customer,
  order or payment, against dozens of events per person.

A full refresh, a model whose columns changed, or a missing target starts the table (and
its watermarks) from scratch. Rows are filtered by the build's `as_of` downstream, never
here, so a later build with a later `as_of` still sees every row loaded before.

A table a later step reads row by row (models.rejoin, models.staging.row_batches) asks for a
marker column: every row a refresh writes, appended or re-read, gets that refresh's time in
it, so the later step can tell which rows' content is new since it last ran without re-reading
the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from models.adapter import Engine, literal, quote, timestamp_literal
from models.build import BuildContext
from models.catalog import Model

WATERMARKS = '"cdp_staging"."raw_watermarks"'
WATERMARK_COLUMNS = {"model": "VARCHAR", "source": "VARCHAR", "source_table": "VARCHAR", "loaded_at": "TIMESTAMPTZ",
                     "is_floor": "BOOLEAN"}
LOAD_TIME = "uuid_ts"
FRESH, KEPT = quote("refresh_fresh_rows"), quote("refresh_kept_markers")  # temporary, during a re-read
# a load commits within this time of its uuid_ts; so once a build has run, every load older than
# its start minus this was visible to it and is processed: one floor row stands for them all
COMMIT_ALLOWANCE = timedelta(days=1)


@dataclass(frozen=True)
class RawPart:
    """The SELECT mapping one raw table onto a staging model's columns.

    `sql` names the raw table as `"source"."table"` (with or without an alias); the rows it
    produces carry `owner` in the model's `owner_column` (e.g. source_table), so the rows of
    one raw table can be replaced together.
    """

    source: str
    table: str
    sql: str
    owner: str | None = None

    @property
    def relation(self) -> str:
        return f"{quote(self.source)}.{quote(self.table)}"


@dataclass
class RefreshReport:
    """What one incremental refresh did: raw tables whose new loads were appended, and those re-read
    (with their sources); `refreshed_at` is the marker its rows got, when the table has one."""

    started_over: bool = False
    appended: list[str] = field(default_factory=list)
    reread: list[str] = field(default_factory=list)
    reread_sources: list[str] = field(default_factory=list)
    refreshed_at: datetime | None = None


def restrict(part: RawPart, condition: str) -> str:
    """The part's SELECT over only the raw rows matching `condition` (SQL on the raw table's columns)."""
    pattern = re.compile(re.escape(part.relation) + r"(\s+AS\s+(\w+|\"[^\"]+\"))?")

    def replace(match: re.Match) -> str:
        alias = match.group(2) or quote(part.table)
        return f"(SELECT * FROM {part.relation} WHERE {condition}) AS {alias}"

    sql, count = pattern.subn(replace, part.sql)
    if not count:
        raise ValueError(f"the SELECT for {part.relation} does not read it")
    return sql


def _ensure_watermarks(engine: Engine) -> None:
    if list(WATERMARK_COLUMNS) != engine.columns("cdp_staging").get("raw_watermarks"):
        engine.create_table(WATERMARKS, WATERMARK_COLUMNS)


def _watermarks(engine: Engine, model: Model, part: RawPart) -> tuple[datetime | None, list[datetime]]:
    """(floor, processed loads above it) of one raw table for one model."""
    rows = engine.run(f"SELECT loaded_at, is_floor FROM {WATERMARKS} WHERE model = %s AND source = %s "
                      f"AND source_table = %s ORDER BY loaded_at", [model.key, part.source, part.table])
    floors = [row["loaded_at"] for row in rows if row["is_floor"]]
    return (max(floors) if floors else None), [row["loaded_at"] for row in rows if not row["is_floor"]]


def new_loads_condition(floor: datetime | None, processed: list[datetime]) -> str:
    """Raw rows of loads not processed yet: above the floor and not one of the loads processed above it."""
    conditions = [f"{quote(LOAD_TIME)} > {timestamp_literal(floor)}"] if floor is not None else []
    if processed:
        conditions.append(f"{quote(LOAD_TIME)} NOT IN ({', '.join(timestamp_literal(moment) for moment in processed)})")
    return " AND ".join(conditions) or "TRUE"


def _record_loads(engine: Engine, model: Model, part: RawPart, loads: list[datetime], floor: datetime | None,
                  started: datetime) -> None:
    """Add this build's loads; raise the floor to the build's start minus the commit allowance."""
    key = [model.key, part.source, part.table]
    engine.insert_rows(WATERMARKS, list(WATERMARK_COLUMNS), [(*key, moment, False) for moment in loads])
    new_floor = started - COMMIT_ALLOWANCE
    if floor is not None and floor >= new_floor:
        return
    engine.run(f"DELETE FROM {WATERMARKS} WHERE model = %s AND source = %s AND source_table = %s "
               f"AND (is_floor OR loaded_at <= {timestamp_literal(new_floor)})", key)
    engine.insert_rows(WATERMARKS, list(WATERMARK_COLUMNS), [(*key, new_floor, True)])


def _columns_match(engine: Engine, model: Model, columns: dict[str, str]) -> bool:
    existing = engine.columns(model.schema).get(model.name)
    return existing == list(columns)


def next_marker(engine: Engine, model: Model, marker_column: str, started: datetime) -> datetime:
    """The marker for rows written now: `started`, or just after the newest marker already in the
    table (a clock set back must not give new rows a marker older than the rows a later step
    already read). A table without the column (written by older code) has no newest marker."""
    if marker_column not in (engine.columns(model.schema).get(model.name) or []):
        return started
    newest = engine.scalar(f"SELECT MAX({quote(marker_column)}) AS newest FROM {model.target}")
    if newest is not None and newest >= started:
        return newest + timedelta(microseconds=1)
    return started


def take_state(engine: Engine, table: str, columns: dict[str, str], key: str) -> dict | None:
    """The one state row of `key` (column `model`) in `table`, removed until the caller writes a new one.

    Removing it first means a build that fails half-way leaves no state, so the next build
    starts the model over instead of trusting a half-written table. A table of another layout
    is made again (no state)."""
    if list(columns) != engine.table_columns(table):
        engine.create_table(table, columns)
        return None
    names = ", ".join(quote(column) for column in columns if column != "model")
    rows = engine.run(f"SELECT {names} FROM {table} WHERE model = %s", [key])
    engine.run(f"DELETE FROM {table} WHERE model = %s", [key])
    return rows[0] if len(rows) == 1 else None


def reread_parts(engine: Engine, parts: list[RawPart]) -> list[RawPart]:
    """The parts whose raw table has no load time (dlt merges it): re-read whole each build."""
    return [part for part in parts if not _has_load_time(engine, part)]


def refresh(model: Model, context: BuildContext, engine: Engine, parts: list[RawPart], columns: dict[str, str],
            owner_column: str = "source_table", marker_column: str | None = None) -> RefreshReport:
    """Bring `model`'s table up to date with `parts`: append the new rows of insert-only tables,
    re-read the rest; start over on a full refresh or when the table's columns changed.

    With `marker_column`, the table has that column too (TIMESTAMPTZ, after `columns`) and every
    row this refresh writes gets `report.refreshed_at` in it."""
    _ensure_watermarks(engine)
    report = RefreshReport()
    if marker_column is not None:
        columns = {**columns, marker_column: "TIMESTAMPTZ"}
    reread = reread_parts(engine, parts)
    # appended rows without their watermarks (a new watermark table) would be appended twice
    lost_state = len(reread) < len(parts) and not engine.scalar(
        f"SELECT COUNT(*) AS n FROM {WATERMARKS} WHERE model = %s", [model.key])
    if context.full_refresh or lost_state or not _columns_match(engine, model, columns):
        engine.create_table(model.target, columns)
        engine.run(f"DELETE FROM {WATERMARKS} WHERE model = %s", [model.key])
        report.started_over = True
    started = datetime.now(timezone.utc)
    names = ", ".join(quote(name) for name in columns)
    selected = names
    if marker_column is not None:
        report.refreshed_at = next_marker(engine, model, marker_column, started)
        selected = ", ".join([quote(name) for name in columns if name != marker_column]
                             + [f"{timestamp_literal(report.refreshed_at)} AS {quote(marker_column)}"])
    # a merged table's earlier observations go first: all of them, whichever part made them
    groups: dict[tuple[str, str], list[RawPart]] = {}
    for part in reread:
        groups.setdefault((part.source, part.owner or part.table), []).append(part)
    for (source, owner), group in groups.items():
        if marker_column is None:
            engine.run(f"DELETE FROM {model.target} WHERE source = %s AND {quote(owner_column)} = %s", [source, owner])
            for part in group:
                engine.run(f"INSERT INTO {model.target} ({names}) SELECT {selected} FROM ({part.sql}) AS every_row")
        else:
            _reread_keeping_markers(engine, model, group, columns, marker_column, report.refreshed_at,
                                    f"source = {literal(source)} AND {quote(owner_column)} = {literal(owner)}")
        for part in group:
            report.reread.append(part.relation)
        report.reread_sources = list(dict.fromkeys([*report.reread_sources, source]))
    by_table: dict[str, list[RawPart]] = {}
    for part in parts:
        if part not in reread:
            by_table.setdefault(part.relation, []).append(part)
    for relation, table_parts in by_table.items():  # a table may feed several parts: one set of loads for all
        floor, processed = _watermarks(engine, model, table_parts[0])
        loads = [row["loaded_at"] for row in engine.run(
            f"SELECT DISTINCT {quote(LOAD_TIME)} AS loaded_at FROM {relation} "
            f"WHERE {new_loads_condition(floor, processed)} AND {quote(LOAD_TIME)} IS NOT NULL")]
        if loads:
            chosen = f"{quote(LOAD_TIME)} IN ({', '.join(timestamp_literal(moment) for moment in loads)})"
            for part in table_parts:
                engine.run(f"INSERT INTO {model.target} ({names}) SELECT {selected} FROM ({restrict(part, chosen)}) "
                           f"AS new_rows")
            report.appended.append(relation)
        _record_loads(engine, model, table_parts[0], loads, floor, started)
    return report


def _row_digest(columns: list[str], alias: str) -> str:
    """An MD5 of a row's values (length-prefixed, so no two rows share an encoding): rows compared by one column."""
    cells = [f"COALESCE(CAST(LENGTH(CAST({alias}.{quote(c)} AS VARCHAR)) AS VARCHAR) || ':' || "
             f"CAST({alias}.{quote(c)} AS VARCHAR), '-')" for c in columns]
    separator = literal(",")
    return "MD5(" + " || ".join(f"{cell} || {separator}" for cell in cells) + ")"


def _reread_keeping_markers(engine: Engine, model: Model, parts: list[RawPart], columns: dict[str, str],
                            marker_column: str, marker: datetime, owned: str) -> None:
    """Replace one merged raw table's rows (those matching `owned`) with what its parts give now;
    a row identical to one it replaces keeps that row's marker.

    Why keep it: the steps after this one redo the rows whose marker is new. A vendor table is
    re-read whole each build, but few of its rows changed; stamping every row anew made each
    later step redo the whole vendor table, and every person in it."""
    values = [name for name in columns if name != marker_column]
    names = ", ".join(quote(name) for name in values)
    fresh = " UNION ALL ".join(f"SELECT {names} FROM ({part.sql}) AS every_row" for part in parts)
    engine.replace_table(FRESH, fresh, temporary=True)
    engine.replace_table(KEPT, f"SELECT {_row_digest(values, 'old')} AS digest, MIN(old.{quote(marker_column)}) AS "
                               f"marker FROM {model.target} AS old WHERE {owned} GROUP BY 1", temporary=True)
    engine.run(f"DELETE FROM {model.target} WHERE {owned}")
    picked = ", ".join(f"fresh.{quote(name)}" for name in values)
    engine.run(f"INSERT INTO {model.target} ({names}, {quote(marker_column)}) "
               f"SELECT {picked}, COALESCE(kept.marker, {timestamp_literal(marker)}) FROM {FRESH} AS fresh "
               f"LEFT JOIN {KEPT} AS kept ON kept.digest = {_row_digest(values, 'fresh')}")
    engine.drop_table(FRESH)
    engine.drop_table(KEPT)


def merged_table_rows(engine: Engine, target: str, alias: str) -> str | None:
    """A condition on `target`'s rows (as `alias`) true for those of a raw table merged by dlt
    (no load time: re-read whole each build, so its rows deleted at the vendor vanish), from
    its (source, source_table) columns; None when it has no such rows."""
    tables = [(row["source"], row["source_table"])
              for row in engine.run(f"SELECT DISTINCT source, source_table FROM {target}")]
    if not tables:
        return None
    sources = ", ".join(literal(source) for source in dict.fromkeys(source for source, _ in tables))
    rows = engine.run(f"SELECT table_schema, table_name, MAX(CASE WHEN column_name = {literal(LOAD_TIME)} THEN 1 "
                      f"ELSE 0 END) AS loaded FROM information_schema.columns WHERE table_schema IN ({sources}) "
                      f"GROUP BY table_schema, table_name")
    merged = {(row["table_schema"], row["table_name"]) for row in rows if not row["loaded"]}
    conditions = [f"({alias}.source = {literal(source)} AND {alias}.source_table = {literal(table)})"
                  for source, table in tables if (source, table) in merged]
    return "(" + " OR ".join(conditions) + ")" if conditions else None


def _has_load_time(engine: Engine, part: RawPart) -> bool:
    return bool(engine.run(
        "SELECT 1 AS found FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "AND column_name = %s", [part.source, part.table, LOAD_TIME]))
