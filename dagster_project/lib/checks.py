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
from dagster_project.lib.facts import quoted
from headwater.warehouse import Warehouse

Evaluation = tuple[bool, dict[str, Any]]


def warehouse_check(asset: dg.AssetKey, name: str, description: str, evaluate: Callable[[Warehouse], Evaluation],
                    *, warn: bool = False, pool: str | None = None) -> dg.AssetChecksDefinition:
    """A check on `asset` that fails (or only warns, `warn=True`) when `evaluate` says so."""
    severity = dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR

    @dg.asset_check(asset=asset, name=name, description=description, pool=pool)
    def _check(headwater: HeadwaterResource) -> dg.AssetCheckResult:
        passed, metadata = evaluate(headwater.warehouse())
        return dg.AssetCheckResult(passed=passed, severity=severity, metadata=metadata)

    return _check


def tables_with_column(warehouse: Warehouse, schema: str, column: str) -> list[str]:
    """Tables of `schema` having `column`, dlt's and quarantine bookkeeping tables left out."""
    rows = warehouse.query(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = %s AND column_name = %s "
        "ORDER BY table_name", [schema, column])
    return [r["table_name"] for r in rows if not r["table_name"].startswith("_")]
