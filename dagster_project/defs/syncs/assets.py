"""One asset per configured sync (`syncs/<name>`), run by the destinations' sync engine.

Why an asset per sync and not one job for all: each sync is downstream of exactly its
audience or model, so declarative automation sends it right after that input changes, and
the UI shows each destination's last counts and failures on its own node.
"""

import dagster as dg

from dagster_project.lib.policy import project_config, warehouse_kind, writer_pool
from dagster_project.lib.resources import HeadwaterResource

AUDIENCE_MEMBERS = dg.AssetKey(["cdp", "audience_members"])
PROFILES = dg.AssetKey(["cdp", "profiles"])


def sync_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["syncs", name])


def sync_inputs(sync) -> list[dg.AssetKey]:
    """What a sync reads: `cdp/audience_members` for an audience, else its model's table; and
    `cdp/profiles` always (the members' fields and everyone's consent come from it)."""
    source = AUDIENCE_MEMBERS if sync.source.audience else dg.AssetKey(sync.source.model.split("."))
    return sorted({source, PROFILES}, key=lambda key: key.path)


def sync_asset(sync, destination_type: str, kind: str, pool: str | None) -> dg.AssetsDefinition:
    source = f"audience {sync.source.audience}" if sync.source.audience else f"model {sync.source.model}"

    @dg.asset(key=sync_key(sync.name), deps=sync_inputs(sync), group_name="syncs", pool=pool,
              kinds={kind, "reverse_etl"}, automation_condition=dg.AutomationCondition.eager(),
              tags={"headwater/destination_type": destination_type},
              description=f"Sync {sync.name}: {source} -> {sync.destination} ({destination_type}, {sync.mode}); "
                          "diffs against what was delivered and sends only the changes.")
    def _sync(context: dg.AssetExecutionContext, headwater: HeadwaterResource) -> dg.MaterializeResult:
        from destinations.engine import run_sync

        report = run_sync(headwater.config(), sync.name)
        context.log.info(report.line())
        if report.status == "failed":
            raise dg.Failure(description=f"sync {sync.name} failed: {report.message}",
                             metadata={"run_id": report.run_id})
        return dg.MaterializeResult(metadata={
            "run_id": report.run_id, "status": report.status, "rows_planned": report.rows_planned,
            "upserts": report.upserts, "removes": report.removes, "rows_sent": report.rows_sent,
            "rows_succeeded": report.rows_succeeded, "rows_failed": report.rows_failed,
            "rows_skipped": report.rows_skipped, "requests": report.requests, "retries": report.retries,
        })

    return _sync


@dg.definitions
def defs() -> dg.Definitions:
    config = project_config()
    types = {d.name: d.type for d in config.destinations}
    return dg.Definitions(assets=[sync_asset(s, types[s.destination], warehouse_kind(config), writer_pool(config))
                                  for s in config.syncs])
