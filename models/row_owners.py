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

from models.adapter import Engine
from models.build import BuildContext
from models.catalog import Model

CHANGES = '"cdp_staging"."row_profile_changes"'
CHANGE_COLUMNS = {"source": "VARCHAR", "source_table": "VARCHAR", "row_id": "VARCHAR"}
VERSION = '"cdp_staging"."row_profile_version"'
VERSION_COLUMNS = {"version": "VARCHAR", "changes_since": "VARCHAR"}
PREVIOUS = '"cdp_staging"."row_profiles__previous"'


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
    """Recompute row_profiles (its SQL file), keeping the rows whose person changed since the last build."""
    before = current_version(engine)
    comparable = (before is not None and not context.full_refresh
                  and engine.columns(model.schema).get(model.name) == list(model.columns))
    # no version while the tables change: a build that fails half-way leaves "everything changed"
    if before is None:
        engine.create_table(VERSION, VERSION_COLUMNS)
    else:
        engine.run(f"DELETE FROM {VERSION}")
    engine.drop_table(PREVIOUS)
    if comparable:
        engine.run(f"ALTER TABLE {model.target} RENAME TO row_profiles__previous")
    engine.replace_table(model.target, model.sql)
    if comparable:
        engine.replace_table(CHANGES, _changes_sql(PREVIOUS, model.target))
        engine.drop_table(PREVIOUS)
    else:
        engine.create_table(CHANGES, CHANGE_COLUMNS)
    since = before.version if comparable and before is not None else None
    engine.insert_rows(VERSION, list(VERSION_COLUMNS), [(uuid.uuid4().hex, since)])
