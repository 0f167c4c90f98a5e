"""Sync errors (warn): the latest run of each sync left no failed or skipped rows.

Why warn and not fail: failed rows are retried next run by design, but someone should see
them (and `cdp.sync_errors` says which rows and why) before they pile up.
"""

from __future__ import annotations

from functools import partial

import dagster as dg

from dagster_project.defs.syncs.assets import sync_key
from dagster_project.lib.checks import warehouse_check
from dagster_project.lib.facts import Ask, latest_sync_runs
from dagster_project.lib.policy import project_config, writer_pool


def latest_run_errors(ask: Ask, sync: str) -> tuple[bool, dict]:
    latest = latest_sync_runs(ask).get(sync)
    if latest is None:
        return True, {"errors": 0, "note": "no run yet"}
    rows = ask("SELECT error_code, count(*) AS n FROM cdp.sync_errors WHERE run_id = %s "
                           "GROUP BY error_code ORDER BY error_code", [latest["run_id"]])
    by_code = {str(r["error_code"]): int(r["n"]) for r in rows}
    return not by_code, {"errors": sum(by_code.values()), "by_code": by_code, "run_status": latest["status"],
                         "what_to_do": f"SELECT * FROM cdp.sync_errors WHERE sync = '{sync}'"}


@dg.definitions
def defs() -> dg.Definitions:
    config = project_config()
    pool = writer_pool(config)
    return dg.Definitions(asset_checks=[
        warehouse_check(sync_key(s.name), "no_sync_errors", f"The latest run of {s.name} left no failed or skipped rows.",
                        partial(latest_run_errors, sync=s.name), warn=True, pool=pool)
        for s in config.syncs])
