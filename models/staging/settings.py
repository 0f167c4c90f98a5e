"""Runners that put build settings into the warehouse, so plain SQL models can join them.

Why tables and not templated SQL: a model stays one valid SELECT that sqlglot can read
and transpile, and `as_of`, the id-type rules and the blocklist are visible to analysts.
"""

from __future__ import annotations

from models.adapter import Engine
from models.build import BuildContext
from models.catalog import Model


def write_build_context(model: Model, context: BuildContext, engine: Engine) -> None:
    columns = {"as_of": "TIMESTAMPTZ", "full_refresh": "BOOLEAN", "default_country": "VARCHAR"}
    engine.create_table(model.target, columns)
    engine.insert_rows(model.target, list(columns),
                       [(context.as_of, context.full_refresh, context.config.identity.default_country)])


def write_id_types(model: Model, context: BuildContext, engine: Engine) -> None:
    identity = context.config.identity
    engine.create_table(model.target, {"id_type": "VARCHAR", "normalize": "VARCHAR",
                                       "max_per_profile": "INTEGER", "priority": "INTEGER"})
    engine.insert_rows(model.target, ["id_type", "normalize", "max_per_profile", "priority"], [
        (name, rule.normalize, rule.limit, identity.rank(name)) for name, rule in identity.id_types.items()])


def write_blocklist(model: Model, context: BuildContext, engine: Engine) -> None:
    identity = context.config.identity
    rows = [("*", pattern) for pattern in identity.blocked_values]
    rows += [(name, pattern) for name, rule in identity.id_types.items() for pattern in rule.blocked_values]
    engine.create_table(model.target, {"id_type": "VARCHAR", "pattern": "VARCHAR"})
    engine.insert_rows(model.target, ["id_type", "pattern"], rows)
