"""One check per source with a tracking plan: no plan violations among the last day's events.

Why a warning, per source: a violation means a sender drifted from the plan (a renamed
property, a new event nobody planned), which analysts want to hear about before a
dashboard breaks, but the events themselves were handled by the source's policies, so
nothing downstream is blocked. The rows come from `<source>._violations` (see
pipelines/plan_violations.py), counted by received time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial

import dagster as dg

from dagster_project.lib.checks import warehouse_check
from dagster_project.lib.facts import Ask, has_table, quoted
from dagster_project.lib.policy import project_config, spool_keys, writer_pool

WITHIN = timedelta(hours=24)
VIOLATIONS_TABLE = "_violations"


def plan_violations(ask: Ask, schema: str, within: timedelta = WITHIN) -> tuple[bool, dict]:
    """Violations recorded for events received within `within`, by violation type and event."""
    if not has_table(ask, schema, VIOLATIONS_TABLE):
        return True, {"violations": 0}
    since = datetime.now(timezone.utc) - within
    rows = ask(f"SELECT violation, coalesce(event, message_type) AS event, count(*) AS n, "
               f"sum(CASE WHEN policy = 'quarantine' THEN 1 ELSE 0 END) AS held "
               f"FROM {quoted(schema)}.{VIOLATIONS_TABLE} WHERE received_at >= %s "
               f"GROUP BY violation, coalesce(event, message_type) ORDER BY n DESC", [since])
    total = sum(int(row["n"]) for row in rows)
    return total == 0, {
        "violations": total, "quarantined": sum(int(row["held"]) for row in rows),
        "by_violation_and_event": {f"{row['violation']}: {row['event']}": int(row["n"]) for row in rows[:20]},
        "what_to_do": f"SELECT * FROM {schema}._violations ORDER BY received_at DESC; fix the sender or the plan, "
                      f"then `headwater quarantine replay --source {schema}`",
    }


def tracking_plan_checks(config) -> list[dg.AssetChecksDefinition]:
    pool = writer_pool(config)
    keys = spool_keys(config)
    return [warehouse_check(keys[schema], "tracking_plan_kept",
                            f"No event {schema} received in the last 24 hours broke its tracking plan ({entry.plan}).",
                            partial(plan_violations, schema=schema), warn=True, pool=pool)
            for schema, entry in sorted(config.tracking_plan.sources.items()) if schema in keys]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=tracking_plan_checks(project_config()))
