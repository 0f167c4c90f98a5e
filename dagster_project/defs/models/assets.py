"""One Dagster asset per warehouse model, made by one factory from the model catalog.

Why a factory and not hand-written assets: the SQL files are the source of truth. Key,
dependencies, group, description and column docs all come from the file, so adding a
model is adding a .sql file, and the UI can never disagree with what the SQL reads.
"""

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from dagster_project.lib.policy import raw_keys, writer_pool
from headwater.config import load_config
from headwater.warehouse import Warehouse
from models.build import BuildContext, run_model
from models.catalog import Model, catalog


class ModelBuild(dg.ConfigurableResource):
    """Where and how the models run: the warehouse, the `as_of` instant, full refresh or not."""

    warehouse_url: str
    config_file: str | None = None
    as_of: str | None = None
    full_refresh: bool = False

    def context(self) -> BuildContext:
        config = load_config(Path(self.config_file) if self.config_file else None)
        as_of = datetime.fromisoformat(self.as_of) if self.as_of else datetime.now(timezone.utc)
        return BuildContext(Warehouse(self.warehouse_url), config, as_of, self.full_refresh)


def asset_key(table: str) -> dg.AssetKey:
    """`cdp.profile_identities` -> AssetKey(["cdp", "profile_identities"])."""
    return dg.AssetKey(table.split("."))


def model_asset(model: Model, raw_inputs: tuple[dg.AssetKey, ...] = (), pool: str | None = None) -> dg.AssetsDefinition:
    """The asset that materializes `model` and reports its row count.

    A model reading no other model reads the raw tables (its runner scans every source
    schema), so it depends on `raw_inputs`; `pool` serializes DuckDB writers."""
    columns = dg.TableSchema(columns=[dg.TableColumn(name, "", description=text)
                                      for name, text in model.columns.items()])

    @dg.asset(
        key=asset_key(model.key),
        deps=[asset_key(dep) for dep in model.depends_on] or list(raw_inputs),
        pool=pool,
        automation_condition=dg.AutomationCondition.eager(),
        group_name=model.layer,
        description=model.description,
        kinds={"sql", "duckdb", "postgres"},
        metadata={"dagster/column_schema": columns, "model_file": str(model.path.relative_to(model.path.parents[2])),
                  "materialized": model.materialized},
    )
    def _materialize(context: dg.AssetExecutionContext, model_build: ModelBuild) -> dg.MaterializeResult:
        rows = run_model(model, model_build.context())
        context.log.info(f"{model.key}: {rows} rows")
        return dg.MaterializeResult(metadata={"dagster/row_count": rows})

    return _materialize


def model_assets(raw_inputs: tuple[dg.AssetKey, ...] = (), pool: str | None = None) -> list[dg.AssetsDefinition]:
    return [model_asset(model, raw_inputs, pool) for model in catalog()]


@dg.definitions
def defs() -> dg.Definitions:
    config = load_config()
    return dg.Definitions(
        assets=model_assets(tuple(raw_keys(config)), writer_pool(config)),
        resources={"model_build": ModelBuild(warehouse_url=config.warehouse)},
    )
