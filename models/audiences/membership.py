"""Runners for audience membership: evaluate every audience now, then record entries and exits.

Why history is kept by a runner and not rebuilt: who was in an audience last week cannot be
derived from raw data once traits change, so cdp.audience_history is state the builds
accumulate. A full refresh keeps it (it is a log, not derived data); cdp.audience_members is
its open rows, so `entered_at` is the build that first saw the current stay, and a full
rebuild as of the same instant leaves members unchanged.
"""

from __future__ import annotations

import logging

from models.adapter import Engine, literal
from models.audiences.compiler import AudienceCompiler, AudienceError
from models.audiences.config import default_audiences
from models.build import BuildContext
from models.catalog import Model

log = logging.getLogger(__name__)
HISTORY_COLUMNS = {"audience": "VARCHAR", "profile_id": "VARCHAR", "entered_at": "TIMESTAMPTZ",
                   "exited_at": "TIMESTAMPTZ"}


def compiler_for(context: BuildContext, engine: Engine) -> AudienceCompiler:
    return AudienceCompiler(engine, context.config.audiences.active(), context.as_of,
                            [source.name for source in context.config.sources])


def buildable(compiler: AudienceCompiler, context: BuildContext) -> list[str]:
    """The audiences to evaluate. A shipped default the warehouse cannot serve yet (its trait
    column is not built) is skipped with a warning; an audience the user wrote fails the build."""
    shipped = {d.name: d for d in default_audiences()}
    written = {d.name for d in context.config.audiences.root}
    names = []
    for name, definition in compiler.audiences.items():
        try:
            compiler.sql(name)
        except AudienceError as error:
            if name in written or shipped.get(name) != definition:
                raise
            log.warning("skipping default audience %s: %s", name, error)
            continue
        names.append(name)
    return names


def write_audience_evaluations(model: Model, context: BuildContext, engine: Engine) -> None:
    compiler = compiler_for(context, engine)
    engine.replace_table(model.target, compiler.members_sql(buildable(compiler, context)))


def write_audience_history(model: Model, context: BuildContext, engine: Engine) -> None:
    """Close the stays of profiles that left, open stays for profiles that entered."""
    if not engine.table_exists(model.schema, model.name):
        engine.create_table(model.target, HISTORY_COLUMNS)
    as_of = f"CAST({literal(context.as_of.isoformat())} AS TIMESTAMPTZ)"
    current = '"cdp_staging"."audience_evaluations"'
    engine.run(f"UPDATE {model.target} SET exited_at = {as_of} WHERE exited_at IS NULL AND NOT EXISTS ("
               f"SELECT 1 FROM {current} AS now_in WHERE now_in.audience = {model.target}.audience "
               f"AND now_in.profile_id = {model.target}.profile_id)")
    engine.run(f"INSERT INTO {model.target} (audience, profile_id, entered_at, exited_at) "
               f"SELECT DISTINCT now_in.audience, now_in.profile_id, {as_of}, CAST(NULL AS TIMESTAMPTZ) "
               f"FROM {current} AS now_in WHERE NOT EXISTS (SELECT 1 FROM {model.target} AS stay "
               f"WHERE stay.audience = now_in.audience AND stay.profile_id = now_in.profile_id "
               f"AND stay.exited_at IS NULL)")
