"""Running models on a warehouse: one model, or all of them in dependency order.

The Dagster assets call `run_model` for each asset; `build_models` is the same loop without
Dagster, for tests and benchmarks. A model's whole work runs on one connection and is
committed when it finishes, so a failed model leaves the previous table in place on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from headwater.config import HeadwaterConfig
from headwater.import_target import import_target
from headwater.warehouse import Warehouse
from models import profile_changes
from models.adapter import Engine
from models.catalog import Model, catalog

BY_PROFILE_RUNNER = "models.by_profile:write_by_profile"


@dataclass(frozen=True)
class BuildContext:
    """What every model of one build shares."""

    warehouse: Warehouse
    config: HeadwaterConfig = field(default_factory=HeadwaterConfig)
    as_of: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    full_refresh: bool = False


Runner = Callable[[Model, BuildContext, Engine], None]


def _runner(model: Model) -> Runner:
    return import_target(BY_PROFILE_RUNNER if model.by_profile is not None else model.runner)


def run_model(model: Model, context: BuildContext, engine: Engine | None = None) -> int:
    """Materialize one model (on `engine`'s connection, else a new one); returns its row count."""
    if engine is None:
        with context.warehouse.connect() as connection:
            return run_model(model, context, Engine(connection, context.warehouse.dialect))
    engine.ensure_schema(model.schema)
    if model.materialized == "table" and model.by_profile is not None:
        _runner(model)(model, context, engine)
    elif model.materialized == "table" and model.key in profile_changes.producers():
        profile_changes.rebuild_table(engine, model, context.full_refresh)
    elif model.materialized == "table":
        engine.replace_table(model.target, model.sql)
    elif model.materialized == "append":
        if context.full_refresh:
            engine.drop_table(model.target)
        engine.append(model.target, model.sql)
    else:
        _runner(model)(model, context, engine)
    rows = engine.row_count(model.target)
    engine.commit()
    return rows


def build_models(context: BuildContext, models: Iterable[Model] | None = None) -> dict[str, int]:
    """Run models (default: all) in dependency order on one connection; returns rows per model key."""
    with context.warehouse.connect() as connection:
        engine = Engine(connection, context.warehouse.dialect)
        return {model.key: run_model(model, context, engine) for model in (models or catalog())}
