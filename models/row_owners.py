"""cdp_staging.row_profiles, and which raw rows changed person in this build.

Why a change set: the models that give raw rows their person (consent and trait observations,
cdp.events, profile page views) used to join every row to row_profiles each build, while a
day's build changes the person of few rows: the new ones, and those of profiles that merged
or split. row_profiles itself stays a full computation (its inputs, the identity graph, are
recomputed whole); this step compares it with the table it replaces and keeps the rows whose
person differs in `cdp_staging.row_profile_changes`, for models.rejoin.

`cdp_staging.row_profile_version` (one row) names this row_profiles (`version`, new each build)
and the version the change set is relative to (`changes_since`). It is empty (NULL) when the
change set cannot be trusted to be complete (first build, a full refresh, the previous table
or its version lost, its columns changed): then every consumer rebuilds whole. A consumer that
skipped a build sees a version it does not know and rebuilds whole too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from models import profile_changes
from models.adapter import Engine, literal, narrow_reads, quote, timestamp_literal
from models.build import BuildContext
from models.catalog import Model
from models.incremental import merged_table_rows, take_state

CHANGES = '"cdp_staging"."row_profile_changes"'
CHANGE_COLUMNS = {"source": "VARCHAR", "source_table": "VARCHAR", "row_id": "VARCHAR"}
VERSION = '"cdp_staging"."row_profile_version"'
VERSION_COLUMNS = {"version": "VARCHAR", "changes_since": "VARCHAR"}
PREVIOUS = '"cdp_staging"."row_profiles__previous"'
STATE = '"cdp_staging"."row_profiles_state"'
STATE_COLUMNS = {"model": "VARCHAR", "identifiers_marker": "TIMESTAMPTZ", "identities_version": "VARCHAR",
                 "as_of": "TIMESTAMPTZ"}
IDENTITIES = "cdp.profile_identities"
IDENTIFIERS_KEY = "cdp_staging.identifiers"
IDENTIFIERS = '"cdp_staging"."identifiers"'
MARKER = "refreshed_at"  # models.staging.row_batches stamps every identifiers row it writes
REDO = quote("row_profiles_redo")


@dataclass(frozen=True)
class RowProfileVersion:
    """The row_profiles of this build, and the one its change set is relative to (None: unknown)."""

    version: str
    changes_since: str | None


def current_version(engine: Engine) -> RowProfileVersion | None:
    """The version row_profiles is at, or None when it has none (never built by this step)."""
    if list(VERSION_COLUMNS) != engine.columns("cdp_staging").get("row_profile_version"):
        return None
    rows = engine.run(f"SELECT version, changes_since FROM {VERSION}")
    return RowProfileVersion(rows[0]["version"], rows[0]["changes_since"]) if len(rows) == 1 else None


def _changes_sql(previous: str, target: str) -> str:
    """Rows new in `target`, gone from it, or with another profile than in `previous`."""
    return (f"SELECT COALESCE(fresh.source, old.source) AS source, "
            f"COALESCE(fresh.source_table, old.source_table) AS source_table, "
            f"COALESCE(fresh.row_id, old.row_id) AS row_id "
            f"FROM {previous} AS old FULL OUTER JOIN {target} AS fresh ON fresh.source = old.source "
            f"AND fresh.source_table = old.source_table AND fresh.row_id = old.row_id "
            f"WHERE fresh.profile_id IS DISTINCT FROM old.profile_id")


def write_row_profiles(model: Model, context: BuildContext, engine: Engine) -> None:
    """Bring row_profiles (its SQL file) up to date, keeping the rows whose person changed since the last build."""
    before = current_version(engine)
    state = take_state(engine, STATE, STATE_COLUMNS, model.key)
    comparable = (before is not None and not context.full_refresh
                  and engine.columns(model.schema).get(model.name) == list(model.columns))
    # no version while the tables change: a build that fails half-way leaves "everything changed"
    if before is None:
        engine.create_table(VERSION, VERSION_COLUMNS)
    else:
        engine.run(f"DELETE FROM {VERSION}")
    identities = profile_changes.versions(engine, (IDENTITIES,)).get(IDENTITIES)
    marker = engine.scalar(f"SELECT MAX({quote(MARKER)}) AS newest FROM {IDENTIFIERS}")
    if not (comparable and _redo_changed_rows(engine, model, context, state, identities)):
        _recompute(engine, model, comparable)
    since = before.version if comparable and before is not None else None
    engine.insert_rows(VERSION, list(VERSION_COLUMNS), [(uuid.uuid4().hex, since)])
    engine.insert_rows(STATE, list(STATE_COLUMNS), [(model.key, marker, identities[0] if identities else None,
                                                     context.as_of)])


def _recompute(engine: Engine, model: Model, comparable: bool) -> None:
    """The whole table again, compared with the one it replaces."""
    engine.drop_table(PREVIOUS)
    if comparable:
        engine.run(f"ALTER TABLE {model.target} RENAME TO row_profiles__previous")
    engine.replace_table(model.target, model.sql)
    if comparable:
        engine.replace_table(CHANGES, _changes_sql(PREVIOUS, model.target))
        engine.drop_table(PREVIOUS)
    else:
        engine.create_table(CHANGES, CHANGE_COLUMNS)


def _redo_changed_rows(engine: Engine, model: Model, context: BuildContext, state: dict | None,
                       identities: tuple[str, str | None] | None) -> bool:
    """Redo only the raw rows whose identifiers or whose identifiers' people changed; False
    (nothing done) when what changed cannot be told from the last build's state.

    A row's person is the profile of its strongest usable identifier, so it can change only when
    the row's identifiers were redone (a newer marker in cdp_staging.identifiers), when the row
    was its person's (profile_identities' change set: merged, split or grown people), when one of
    its identifiers now belongs to such a person, or when the row is gone (a merged vendor
    table's row deleted at the vendor, a table no longer there).
    """
    bounds = engine.run(f"SELECT MIN({quote(MARKER)}) AS oldest FROM {IDENTIFIERS}")[0]
    if (state is None or identities is None or state["identities_version"] is None
            or state["identifiers_marker"] is None or state["as_of"] is None or context.as_of < state["as_of"]
            or bounds["oldest"] is None or bounds["oldest"] > state["identifiers_marker"]):
        return False  # as_of moved back: rows vanish from identifiers, found by no marker
    version, changes_since = identities
    people = f"SELECT profile_id FROM {profile_changes.CHANGES} WHERE producer = {literal(IDENTITIES)}"
    if state["identities_version"] == version:
        people = "SELECT CAST(NULL AS VARCHAR) AS profile_id WHERE 1 = 0"
    elif state["identities_version"] != changes_since or changes_since is None:
        return False
    key = "source, source_table, row_id"
    gone_tables = merged_table_rows(engine, model.target, "mine") or "FALSE"
    engine.replace_table(REDO, f"""
        SELECT DISTINCT {key} FROM (
            SELECT {key} FROM {IDENTIFIERS} WHERE {quote(MARKER)} > {timestamp_literal(state['identifiers_marker'])}
            UNION ALL
            SELECT {key} FROM {model.target} WHERE profile_id IN ({people})
            UNION ALL
            SELECT ids.source, ids.source_table, ids.row_id FROM {IDENTIFIERS} AS ids
            JOIN cdp.profile_identities AS identities
                ON identities.id_type = ids.id_type AND identities.id_value = ids.id_value
            WHERE identities.profile_id IN ({people})
            UNION ALL
            SELECT mine.source, mine.source_table, mine.row_id FROM {model.target} AS mine
            WHERE {gone_tables} AND NOT EXISTS (
                SELECT 1 FROM {IDENTIFIERS} AS ids WHERE ids.source = mine.source
                AND ids.source_table = mine.source_table AND ids.row_id = mine.row_id)
            UNION ALL
            SELECT mine.source, mine.source_table, mine.row_id FROM {model.target} AS mine
            WHERE NOT EXISTS (SELECT 1 FROM (SELECT DISTINCT source, source_table FROM {IDENTIFIERS}) AS up
                              WHERE up.source = mine.source AND up.source_table = mine.source_table)
        ) AS changed""", temporary=True)
    on = "redo.source = {t}.source AND redo.source_table = {t}.source_table AND redo.row_id = {t}.row_id"
    engine.replace_table(PREVIOUS, f"SELECT old.* FROM {model.target} AS old JOIN {REDO} AS redo ON "
                                   f"{on.format(t='old')}")
    engine.run(f"DELETE FROM {model.target} WHERE EXISTS (SELECT 1 FROM {REDO} AS redo WHERE "
               f"{on.format(t=model.target)})")
    narrowed = narrow_reads(model.sql, {IDENTIFIERS_KEY: f"SELECT ids.* FROM {IDENTIFIERS} AS ids JOIN {REDO} AS redo "
                                                        f"ON {on.format(t='ids')}"})
    names = ", ".join(quote(column) for column in model.columns)
    engine.run(f"INSERT INTO {model.target} ({names}) SELECT {names} FROM ({narrowed}) AS redone")
    fresh = f"(SELECT new.* FROM {model.target} AS new JOIN {REDO} AS redo ON {on.format(t='new')})"
    engine.replace_table(CHANGES, _changes_sql(PREVIOUS, fresh))
    engine.drop_table(PREVIOUS)
    engine.drop_table(REDO)
    return True
