"""Audience conditions -> one SQL SELECT of profile ids: the only place audience SQL is written.

Why one module: every value a user typed reaches SQL through `literal`/`_number` here, and
every name through `quote`, checked against the columns that exist, so no configuration
can inject SQL; and the preview command shows exactly the SQL the build runs.

The universe is cdp.profiles (every profile in cdp.profile_identities while that model is not
built). Event conditions read the per-event tables of every source, each row assigned to
its person by cdp_staging.row_profiles; `Order Completed` is read from cdp.conversions
instead, so one purchase counts once however many sources reported it. Time windows end
at the build's as_of, so a rebuild as of the same instant gives the same members.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dlt.common.normalizers.naming.snake_case import NamingConvention

from models.adapter import Engine, literal, quote
from models.audiences.config import (AllCondition, AnyCondition, AudienceCondition, AudienceDefinition,
                                     EventCondition, NotCondition, PropertyFilter, TraitCondition)

PURCHASE_EVENT = "Order Completed"
PROFILES = ("cdp", "profiles")
_naming = NamingConvention(max_length=63)  # the loader's column naming (dlt snake_case)


class AudienceError(Exception):
    """An audience that cannot be compiled against this warehouse, phrased for the config's author."""


def _number(value: float | int) -> str:
    if isinstance(value, bool) or not math.isfinite(float(value)):
        raise AudienceError(f"{value!r} is not a finite number")
    return repr(int(value)) if isinstance(value, int) else repr(float(value))


def sql_value(value) -> str:
    """A typed literal: text escaped, numbers checked, booleans as TRUE/FALSE."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return _number(value)
    return literal(str(value))


def _timestamp(moment: datetime) -> str:
    return f"CAST({literal(moment.isoformat())} AS TIMESTAMPTZ)"


def _cast_for(value) -> str:
    """The type a column is cast to before it is compared with `value` (sources may disagree on it)."""
    sample = value[0] if isinstance(value, list) else value
    if isinstance(sample, bool):
        return "BOOLEAN"
    if isinstance(sample, (int, float)):
        return "DOUBLE"
    return "VARCHAR"


def comparison(column_sql: str, op: str, value) -> str:
    """`column op value` as a two-valued predicate (NULL compares false)."""
    if op == "is_set":
        return f"({column_sql} IS NOT NULL)"
    if op == "is_not_set":
        return f"({column_sql} IS NULL)"
    if op in ("in", "not_in"):
        values = ", ".join(sql_value(v) for v in value)
        negation = "NOT " if op == "not_in" else ""
        return f"COALESCE({column_sql} {negation}IN ({values}), FALSE)"
    if op == "contains":
        return f"COALESCE(STRPOS(CAST({column_sql} AS VARCHAR), {literal(value)}) > 0, FALSE)"
    sql_op = "<>" if op == "!=" else op
    return f"COALESCE({column_sql} {sql_op} {sql_value(value)}, FALSE)"


@dataclass
class AudienceCompiler:
    """Compiles the active audiences of one configuration for one warehouse and as_of instant."""

    engine: Engine
    audiences: dict[str, AudienceDefinition]
    as_of: datetime
    sources: list[str]
    _schemas: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._schemas = {source: self.engine.column_types(source) for source in self.sources}
        self.profile_columns = set(self.engine.columns(PROFILES[0]).get(PROFILES[1], []))
        self.conversion_columns = set(self.engine.columns("cdp").get("conversions", []))

    # --- public ------------------------------------------------------------------------------

    def sql(self, name: str) -> str:
        """SELECT profile_id of the members of audience `name` (DuckDB dialect)."""
        definition = self.audiences[name]
        predicate = self._condition(definition.where, name)
        return f"SELECT universe.profile_id FROM ({self._universe()}) AS universe WHERE {predicate}"

    def members_sql(self, names: list[str]) -> str:
        """(audience, profile_id) of several audiences, for the build."""
        parts = [f"SELECT {literal(name)} AS audience, members.profile_id FROM ({self.sql(name)}) AS members"
                 for name in names]
        return " UNION ALL ".join(parts) if parts else \
            "SELECT CAST(NULL AS VARCHAR) AS audience, CAST(NULL AS VARCHAR) AS profile_id WHERE 1 = 0"

    # --- conditions --------------------------------------------------------------------------

    def _universe(self) -> str:
        if self.profile_columns:
            return 'SELECT * FROM "cdp"."profiles"'
        return 'SELECT DISTINCT "profile_id" FROM "cdp"."profile_identities"'

    def _condition(self, condition, audience: str) -> str:
        if isinstance(condition, TraitCondition):
            return self._trait(condition, audience)
        if isinstance(condition, EventCondition):
            return self._event(condition, audience)
        if isinstance(condition, AudienceCondition):
            return f"universe.profile_id IN (SELECT members.profile_id FROM ({self.sql(condition.audience)}) AS members)"
        if isinstance(condition, AllCondition):
            return "(" + " AND ".join(self._condition(child, audience) for child in condition.all) + ")"
        if isinstance(condition, AnyCondition):
            return "(" + " OR ".join(self._condition(child, audience) for child in condition.any) + ")"
        if isinstance(condition, NotCondition):
            return f"(NOT {self._condition(condition.not_, audience)})"
        raise AudienceError(f"audience {audience!r}: unknown condition {condition!r}")

    def _trait(self, condition: TraitCondition, audience: str) -> str:
        if not self.profile_columns:
            raise AudienceError(f"audience {audience!r}: trait {condition.trait!r} needs cdp.profiles, which is not "
                                f"built yet; run `headwater build` first")
        if condition.trait not in self.profile_columns:
            known = ", ".join(sorted(self.profile_columns))
            raise AudienceError(f"audience {audience!r}: trait {condition.trait!r} is not a column of cdp.profiles; "
                                f"use one of: {known}")
        return comparison(f"universe.{quote(condition.trait)}", condition.op, condition.value)

    def _event(self, condition: EventCondition, audience: str) -> str:
        rows = self._event_rows(condition.event, condition.where, audience)
        clauses = [f"happened.happened_at <= {_timestamp(self.as_of)}", "happened.profile_id IS NOT NULL"]
        if condition.within_days is not None:
            clauses.append(f"happened.happened_at > {_timestamp(self.as_of - timedelta(days=condition.within_days))}")
        clauses += [comparison(f"happened.{quote(f'p{i}')}", f.op, f.value) for i, f in enumerate(condition.where)]
        if condition.not_followed_by is not None:
            follow = condition.not_followed_by
            window = timedelta(hours=follow.within_hours)
            seconds = int(window.total_seconds())
            later = self._event_rows(follow.event, [], audience)
            clauses.append(f"happened.happened_at <= {_timestamp(self.as_of - window)}")  # its window has passed
            clauses.append(f"NOT EXISTS (SELECT 1 FROM ({later}) AS later WHERE later.profile_id = happened.profile_id "
                           f"AND later.happened_at >= happened.happened_at "
                           f"AND later.happened_at <= happened.happened_at + INTERVAL {seconds} SECOND)")
        doers = (f"SELECT happened.profile_id FROM ({rows}) AS happened WHERE {' AND '.join(clauses)} "
                 f"GROUP BY happened.profile_id HAVING COUNT(*) >= {int(condition.at_least)}")
        negation = "" if condition.did else "NOT "
        return f"(universe.profile_id {negation}IN ({doers}))"

    def _event_rows(self, event: str, filters: list[PropertyFilter], audience: str) -> str:
        """(profile_id, happened_at, p0, p1, ...) for every time `event` happened, in any source."""
        if event == PURCHASE_EVENT:
            return self._purchase_rows(filters, audience)
        parts = []
        for source, tables in self._schemas.items():
            for table in self._event_tables(source, event):
                columns = tables.get(table, {})
                times = [quote(c) for c in ("timestamp", "received_at") if c in columns]
                happened = f"CAST(COALESCE({', '.join(times)}) AS TIMESTAMPTZ)" if times else "CAST(NULL AS TIMESTAMPTZ)"
                props = [self._property(columns, f, i) for i, f in enumerate(filters)]
                parts.append(
                    f"SELECT owners.profile_id, {happened} AS happened_at{''.join(', ' + p for p in props)} "
                    f"FROM {quote(source)}.{quote(table)} AS raw JOIN \"cdp_staging\".\"row_profiles\" AS owners "
                    f"ON owners.source = {literal(source)} AND owners.source_table = 'tracks' "
                    f"AND owners.row_id = CAST(raw.{quote('id')} AS VARCHAR)")
        if not parts:  # nobody ever did it
            props = "".join(f", CAST(NULL AS {_cast_for(f.value)}) AS {quote(f'p{i}')}" for i, f in enumerate(filters))
            return f"SELECT CAST(NULL AS VARCHAR) AS profile_id, CAST(NULL AS TIMESTAMPTZ) AS happened_at{props} WHERE 1 = 0"
        return " UNION ALL ".join(parts)

    def _event_tables(self, source: str, event: str) -> list[str]:
        """The per-event tables holding `event` in `source`: the loader records each in tracks.event."""
        tables = self._schemas[source]
        if "tracks" not in tables or not {"event", "event_text"} <= set(tables["tracks"]):
            return []
        rows = self.engine.run(f"SELECT DISTINCT event FROM {quote(source)}.\"tracks\" WHERE event_text = %s", [event])
        return sorted(row["event"] for row in rows if row["event"] in tables)

    def _property(self, columns: dict[str, str], condition: PropertyFilter, index: int) -> str:
        name = _naming.normalize_identifier(condition.property)
        column = next((c for c in (name, f"properties_{name}") if c in columns), None)
        kind = _cast_for(condition.value)
        source = f"raw.{quote(column)}" if column else "NULL"
        return f"CAST({source} AS {kind}) AS {quote(f'p{index}')}"

    def _purchase_rows(self, filters: list[PropertyFilter], audience: str) -> str:
        if not self.conversion_columns:
            raise AudienceError(f"audience {audience!r}: {PURCHASE_EVENT!r} is read from cdp.conversions, which is "
                                f"not built yet; run `headwater build` first")
        props = []
        for index, condition in enumerate(filters):
            name = _naming.normalize_identifier(condition.property)
            if name not in self.conversion_columns:
                raise AudienceError(
                    f"audience {audience!r}: property {condition.property!r} of {PURCHASE_EVENT!r} is not a column of "
                    f"cdp.conversions (one row per purchase); use one of: {', '.join(sorted(self.conversion_columns))}")
            props.append(f", CAST(purchases.{quote(name)} AS {_cast_for(condition.value)}) AS {quote(f'p{index}')}")
        return (f"SELECT purchases.profile_id, purchases.occurred_at AS happened_at{''.join(props)} "
                f"FROM \"cdp\".\"conversions\" AS purchases")
