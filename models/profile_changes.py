"""Which people a table's last build changed: the change sets by-profile models read.

Why: a by-profile model (models.by_profile) redoes only the people whose input rows changed,
so every table it reads by person has to say which people those are. Each such table (a
*producer*) publishes, each time it is built, the profile ids whose rows it added, removed or
altered, under a new version that names the version the change set is relative to:

- `cdp_staging.profile_change_versions(producer, version, changes_since)`: one row per producer;
  `changes_since` is NULL when the change set is "everything" (first build, a full refresh,
  a table whose previous rows were not kept to compare with);
- `cdp_staging.profile_changes(producer, profile_id)`: the people of that change set.

A consumer that saw `changes_since` last time takes the change set; one that saw `version`
has nothing new from this producer; any other version (it skipped a build) means "rebuild
whole". Like models.row_owners, a producer removes its version row before its table changes,
so a build that fails half-way leaves "everything changed" to the next.

How a producer knows its changes: a table rebuilt whole is compared with the table it
replaces (EXCEPT ALL both ways, every column: cheap next to building it); models.rejoin
collects the people of the rows it deletes and inserts; a by-profile model publishes the
people it redid.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

import sqlglot

from models.adapter import Engine, literal, quote
from models.catalog import Model, catalog, read_by_person

CHANGES = '"cdp_staging"."profile_changes"'
CHANGE_COLUMNS = {"producer": "VARCHAR", "profile_id": "VARCHAR"}
VERSIONS = '"cdp_staging"."profile_change_versions"'
VERSION_COLUMNS = {"producer": "VARCHAR", "version": "VARCHAR", "changes_since": "VARCHAR"}


@lru_cache(maxsize=1)
def producers() -> frozenset[str]:
    """Every model a by-profile model reads by person: they publish change sets."""
    keyed = set()
    for model in catalog():
        if model.by_profile is not None:
            keyed.update(keyed_inputs(model))
    return frozenset(keyed)


def keyed_inputs(model: Model) -> tuple[str, ...]:
    """The shipped models `model` reads that have a profile_id column (the rest are read whole)."""
    return read_by_person(model, {other.key: other for other in catalog()})


def _ensure_tables(engine: Engine) -> None:
    engine.ensure_schema("cdp_staging")
    tables = engine.columns("cdp_staging")
    if tables.get("profile_changes") != list(CHANGE_COLUMNS):
        engine.create_table(CHANGES, CHANGE_COLUMNS)
    if tables.get("profile_change_versions") != list(VERSION_COLUMNS):
        engine.create_table(VERSIONS, VERSION_COLUMNS)


def versions(engine: Engine, keys: tuple[str, ...]) -> dict[str, tuple[str, str | None]]:
    """producer -> (version, changes_since) for the producers among `keys` that have one."""
    _ensure_tables(engine)
    if not keys:
        return {}
    names = ", ".join(literal(key) for key in keys)
    rows = engine.run(f"SELECT producer, version, changes_since FROM {VERSIONS} WHERE producer IN ({names})")
    return {row["producer"]: (row["version"], row["changes_since"]) for row in rows}


def begin(engine: Engine, producer: str) -> str | None:
    """Forget `producer`'s change set while its table changes; returns the version it was at."""
    _ensure_tables(engine)
    rows = engine.run(f"SELECT version FROM {VERSIONS} WHERE producer = %s", [producer])
    engine.run(f"DELETE FROM {VERSIONS} WHERE producer = %s", [producer])
    engine.run(f"DELETE FROM {CHANGES} WHERE producer = %s", [producer])
    return rows[0]["version"] if len(rows) == 1 else None


def add(engine: Engine, producer: str, profiles_sql: str) -> None:
    """Add the profile ids `profiles_sql` selects (a column named profile_id) to the change set."""
    engine.run(f"INSERT INTO {CHANGES} (producer, profile_id) SELECT DISTINCT {literal(producer)}, changed.profile_id "
               f"FROM ({profiles_sql}) AS changed WHERE changed.profile_id IS NOT NULL")


def publish(engine: Engine, producer: str, since: str | None) -> None:
    """Close the change set: relative to version `since`, or "everything" when None."""
    if since is None:
        engine.run(f"DELETE FROM {CHANGES} WHERE producer = %s", [producer])
    engine.insert_rows(VERSIONS, list(VERSION_COLUMNS), [(producer, uuid.uuid4().hex, since)])


def diff_profiles(before: str, after: str, columns: list[str]) -> str:
    """The profile ids of rows in one table and not the other (duplicates counted)."""
    names = ", ".join(quote(column) for column in columns)
    return (f"SELECT profile_id FROM (SELECT {names} FROM {before} EXCEPT ALL SELECT {names} FROM {after}) AS gone "
            f"UNION SELECT profile_id FROM (SELECT {names} FROM {after} EXCEPT ALL SELECT {names} FROM {before}) AS new")


def rebuild_publishing(engine: Engine, producer: str, since: str | None, target: str, columns: list[str],
                       select_sql: str, full_refresh: bool) -> None:
    """Rebuild `target` whole from `select_sql`; publish the people whose rows differ from the
    table it replaces, or "everything" when there is none to compare with (call `begin` first)."""
    table = sqlglot.exp.to_table(target)
    comparable = since is not None and not full_refresh and engine.table_columns(target) == columns
    before_name = f"{table.name}__before"
    before = f"{quote(table.db)}.{quote(before_name)}"
    engine.drop_table(before)
    if comparable:
        engine.run(f"ALTER TABLE {target} RENAME TO {quote(before_name)}")
    engine.replace_table(target, select_sql)
    if comparable:
        add(engine, producer, diff_profiles(before, target, columns))
        engine.drop_table(before)
    publish(engine, producer, since if comparable else None)


def rebuild_table(engine: Engine, model: Model, full_refresh: bool) -> None:
    """A table model that by-profile models read: rebuilt whole, its changed people published."""
    since = begin(engine, model.key)
    rebuild_publishing(engine, model.key, since, model.target, list(model.columns), model.sql, full_refresh)
