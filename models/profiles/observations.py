"""Trait and consent observations: every value a source ever reported for a person, one row each.

Why Python writes this SQL: which traits exist is decided by what apps sent (each identify
trait is a column of `identifies`) and by which vendor columns dlt created, so the UNION
is generated over the tables and columns that exist. What each vendor table means is
declared as data below. Each row is tied to its person through cdp_staging.row_profiles
(the identity layer's row -> profile map), so profiles and identity can never disagree.
Wide rows become long rows with one scan per table: CROSS JOIN a VALUES list of names.
"""

from __future__ import annotations

from dataclasses import replace

from models.adapter import Engine, literal, quote
from models.build import BuildContext
from models.catalog import Model
from models.incremental import RawPart, refresh
from models.conversions.raw import Columns
from models.profiles.config import CONSENT_CATEGORIES
from models.rejoin import MARKER, PersonJoin, rejoin

SEGMENT_TABLES = ("identifies", "tracks", "pages", "screens", "groups", "aliases")
# identifies columns that are not traits (Segment's standard columns and the loader's)
NOT_TRAITS = frozenset({"id", "anonymous_id", "user_id", "received_at", "sent_at", "timestamp",
                        "original_timestamp", "uuid_ts", "channel", "type"})
NOT_TRAIT_PREFIXES = ("context_", "_dlt", "consent_")

# source type -> raw table -> trait name -> candidate columns (first non-null wins)
VENDOR_TRAITS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "shopify": {"customers": {"email": ("email",), "phone": ("phone",), "first_name": ("first_name",),
                              "last_name": ("last_name",), "country": ("country_code",)}},
    "stripe": {"customers": {"email": ("email",), "phone": ("phone",), "name": ("name",),
                             "country": ("address__country",)}},
    "mailchimp": {"members": {"email": ("email_address",), "phone": ("merge_fields__phone",),
                              "first_name": ("merge_fields__fname",), "last_name": ("merge_fields__lname",),
                              "country": ("location__country_code",)}},
}
# when a vendor row happened: first non-null of these columns
VENDOR_TIMES = {("shopify", "customers"): ("updated_at", "created_at"), ("stripe", "customers"): ("created",),
                ("mailchimp", "members"): ("last_changed", "timestamp_opt", "timestamp_signup")}

TRAIT_COLUMNS = {"source": "VARCHAR", "source_table": "VARCHAR", "row_id": "VARCHAR", "profile_id": "VARCHAR",
                 "observed_at": "TIMESTAMPTZ", "trait": "VARCHAR", "value": "VARCHAR", "value_type": "VARCHAR"}
CONSENT_COLUMNS = {"source": "VARCHAR", "source_table": "VARCHAR", "row_id": "VARCHAR", "profile_id": "VARCHAR",
                   "category": "VARCHAR", "granted": "BOOLEAN", "changed_at": "TIMESTAMPTZ", "signal": "VARCHAR"}

_NUMBER_TYPES = ("bigint", "integer", "int", "hugeint", "double", "numeric", "decimal", "smallint", "real", "float")


def value_type(data_type: str) -> str:
    """The engine's column type as one of the four kinds a profile column is cast back to."""
    kind = data_type.lower()
    if kind.startswith("bool"):
        return "boolean"
    if kind.startswith(_NUMBER_TYPES):
        return "number"
    if kind.startswith("timestamp"):
        return "timestamp"
    return "text"


def empty_select(columns: dict[str, str]) -> str:
    return "SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns.items()) + " WHERE 1 = 0"


def union(parts: list[str], columns: dict[str, str]) -> str:
    return " UNION ALL ".join(parts) if parts else empty_select(columns)


def _unpivot(names: list[str], alias: str) -> str:
    """`CROSS JOIN (VALUES ('a'), ('b')) AS alias(name)`: one output row per name."""
    values = ", ".join(f"({literal(name)})" for name in names)
    return f"CROSS JOIN (VALUES {values}) AS {alias}(name)"


def _pick(alias: str, expressions: dict[str, str], kind: str = "VARCHAR") -> str:
    cases = " ".join(f"WHEN {literal(name)} THEN CAST({expression} AS {kind})" for name, expression in expressions.items())
    return f"CASE {alias}.name {cases} END"


def owned(values: str, columns: dict[str, str]) -> str:
    """Each observation of the `values` table with the person its raw row belongs to.

    Why the person is joined here and not stored with the values: a row's person changes when
    identities merge, its values never do; so the values are kept incrementally (only new raw
    rows are read, models.incremental) and this join to cdp_staging.row_profiles is redone for
    the rows whose person or values changed (models.rejoin).
    """
    picked = ", ".join("owner.profile_id" if name == "profile_id" else f"observed.{quote(name)}" for name in columns)
    return (f"SELECT {picked} FROM {values} AS observed JOIN cdp_staging.row_profiles AS owner "
            f"ON owner.source = observed.source AND owner.source_table = observed.source_table "
            f"AND owner.row_id = observed.row_id")


def _present(sql: str, column: str) -> str:
    return f"SELECT * FROM ({sql}) AS observed WHERE {column} IS NOT NULL"


# --- traits ----------------------------------------------------------------------------------

def _trait_rows(source: str, table: str, cols: Columns, traits: dict[str, str], types: dict[str, str],
                observed_at: str) -> str:
    kinds = {name: literal(kind) for name, kind in types.items()}
    return (f"SELECT {literal(source)} AS source, {literal(table)} AS source_table, "
            f"CAST(raw.{quote('id')} AS VARCHAR) AS row_id, {observed_at} AS observed_at, "
            f"trait.name AS trait, {_pick('trait', traits)} AS value, {_pick('trait', kinds)} AS value_type "
            f"FROM {quote(source)}.{quote(table)} AS raw {_unpivot(list(traits), 'trait')}")


def identify_traits(types: dict[str, str]) -> list[str]:
    return [name for name in types if name not in NOT_TRAITS and not name.startswith(NOT_TRAIT_PREFIXES)]


def trait_parts(engine: Engine, sources: list[tuple[str, str]]) -> list[RawPart]:
    """One SELECT of non-null trait values per raw table (no person: see `owned`)."""
    parts: list[RawPart] = []
    for source, source_type in sources:
        tables = engine.column_types(source)
        if source_type == "events" and "identifies" in tables:
            types = tables["identifies"]
            cols = Columns(types, "raw")
            names = identify_traits(types)
            if names and "id" in types:
                parts.append(RawPart(source, "identifies", _present(_trait_rows(
                    source, "identifies", cols, {n: cols.ref(n) for n in names},
                    {n: value_type(types[n]) for n in names}, cols.time("timestamp", "received_at")), "value")))
        for table, traits in VENDOR_TRAITS.get(source_type, {}).items():
            if table not in tables or "id" not in tables[table]:
                continue
            cols = Columns(tables[table], "raw")
            present = {name: [c for c in candidates if c in cols] for name, candidates in traits.items()}
            present = {name: candidates for name, candidates in present.items() if candidates}
            if present:
                parts.append(RawPart(source, table, _present(_trait_rows(
                    source, table, cols, {name: cols.first(*candidates) for name, candidates in present.items()},
                    {name: value_type(tables[table][candidates[0]]) for name, candidates in present.items()},
                    cols.time(*VENDOR_TIMES[(source_type, table)])), "value")))
    return parts


def write_observations(model: Model, context: BuildContext, engine: Engine, values_name: str, parts: list[RawPart],
                       columns: dict[str, str]) -> None:
    """Values of new raw rows into cdp_staging.<values_name> (models.incremental), then the
    observations whose person or values changed joined to their person again (models.rejoin)."""
    values = replace(model, name=values_name)
    report = refresh(values, context, engine, parts, without_person(columns), marker_column=MARKER)
    row = {name: f"v.{quote(name)}" for name in ("source", "source_table", "row_id")}
    join = PersonJoin(target=model.target, columns=tuple(columns), values=values.target,
                      select=lambda rows: owned(rows, columns), key=row, raw_row=tuple(row.values()))
    rejoin(engine, context, model.key, join, report.reread_sources)


def write_trait_observations(model: Model, context: BuildContext, engine: Engine) -> None:
    sources = [(source.name, source.type) for source in context.config.sources]
    write_observations(model, context, engine, "trait_values", trait_parts(engine, sources), TRAIT_COLUMNS)


# --- consent ---------------------------------------------------------------------------------

def _consent_rows(source: str, table: str, categories: dict[str, str], changed_at: str, signal: str,
                  where: str = "") -> str:
    return (f"SELECT {literal(source)} AS source, {literal(table)} AS source_table, "
            f"CAST(raw.{quote('id')} AS VARCHAR) AS row_id, consent.name AS category, "
            f"{_pick('consent', categories, 'BOOLEAN')} AS granted, {changed_at} AS changed_at, "
            f"{literal(signal)} AS signal FROM {quote(source)}.{quote(table)} AS raw "
            f"{_unpivot(list(categories), 'consent')}{where}")


def _segment_consent(source: str, table: str, cols: Columns) -> list[str]:
    """identify traits consent_<category>, and Segment's context.consent.categoryPreferences on any call."""
    changed_at = cols.time("timestamp", "received_at")
    parts = []
    traits = {c: cols.ref(f"consent_{c}") for c in CONSENT_CATEGORIES if f"consent_{c}" in cols}
    if table == "identifies" and traits:
        parts.append(_consent_rows(source, table, traits, changed_at, "identify_trait"))
    context = {c: cols.ref(f"context_consent_category_preferences_{c}") for c in CONSENT_CATEGORIES
               if f"context_consent_category_preferences_{c}" in cols}
    if context:
        parts.append(_consent_rows(source, table, context, changed_at, "context_consent"))
    return parts


_SHOPIFY_GRANTED = "CASE {state} WHEN 'SUBSCRIBED' THEN TRUE WHEN 'UNSUBSCRIBED' THEN FALSE " \
                   "WHEN 'REDACTED' THEN FALSE WHEN 'NOT_SUBSCRIBED' THEN CASE WHEN {at} IS NOT NULL THEN FALSE END END"


def _shopify_consent(source: str, cols: Columns) -> list[str]:
    """emailMarketingConsent / smsMarketingConsent: a state and when it was last set.

    NOT_SUBSCRIBED without a consent time is Shopify's default for a customer who was never
    asked, so it is no evidence either way; with a time it is a recorded refusal.
    """
    parts = []
    for category, state, at in (("email", "email_marketing_state", "email_consent_updated_at"),
                                ("sms", "sms_marketing_state", "sms_consent_updated_at")):
        if state not in cols:
            continue
        consent_time = cols.time(at, "updated_at")
        granted = _SHOPIFY_GRANTED.format(state=f"UPPER({cols.ref(state)})", at=cols.first(at))
        parts.append(_consent_rows(source, "customers", {category: granted}, consent_time,
                                   "shopify_marketing_consent"))
    return parts


def _mailchimp_consent(source: str, cols: Columns) -> list[str]:
    """A list member's status: subscribed grants email; unsubscribed and cleaned withdraw it;
    pending (not yet confirmed) and transactional say nothing about marketing consent."""
    if "status" not in cols:
        return []
    granted = (f"CASE LOWER({cols.ref('status')}) WHEN 'subscribed' THEN TRUE "
               f"WHEN 'unsubscribed' THEN FALSE WHEN 'cleaned' THEN FALSE END")
    return [_consent_rows(source, "members", {"email": granted},
                          cols.time("last_changed", "timestamp_opt", "timestamp_signup"), "mailchimp_status")]


def consent_parts(engine: Engine, sources: list[tuple[str, str]]) -> list[RawPart]:
    """The SELECTs of consent signals per raw table (no person: see `owned`)."""
    parts: list[RawPart] = []
    for source, source_type in sources:
        tables = engine.column_types(source)
        usable = {name: Columns(types, "raw") for name, types in tables.items() if "id" in types}
        found: list[tuple[str, list[str]]] = []
        if source_type == "events":
            found = [(table, _segment_consent(source, table, usable[table])) for table in SEGMENT_TABLES
                     if table in usable]
        elif source_type == "shopify" and "customers" in usable:
            found = [("customers", _shopify_consent(source, usable["customers"]))]
        elif source_type == "mailchimp" and "members" in usable:
            found = [("members", _mailchimp_consent(source, usable["members"]))]
        parts += [RawPart(source, table, _present(sql, "granted")) for table, sqls in found for sql in sqls]
    return parts


def without_person(columns: dict[str, str]) -> dict[str, str]:
    return {name: kind for name, kind in columns.items() if name != "profile_id"}


def write_consent_observations(model: Model, context: BuildContext, engine: Engine) -> None:
    sources = [(source.name, source.type) for source in context.config.sources]
    write_observations(model, context, engine, "consent_signals", consent_parts(engine, sources), CONSENT_COLUMNS)
