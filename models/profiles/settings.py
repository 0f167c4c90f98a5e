"""Runners that put the `traits` settings into the warehouse, so the profile SQL can join them.

Why tables and not templated SQL (as in the staging layer): each model stays one SELECT that
sqlglot reads and transpiles, and analysts can see which rules built their profiles.
"""

from __future__ import annotations

from models.adapter import Engine
from models.build import BuildContext
from models.catalog import Model
from models.profiles.config import CONSENT_CATEGORIES

# sources not named in traits.source_precedence share this rank, after every named one
UNRANKED = 1000


def write_profile_settings(model: Model, context: BuildContext, engine: Engine) -> None:
    traits = context.config.traits
    columns = {"primary_identifier": "VARCHAR",
               **{f"consent_default_{category}": "BOOLEAN" for category in CONSENT_CATEGORIES}}
    engine.create_table(model.target, columns)
    engine.insert_rows(model.target, list(columns), [
        (traits.primary_identifier, *(traits.consent_granted_by_default(c) for c in CONSENT_CATEGORIES))])


def write_trait_source_precedence(model: Model, context: BuildContext, engine: Engine) -> None:
    named = context.config.traits.source_precedence
    rows = [(source, rank) for rank, source in enumerate(named, start=1)]
    rows += [(source.name, UNRANKED) for source in context.config.sources if source.name not in named]
    engine.create_table(model.target, {"source": "VARCHAR", "precedence": "INTEGER"})
    engine.insert_rows(model.target, ["source", "precedence"], rows)
