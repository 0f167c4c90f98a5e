"""Find the observed values that match a blocklist pattern, once per distinct value.

Why Python writes the pattern into the SQL: engines compile a regex once when it is a
constant, but once per row when it comes from a table column, which made a join against
cdp_staging.identity_blocklist cost seconds per few thousand values. Each configured
pattern becomes its own literal (quoted by models.adapter.literal), so matching costs one
compile per pattern and one scan of the distinct values.
"""

from __future__ import annotations

from models.adapter import Engine, literal
from models.build import BuildContext
from models.catalog import Model


def patterns_by_type(context: BuildContext) -> list[tuple[str | None, str]]:
    """(id_type or None for every type, pattern) from identity.blocked_values and id_types."""
    identity = context.config.identity
    found: list[tuple[str | None, str]] = [(None, pattern) for pattern in identity.blocked_values]
    found += [(name, pattern) for name, rule in identity.id_types.items() for pattern in rule.blocked_values]
    return found


def blocked_values_sql(values_sql: str, patterns: list[tuple[str | None, str]]) -> str:
    if not patterns:
        return ("SELECT CAST(NULL AS VARCHAR) AS id_type, CAST(NULL AS VARCHAR) AS raw_value, "
                "CAST(NULL AS VARCHAR) AS pattern WHERE 1 = 0")
    matches = [
        f"SELECT id_type, raw_value, {literal(pattern)} AS pattern FROM candidate_values "
        f"WHERE REGEXP_MATCHES(cleaned, {literal(pattern)})" + (f" AND id_type = {literal(id_type)}" if id_type else "")
        for id_type, pattern in patterns
    ]
    return (f"WITH candidate_values AS (SELECT id_type, raw_value, LOWER(TRIM(raw_value)) AS cleaned "
            f"FROM ({values_sql}) AS observed) "
            f"SELECT id_type, raw_value, MIN(pattern) AS pattern FROM ({' UNION ALL '.join(matches)}) AS matched "
            f"GROUP BY id_type, raw_value")


def write_blocked_values(model: Model, context: BuildContext, engine: Engine) -> None:
    engine.replace_table(model.target, blocked_values_sql(model.sql, patterns_by_type(context)))
