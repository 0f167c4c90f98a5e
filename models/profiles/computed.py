"""Computed traits from headwater.yml (traits.computed) as SQL: the one module that writes that SQL.

Why Python writes it: an analyst defines a trait without SQL (Segment's kinds: event counter,
aggregation, first, last, most frequent, unique list; a window and property filters), and the
tables an event lives in exist only once apps sent it. Each trait becomes one CTE over the
event's per-event tables in every events source, and one column of cdp.profile_traits.

Safety: trait, event and property names were validated as plain identifiers by
models.profiles.config; every identifier is still quoted and every literal escaped here, and
numbers are formatted from parsed floats, so a configuration can never change the SQL's shape.
A property no source's table has is a configuration error naming the trait, not an empty column.
"""

from __future__ import annotations

import math

from models.adapter import Engine, literal, quote
from models.build import BuildContext
from models.catalog import Model, ModelError
from models.conversions.raw import Columns
from models.profiles.config import ComputedTrait, PropertyFilter

# the built-in favourite category is the same shape as an analyst's most_frequent trait
FAVOURITE_PRODUCT_CATEGORY = ComputedTrait.model_construct(
    name="favourite_product_category", kind="most_frequent", event="Product Added", property="category",
    function=None, window_days=None, where=[], description="")

RESULT_TYPE = {"event_counter": "BIGINT", "aggregation": "DOUBLE", "first": "VARCHAR", "last": "VARCHAR",
               "most_frequent": "VARCHAR", "unique_list": "VARCHAR"}
AS_OF = "(SELECT as_of FROM cdp_staging.build_context)"


class TraitConfigError(ModelError):
    """A computed trait that cannot be built from the data as configured."""


def _number(value: int | float, trait: ComputedTrait) -> str:
    number = float(value)
    if not math.isfinite(number):
        raise TraitConfigError(f"traits.computed: trait {trait.name!r}: where value {value!r} must be a finite number")
    return repr(number)


def _comparable(column: str, value: object, trait: ComputedTrait) -> tuple[str, str]:
    """(column expression, literal) compared as booleans-as-text, numbers or text."""
    if isinstance(value, bool):
        return f"LOWER(CAST({column} AS VARCHAR))", literal("true" if value else "false")
    if isinstance(value, (int, float)):
        return f"CAST({column} AS DOUBLE)", _number(value, trait)
    return f"CAST({column} AS VARCHAR)", literal(str(value))


def filter_sql(condition: PropertyFilter, cols: Columns, trait: ComputedTrait) -> str:
    column = cols.ref(condition.property) if condition.property in cols else "CAST(NULL AS VARCHAR)"
    if condition.op == "exists":
        return f"{column} IS NOT NULL"
    if condition.op in ("in", "not_in"):
        values = condition.value
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        expression = f"CAST({column} AS DOUBLE)" if numeric else f"CAST({column} AS VARCHAR)"
        items = ", ".join(_number(v, trait) if numeric else _comparable(column, v, trait)[1] for v in values)
        if not numeric and any(isinstance(v, bool) for v in values):
            expression = f"LOWER(CAST({column} AS VARCHAR))"
        return f"{expression} {'IN' if condition.op == 'in' else 'NOT IN'} ({items})"
    expression, value = _comparable(column, condition.value, trait)
    return f"{expression} {condition.op if condition.op != '!=' else '<>'} {value}"


def event_tables(engine: Engine, sources: list[str], events: set[str]) -> dict[str, list[tuple[str, str, Columns]]]:
    """Event name as sent -> [(source, per-event table, its columns)], read from each source's tracks."""
    found: dict[str, list[tuple[str, str, Columns]]] = {event: [] for event in events}
    if not events:
        return found
    for source in sources:
        tables = engine.column_types(source)
        tracks = tables.get("tracks", {})
        if "event" not in tracks or "event_text" not in tracks:
            continue
        placeholders = ", ".join("%s" for _ in events)
        for row in engine.run(f"SELECT DISTINCT event_text, event FROM {quote(source)}.{quote('tracks')} "
                              f"WHERE event_text IN ({placeholders}) ORDER BY event", sorted(events)):
            if row["event"] in tables and "id" in tables[row["event"]]:
                found[row["event_text"]].append((source, row["event"], Columns(tables[row["event"]], "raw")))
    return found


def _check_properties(trait: ComputedTrait, tables: list[tuple[str, str, Columns]]) -> None:
    if not tables:
        return  # nobody sent the event yet: counts are 0, values empty
    needed = [("property", trait.property)] if trait.property else []
    needed += [(f"where[{i}].property", c.property) for i, c in enumerate(trait.where)]
    for field, name in needed:
        if not any(name in cols for _, _, cols in tables):
            known = sorted({c for _, _, cols in tables for c in cols.types if not c.startswith(("context_", "_dlt"))})
            raise TraitConfigError(
                f"traits.computed: trait {trait.name!r}: {field} {name!r} is not a property of event "
                f"{trait.event!r} in any source; its properties are: {', '.join(known)}")


def _event_rows(trait: ComputedTrait, tables: list[tuple[str, str, Columns]]) -> str:
    """profile_id, occurred_at, value of every matching event (value NULL for a counter)."""
    kind = "DOUBLE" if trait.kind == "aggregation" else "VARCHAR"
    parts = []
    for source, table, cols in tables:
        occurred_at = cols.time("timestamp", "received_at")
        value = f"CAST(NULL AS {kind})"
        if trait.property and trait.property in cols:
            value = f"CAST({cols.ref(trait.property)} AS {kind})"
        conditions = [f"{occurred_at} <= {AS_OF}"]
        if trait.window_days:
            conditions.append(f"{occurred_at} > {AS_OF} - INTERVAL {int(trait.window_days)} DAY")
        conditions += [f"({filter_sql(c, cols, trait)})" for c in trait.where]
        parts.append(f"SELECT owner.profile_id, {occurred_at} AS occurred_at, {value} AS value "
                     f"FROM {quote(source)}.{quote(table)} AS raw JOIN cdp_staging.row_profiles AS owner "
                     f"ON owner.source = {literal(source)} AND owner.source_table = 'tracks' "
                     f"AND owner.row_id = CAST(raw.{quote('id')} AS VARCHAR) WHERE {' AND '.join(conditions)}")
    if not parts:
        return (f"SELECT CAST(NULL AS VARCHAR) AS profile_id, CAST(NULL AS TIMESTAMPTZ) AS occurred_at, "
                f"CAST(NULL AS {kind}) AS value WHERE 1 = 0")
    return " UNION ALL ".join(parts)


def trait_sql(trait: ComputedTrait, rows: str) -> str:
    """One row per profile with the trait's value, from `rows` (profile_id, occurred_at, value)."""
    if trait.kind == "event_counter":
        return f"SELECT profile_id, COUNT(*) AS value FROM ({rows}) AS events GROUP BY profile_id"
    present = f"SELECT * FROM ({rows}) AS events WHERE value IS NOT NULL"
    if trait.kind == "aggregation":
        return f"SELECT profile_id, {trait.function.upper()}(value) AS value FROM ({present}) AS events GROUP BY profile_id"
    if trait.kind in ("first", "last"):
        order = "occurred_at, value" if trait.kind == "first" else "occurred_at DESC, value"
        return (f"SELECT profile_id, value FROM (SELECT profile_id, value, ROW_NUMBER() OVER "
                f"(PARTITION BY profile_id ORDER BY {order}) AS pick FROM ({present}) AS events) AS ranked "
                f"WHERE pick = 1")
    if trait.kind == "most_frequent":
        return (f"SELECT profile_id, value FROM (SELECT profile_id, value, ROW_NUMBER() OVER "
                f"(PARTITION BY profile_id ORDER BY times DESC, last_at DESC, value) AS pick FROM "
                f"(SELECT profile_id, value, COUNT(*) AS times, MAX(occurred_at) AS last_at FROM ({present}) AS events "
                f"GROUP BY profile_id, value) AS tallies) AS ranked WHERE pick = 1")
    return (f"SELECT profile_id, STRING_AGG(DISTINCT value, ',' ORDER BY value) AS value "
            f"FROM ({present}) AS events GROUP BY profile_id")


def profile_traits_sql(engine: Engine, sources: list[str], traits: list[ComputedTrait]) -> str:
    tables = event_tables(engine, sources, {trait.event for trait in traits})
    ctes, columns, joins = [], [], []
    for index, trait in enumerate(traits):
        _check_properties(trait, tables[trait.event])
        name = f"trait_{index}"
        ctes.append(f"{name} AS ({trait_sql(trait, _event_rows(trait, tables[trait.event]))})")
        value = f"CAST({name}.value AS {RESULT_TYPE[trait.kind]})"
        if trait.kind == "event_counter":
            value = f"COALESCE({value}, 0)"
        columns.append(f"{value} AS {quote(trait.name)}")
        joins.append(f"LEFT JOIN {name} ON {name}.profile_id = people.profile_id")
    people = "people AS (SELECT DISTINCT profile_id FROM cdp.profile_identities)"
    return (f"WITH {', '.join([people, *ctes])} SELECT people.profile_id, {', '.join(columns)} "
            f"FROM people {' '.join(joins)}")


def write_profile_traits(model: Model, context: BuildContext, engine: Engine) -> None:
    sources = [source.name for source in context.config.events_sources()]
    traits = [FAVOURITE_PRODUCT_CATEGORY, *context.config.traits.computed]
    engine.replace_table(model.target, profile_traits_sql(engine, sources, traits))
