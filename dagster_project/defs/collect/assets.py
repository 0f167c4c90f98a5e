"""The spool load as assets: one per source schema the spool writes, and the privacy inbox.

Why one multi-asset for every schema: a spool file mixes every source's messages, and
`load_spool` claims whole files, so one load fills all schemas at once; each schema is
still its own asset (with its own counts) so the models can depend on exactly it.
"""

import dagster as dg

from dagster_project.lib.policy import project_config, spool_keys, warehouse_kind, writer_pool
from dagster_project.lib.resources import HeadwaterResource

PRIVACY_KEY = dg.AssetKey(["cdp", "privacy_requests"])


def spool_load_asset(keys: dict[str, dg.AssetKey], kind: str, pool: str | None) -> dg.AssetsDefinition:
    specs = [dg.AssetSpec(key, group_name="collect", kinds={"dlt", kind},
                          description=f"Raw tables of source {name} loaded from the collect spool "
                                      f"({'Segment layout: tracks, identifies, one table per event...' if key.path[-1] == 'events' else 'signed vendor webhooks'}); "
                                      "deduplicated on id, first copy wins.")
             for name, key in keys.items()]

    @dg.multi_asset(name="spool_load", specs=specs, pool=pool, can_subset=False)
    def _load(context: dg.AssetExecutionContext, headwater: HeadwaterResource):
        from pipelines.spool_loader import load_spool

        report = load_spool(headwater.config())
        context.log.info(f"spool load: {report.files} files, {report.loaded} new messages, "
                         f"{report.duplicates} duplicates, {report.quarantined} quarantined")
        for name, key in keys.items():
            source = report.sources.get(name)
            yield dg.MaterializeResult(asset_key=key, metadata={
                "files": report.files,
                "loaded": source.loaded if source else 0,
                "duplicates": source.duplicates if source else 0,
                "quarantined": source.quarantined if source else 0,
                "rows_by_table": dict(source.rows_by_table) if source else {},
            })

    return _load


def privacy_asset(deps: list[dg.AssetKey], pool: str | None) -> dg.AssetsDefinition:
    @dg.asset(key=PRIVACY_KEY, deps=deps, group_name="collect", pool=pool, kinds={"python"},
              description="Privacy requests received over HTTP (POST /v1/regulations), processed from "
                          "headwater.privacy_inbox: suppress, unsuppress, delete across the warehouse and "
                          "destinations, audited in cdp.privacy_requests.")
    def _process(context: dg.AssetExecutionContext, headwater: HeadwaterResource) -> dg.MaterializeResult:
        from pipelines.privacy.regulations import process_inbox

        reports = process_inbox(headwater.config())
        return dg.MaterializeResult(metadata={"requests_processed": len(reports)})

    return _process


@dg.definitions
def defs() -> dg.Definitions:
    config = project_config()
    keys = spool_keys(config)
    assets = []
    if keys:
        assets.append(spool_load_asset(keys, warehouse_kind(config), writer_pool(config)))
    assets.append(privacy_asset(list(keys.values()), writer_pool(config)))
    return dg.Definitions(assets=assets)
