"""Asset specs for the cloud sources' dlt resources: `shopify/orders`, not `dlt_shopify_orders`.

Why a translator: the key should be the warehouse table (`<source schema>/<table>`) so
the models' lineage reads as the data path, and the raw tables have no upstream assets
inside Dagster (the vendor API is outside), so dagster-dlt's default upstream keys go.
"""

from __future__ import annotations

import dagster as dg
from dagster_dlt import DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData


class HeadwaterDltTranslator(DagsterDltTranslator):
    def __init__(self, source_name: str, warehouse_kind: str):
        self.source_name, self.warehouse_kind = source_name, warehouse_kind

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey([self.source_name, data.resource.name]),
            deps=[],
            group_name="sources",
            description=f"{self.source_name}.{data.resource.name}: raw {data.resource.name} pulled from "
                        f"{self.source_name} by dlt ({data.resource.write_disposition}, incremental state in "
                        f"the warehouse)",
            kinds={"dlt", self.warehouse_kind},
        )
