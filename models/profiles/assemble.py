"""cdp.profiles: the fixed profile columns, one column per identify trait, and the computed traits.

Why a runner: the identify traits are whatever apps send (a new trait is a new column of
`identifies`), so the profile's columns are known only at build time. Each trait column gets
back the type its sources gave it (text when sources disagree).
"""

from __future__ import annotations

from models.adapter import Engine, literal, quote
from models.build import BuildContext
from models.catalog import Model

SQL_TYPES = {"boolean": "BOOLEAN", "number": "DOUBLE", "timestamp": "TIMESTAMPTZ", "text": "VARCHAR"}


def identify_trait_columns(engine: Engine, taken: set[str]) -> list[tuple[str, str]]:
    """(trait, SQL type) of every trait some profile has, except names a fixed or computed column owns."""
    rows = engine.run("SELECT trait, COUNT(DISTINCT value_type) AS kinds, MIN(value_type) AS kind "
                      "FROM cdp_staging.latest_traits GROUP BY trait ORDER BY trait")
    return [(row["trait"], SQL_TYPES[row["kind"]] if row["kinds"] == 1 else "VARCHAR")
            for row in rows if row["trait"] not in taken]


def profiles_sql(engine: Engine) -> str:
    core = engine.columns("cdp_staging")["profile_core"]
    computed = [c for c in engine.columns("cdp")["profile_traits"] if c != "profile_id"]
    traits = identify_trait_columns(engine, set(core) | set(computed))
    pivot = ", ".join(f"MAX(CASE WHEN trait = {literal(name)} THEN value END) AS {quote(name)}" for name, _ in traits)
    columns = [f"core.{quote(c)}" for c in core]
    columns += [f"CAST(identify.{quote(name)} AS {kind}) AS {quote(name)}" for name, kind in traits]
    columns += [f"computed.{quote(c)}" for c in computed]
    identify = (f"LEFT JOIN (SELECT profile_id, {pivot} FROM cdp_staging.latest_traits GROUP BY profile_id) AS identify "
                f"ON identify.profile_id = core.profile_id" if traits else "")
    return (f"SELECT {', '.join(columns)} FROM cdp_staging.profile_core AS core {identify} "
            f"LEFT JOIN cdp.profile_traits AS computed ON computed.profile_id = core.profile_id "
            # people who asked to be suppressed or deleted are in no profile, so in no audience or sync
            f"WHERE NOT EXISTS (SELECT 1 FROM cdp_staging.suppressed_profiles AS suppressed "
            f"WHERE suppressed.profile_id = core.profile_id)")


def write_profiles(model: Model, context: BuildContext, engine: Engine) -> None:
    engine.replace_table(model.target, profiles_sql(engine))
