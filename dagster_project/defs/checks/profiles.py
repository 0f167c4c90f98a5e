"""Checks on the modelled tables: every profile has an identity; audiences do not swing wildly.

Why: a profile without an identity cannot be explained or deleted on request; an audience
that doubles or halves in one build usually means a broken input, and a sync would push
that swing to every ad and email tool, so it is flagged (warn) before anyone acts on it.
"""

from __future__ import annotations

from functools import partial

import dagster as dg

from dagster_project.lib.checks import warehouse_check
from dagster_project.lib.policy import project_config, writer_pool
from dagster_project.lib.facts import Ask

AUDIENCE_SWING = 0.5  # warn when an audience changes by more than half in one build


def profiles_without_identity(ask: Ask) -> tuple[bool, dict]:
    rows = ask(
        "SELECT count(*) AS n FROM cdp.profiles p WHERE NOT EXISTS "
        "(SELECT 1 FROM cdp.profile_identities i WHERE i.profile_id = p.profile_id)")
    return rows[0]["n"] == 0, {"profiles_without_identity": int(rows[0]["n"])}


def audience_swings(ask: Ask, threshold: float = AUDIENCE_SWING) -> tuple[bool, dict]:
    """Size now vs before the latest build, from cdp.audience_history and the build's as_of."""
    rows = ask(
        "WITH build AS (SELECT as_of FROM cdp_staging.build_context) "
        "SELECT h.audience, "
        "  sum(CASE WHEN h.exited_at IS NULL THEN 1 ELSE 0 END) AS size_now, "
        "  sum(CASE WHEN h.entered_at < b.as_of AND (h.exited_at IS NULL OR h.exited_at >= b.as_of) "
        "      THEN 1 ELSE 0 END) AS size_before "
        "FROM cdp.audience_history h CROSS JOIN build b GROUP BY h.audience ORDER BY h.audience")
    swings = {}
    for row in rows:
        before, now = int(row["size_before"]), int(row["size_now"])
        if before and abs(now - before) / before > threshold:
            swings[row["audience"]] = f"{before} -> {now}"
    sizes = {row["audience"]: int(row["size_now"]) for row in rows}
    return not swings, {"sizes": sizes, "swings_over_threshold": swings, "threshold": threshold}


@dg.definitions
def defs() -> dg.Definitions:
    pool = writer_pool(project_config())
    return dg.Definitions(asset_checks=[
        warehouse_check(dg.AssetKey(["cdp", "profiles"]), "every_profile_has_an_identity",
                        "Every cdp.profiles row has at least one identifier in cdp.profile_identities.",
                        profiles_without_identity, pool=pool),
        warehouse_check(dg.AssetKey(["cdp", "audience_members"]), "audience_size_stable",
                        f"No audience grew or shrank by more than {AUDIENCE_SWING:.0%} in the latest build.",
                        partial(audience_swings, threshold=AUDIENCE_SWING), warn=True, pool=pool),
    ])
