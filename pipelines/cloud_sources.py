"""Run the configured cloud sources (Shopify, Stripe, Mailchimp) into the warehouse with dlt.

Each source type names the factory that builds its dlt source from its config entry; the
dataset is the source's `name`, and dlt keeps its incremental state in the warehouse, so
any machine can run the next increment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dlt

from headwater.config import HeadwaterConfig
from headwater.import_target import import_target
from headwater.warehouse import Warehouse
from pipelines.load_packages import forget_run_trace, remove_loaded_packages

# source type -> "module:function(config_entry) -> dlt source"
SOURCE_FACTORIES: dict[str, str] = {
    "shopify": "sources.shopify:shopify_source",
    "stripe": "sources.stripe:stripe_source",
    "mailchimp": "sources.mailchimp:mailchimp_source",
}


@dataclass
class SourceRunReport:
    source: str
    rows_by_table: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.rows_by_table.values())


def build_source(entry):
    return import_target(SOURCE_FACTORIES[entry.type])(entry)


def cloud_pipeline(entry, warehouse: Warehouse) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"headwater_{entry.name}",
        pipelines_dir=str(warehouse.dlt_working_dir()),
        destination=warehouse.dlt_destination(),
        dataset_name=entry.name,
    )


def run_source(entry, warehouse: Warehouse) -> SourceRunReport:
    pipeline = cloud_pipeline(entry, warehouse)
    try:
        pipeline.run(build_source(entry))
        normalized = pipeline.last_trace.last_normalize_info
    finally:
        forget_run_trace(Path(pipeline.working_dir))
    remove_loaded_packages(warehouse.dlt_working_dir())
    counts = dict(normalized.row_counts) if normalized else {}
    return SourceRunReport(entry.name, {t: n for t, n in counts.items() if not t.startswith("_dlt")})


def run_sources(config: HeadwaterConfig, names: list[str] | None = None) -> list[SourceRunReport]:
    warehouse = Warehouse(config.warehouse)
    entries = [s for s in config.sources if s.type in SOURCE_FACTORIES and (not names or s.name in names)]
    return [run_source(entry, warehouse) for entry in entries]
