"""Tables of raw rows joined to their person, kept up to date by redoing only the rows that changed.

Why: consent and trait observations, cdp.events and profile page views are each a table of
person-less rows (kept incrementally by models.incremental, with a marker of when each row
was written) joined to cdp_staging.row_profiles. Rejoining every row each build costs as much
as the whole history; a build changes few rows. A target row changes only when

- its raw row's person changed (cdp_staging.row_profile_changes, models.row_owners),
- its raw row's content is new (a marker newer than the last build's: appended or re-read),
- it crosses the build's as_of (the ones between the last build's as_of and this one's),
- or it is always redone (`PersonJoin.always`: a person found another way than row_profiles).

Those rows are deleted from the target (by its key) and inserted again through the same
SELECT a whole rebuild uses; rows of a re-read source whose raw row is gone are deleted.
Anything this step cannot vouch for rebuilds the table whole (and so does a build that changed
more than WHOLE_SHARE of the rows, where that is cheaper): the first build, a full
refresh, a changed table layout, row_profiles versions it did not see (it skipped a build),
a person-less table that started over, a changed set of left-out profiles (`excluded`).
`cdp_staging.rejoin_state` keeps, per target, what its rows were built from; it is deleted
while the target changes, so a build that fails half-way leaves a whole rebuild to the next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from models import profile_changes
from models.adapter import Engine, literal, quote, timestamp_literal
from models.build import BuildContext
from models.incremental import take_state
from models.row_owners import CHANGES, current_version

MARKER = "refreshed_at"  # the person-less tables' marker column (models.incremental.refresh)
STATE = '"cdp_staging"."rejoin_state"'
STATE_COLUMNS = {"model": "VARCHAR", "row_profiles_version": "VARCHAR", "refreshed_at": "TIMESTAMPTZ",
                 "as_of": "TIMESTAMPTZ", "excluded": "VARCHAR"}
TOUCHED = quote("rejoin_touched")
# past this share of the person-less rows, deleting and inserting the changed rows costs more than
# writing the table anew (DuckDB, 20,000-person world: trait observations, where re-read vendor
# rows are half the rows, took twice as long row by row)
WHOLE_SHARE = 0.25


@dataclass(frozen=True)
class PersonJoin:
    """One target table of raw rows with their person, and how it is made from its person-less rows.

    `select` turns a relation of person-less rows (all of `values`, or the changed ones) into
    target rows, with every filter the target has. `key` maps each target key column to an
    expression over a person-less row (alias `v`); `raw_row` is (source, source_table, row_id)
    over `v`, the row's name in row_profiles. `time_column` is the column `select` filters by
    the build's as_of (the same in both tables).
    """

    target: str
    columns: tuple[str, ...]
    values: str
    select: Callable[[str], str]
    key: dict[str, str]
    raw_row: tuple[str, str, str]
    time_column: str | None = None
    always: str | None = None
    excluded: str | None = None


@dataclass(frozen=True)
class _State:
    row_profiles_version: str
    refreshed_at: datetime | None
    as_of: datetime | None
    excluded: str | None


def _take_state(engine: Engine, key: str) -> _State | None:
    """The target's state, removed until this build's rows are in."""
    row = take_state(engine, STATE, STATE_COLUMNS, key)
    return _State(**row) if row is not None else None


def _fingerprint(engine: Engine, excluded: str | None) -> str | None:
    """A digest of the left-out profiles: when they change, every row of theirs may move in or out."""
    if excluded is None:
        return None
    ids = [str(row["profile_id"]) for row in engine.run(f"SELECT DISTINCT profile_id FROM ({excluded}) AS left_out")]
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def _equal(left: dict[str, str], right: dict[str, str]) -> str:
    """Two spellings of the same key columns are equal, column by column."""
    return " AND ".join(f"{left[column]} = {right[column]}" for column in left)


def _null_key(expressions: list[str]) -> str:
    """Rows with a NULL in their key cannot be found by it: they are redone each build."""
    return " OR ".join(f"{expression} IS NULL" for expression in expressions)


def rejoin(engine: Engine, context: BuildContext, key: str, join: PersonJoin,
           reread_sources: Sequence[str] = ()) -> bool:
    """Bring `join.target` up to date; returns False when it was rebuilt whole.

    `key` names the target in cdp_staging.rejoin_state; `reread_sources` are sources whose
    person-less rows a refresh may have deleted (models.incremental re-reads their tables)."""
    state = _take_state(engine, key)
    publishing = key in profile_changes.producers()  # a by-profile model reads this table by person
    since = profile_changes.begin(engine, key) if publishing else None
    version = current_version(engine)
    bounds = engine.run(f"SELECT MIN({quote(MARKER)}) AS oldest, MAX({quote(MARKER)}) AS newest FROM {join.values}")[0]
    excluded = _fingerprint(engine, join.excluded)
    whole = (context.full_refresh or state is None or version is None or state.refreshed_at is None
             or engine.table_columns(join.target) != list(join.columns)
             or state.row_profiles_version not in (version.version, version.changes_since)
             or bounds["oldest"] is None or bounds["oldest"] > state.refreshed_at
             or state.excluded != excluded
             or (join.time_column is not None and state.as_of is None))
    if not whole:
        whole = not _redo_changed_rows(engine, context, join, state,
                                       version.changes_since == state.row_profiles_version, list(reread_sources),
                                       key if publishing else None)
    if whole and publishing:
        profile_changes.rebuild_publishing(engine, key, since, join.target, list(join.columns),
                                           join.select(join.values), context.full_refresh)
    elif whole:
        engine.replace_table(join.target, join.select(join.values))
    elif publishing:
        profile_changes.publish(engine, key, since)
    if version is not None:
        engine.insert_rows(STATE, list(STATE_COLUMNS), [(key, version.version, bounds["newest"], context.as_of,
                                                         excluded)])
    return not whole


def _redo_changed_rows(engine: Engine, context: BuildContext, join: PersonJoin, state: _State, persons_moved: bool,
                       reread_sources: list[str], producer: str | None) -> bool:
    """Delete and insert again the changed rows; False (nothing done) when so many changed that a
    whole rebuild is cheaper. With a `producer`, the people of the rows deleted and inserted
    join its change set (models.profile_changes)."""
    # joins, not EXISTS under OR: PostgreSQL would run such a subquery once per row
    changed = [f"v.{quote(MARKER)} > {timestamp_literal(state.refreshed_at)}"]
    moved = ""
    if persons_moved:
        source, source_table, row_id = join.raw_row
        moved = (f" LEFT JOIN {CHANGES} AS moved ON moved.source = {source} AND moved.source_table = {source_table} "
                 f"AND moved.row_id = {row_id}")
        changed.append("moved.row_id IS NOT NULL")
    if join.time_column is not None and state.as_of != context.as_of:
        low, high = sorted((state.as_of, context.as_of))
        changed.append(f"(v.{quote(join.time_column)} > {timestamp_literal(low)} "
                       f"AND v.{quote(join.time_column)} <= {timestamp_literal(high)})")
    if join.always:
        changed.append(f"({join.always})")
    keys = ", ".join(f"{expression} AS {quote(column)}" for column, expression in join.key.items())
    engine.replace_table(TOUCHED, f"SELECT {keys}, TRUE AS hit, COUNT(*) AS value_rows FROM {join.values} AS v"
                                  f"{moved} WHERE {' OR '.join(changed)} GROUP BY {', '.join(join.key.values())}",
                         temporary=True)
    redone = engine.scalar(f"SELECT COALESCE(SUM(value_rows), 0) AS n FROM {TOUCHED}")
    if redone > WHOLE_SHARE * engine.row_count(join.values):
        engine.drop_table(TOUCHED)
        return False
    touched = {column: f"touched.{quote(column)}" for column in join.key}
    target = {column: f"{join.target}.{quote(column)}" for column in join.key}
    # one statement per condition, not ORed: PostgreSQL would run an EXISTS under OR once per row
    redone_rows = [f"EXISTS (SELECT 1 FROM {TOUCHED} AS touched WHERE {_equal(touched, target)})",
                   _null_key(list(target.values()))]
    deleted_rows = list(redone_rows)
    if reread_sources:  # a re-read raw row may be gone, and its person-less rows with it
        sources = ", ".join(literal(source) for source in reread_sources)
        deleted_rows.append(f"source IN ({sources}) AND NOT EXISTS (SELECT 1 FROM {join.values} AS v "
                            f"WHERE {_equal(join.key, target)})")
    # with a producer, the people of the rows deleted and inserted join its change set (read by a
    # SELECT beside each statement: DuckDB's RETURNING is 30x slower than the DELETE itself)
    for condition in deleted_rows:
        if producer is not None:
            profile_changes.add(engine, producer, f"SELECT profile_id FROM {join.target} WHERE {condition}")
        engine.run(f"DELETE FROM {join.target} WHERE {condition}")
    rows = (f"(SELECT v.* FROM {join.values} AS v LEFT JOIN {TOUCHED} AS touched ON {_equal(touched, join.key)} "
            f"WHERE touched.hit OR {_null_key(list(join.key.values()))})")
    names = ", ".join(quote(column) for column in join.columns)
    engine.run(f"INSERT INTO {join.target} ({names}) SELECT {names} FROM ({join.select(rows)}) AS redone")
    for condition in redone_rows if producer is not None else ():  # the rows just inserted
        profile_changes.add(engine, producer, f"SELECT profile_id FROM {join.target} WHERE {condition}")
    engine.drop_table(TOUCHED)
    return True
