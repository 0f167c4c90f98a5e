"""One way to declare a data-quality check that asks the warehouse a question.

Every Headwater check has the same shape: a name, the asset it guards, a severity, and a
function from the warehouse to (passed, metadata). The factory adds the rest (the
Headwater resource, the DuckDB writer pool, turning the answer into an AssetCheckResult)
so the checks themselves read as the rule they enforce.
"""

from collections.abc import Callable
from typing import Any

import dagster as dg

from dagster_project.lib.resources import HeadwaterResource
from dagster_project.lib.facts import Ask, asking

Evaluation = tuple[bool, dict[str, Any]]


def warehouse_check(asset: dg.AssetKey, name: str, description: str, evaluate: Callable[[Ask], Evaluation],
                    *, warn: bool = False, pool: str | None = None) -> dg.AssetChecksDefinition:
    """A check on `asset` that fails (or only warns, `warn=True`) when `evaluate` says so."""
    severity = dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR

    @dg.asset_check(asset=asset, name=name, description=description, pool=pool)
    def _check(headwater: HeadwaterResource) -> dg.AssetCheckResult:
        with asking(headwater.warehouse()) as ask:
            passed, metadata = evaluate(ask)
        return dg.AssetCheckResult(passed=passed, severity=severity, metadata=metadata)

    return _check
