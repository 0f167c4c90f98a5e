"""One dagster-dlt multi-asset per configured cloud source: `shopify/orders`, `stripe/charges`...

The dlt source object given to `@dlt_assets` only describes the tables; each run builds a
fresh source and pipeline from headwater.yml (`pipelines.cloud_sources`), so credentials,
base URLs and incremental state are the run's own, never a stale object's.
"""

import dagster as dg
from dagster_dlt import DagsterDltResource, dlt_assets

from dagster_project.lib.dlt_translator import HeadwaterDltTranslator
from dagster_project.lib.policy import (default_schedule_status, project_config, warehouse_kind,
                                        writer_pool)
from dagster_project.lib.resources import HeadwaterResource
from headwater.warehouse import Warehouse
from pipelines.cloud_sources import SOURCE_FACTORIES, build_source, cloud_pipeline

HOURLY = "0 * * * *"


def cloud_source_assets(entry, warehouse: Warehouse, kind: str, pool: str | None) -> dg.AssetsDefinition:
    name = entry.name

    @dlt_assets(dlt_source=build_source(entry), dlt_pipeline=cloud_pipeline(entry, warehouse),
                name=f"{name}_source",
                dagster_dlt_translator=HeadwaterDltTranslator(name, kind), pool=pool)
    def _pull(context: dg.AssetExecutionContext, dlt: DagsterDltResource, headwater: HeadwaterResource):
        config = headwater.config()
        run_entry = config.source(name)
        yield from dlt.run(context=context, dlt_source=build_source(run_entry),
                           dlt_pipeline=cloud_pipeline(run_entry, Warehouse(config.warehouse)))

    return _pull


@dg.definitions
def defs() -> dg.Definitions:
    config = project_config()
    warehouse = Warehouse(config.warehouse)
    assets = [cloud_source_assets(entry, warehouse, warehouse_kind(config), writer_pool(config))
              for entry in config.sources if entry.type in SOURCE_FACTORIES]
    schedules = [dg.ScheduleDefinition(name="sources_hourly", cron_schedule=HOURLY, target=dg.AssetSelection.groups("sources"),
                                       default_status=default_schedule_status(config),
                                       description="Pulls every cloud source incrementally, hourly.")] if assets else []
    return dg.Definitions(assets=assets, schedules=schedules)
