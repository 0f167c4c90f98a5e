"""Trait and consent observations: every value a source ever reported for a person, one row each.

Why Python writes this SQL: which traits exist is decided by what apps sent (each identify
trait is a column of `identifies`) and by which vendor columns dlt created, so the UNION
is generated over the tables and columns that exist. What each vendor table means is
declared as data below. Each row is tied to its person through cdp_staging.row_profiles
(the identity layer's row -> profile map), so profiles and identity can never disagree.
Wide rows become long rows with one scan per table: CROSS JOIN a VALUES list of names.
"""

from __future__ import annotations

from models.adapter import Engine, literal, quote
from models.build import BuildContext
from models.catalog import Model
from models.conversions.raw import Columns
from models.profiles.config import CONSENT_CATEGORIES

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


def _owner_join(source: str, table: str) -> str:
    """The person each raw row belongs to (raw rows are aliased `raw`; Segment event tables by their tracks row)."""
    return (f"JOIN cdp_staging.row_profiles AS owner ON owner.source = {literal(source)} "
            f"AND owner.source_table = {literal(table)} AND owner.row_id = CAST(raw.{quote('id')} AS VARCHAR)")


# --- traits ----------------------------------------------------------------------------------

def _trait_rows(source: str, table: str, cols: Columns, traits: dict[str, str], types: dict[str, str],
                observed_at: str) -> str:
    kinds = {name: literal(kind) for name, kind in types.items()}
    return (f"SELECT {literal(source)} AS source, {literal(table)} AS source_table, "
            f"CAST(raw.{quote('id')} AS VARCHAR) AS row_id, owner.profile_id, {observed_at} AS observed_at, "
            f"trait.name AS trait, {_pick('trait', traits)} AS value, {_pick('trait', kinds)} AS value_type "
            f"FROM {quote(source)}.{quote(table)} AS raw {_owner_join(source, table)} {_unpivot(list(traits), 'trait')}")


def identify_traits(types: dict[str, str]) -> list[str]:
    return [name for name in types if name not in NOT_TRAITS and not name.startswith(NOT_TRAIT_PREFIXES)]


def trait_observations_sql(engine: Engine, sources: list[tuple[str, str]]) -> str:
    parts: list[str] = []
    for source, source_type in sources:
        tables = engine.column_types(source)
        if source_type == "events" and "identifies" in tables:
            types = tables["identifies"]
            cols = Columns(types, "raw")
            names = identify_traits(types)
            if names and "id" in types:
                parts.append(_trait_rows(source, "identifies", cols, {n: cols.ref(n) for n in names},
                                         {n: value_type(types[n]) for n in names},
                                         cols.time("timestamp", "received_at")))
        for table, traits in VENDOR_TRAITS.get(source_type, {}).items():
            if table not in tables or "id" not in tables[table]:
                continue
            cols = Columns(tables[table], "raw")
            present = {name: [c for c in candidates if c in cols] for name, candidates in traits.items()}
            present = {name: candidates for name, candidates in present.items() if candidates}
            if present:
                parts.append(_trait_rows(
                    source, table, cols, {name: cols.first(*candidates) for name, candidates in present.items()},
                    {name: value_type(tables[table][candidates[0]]) for name, candidates in present.items()},
                    cols.time(*VENDOR_TIMES[(source_type, table)])))
    return union(parts, TRAIT_COLUMNS)


def write_trait_observations(model: Model, context: BuildContext, engine: Engine) -> None:
    sources = [(source.name, source.type) for source in context.config.sources]
    engine.replace_table(model.target, f"SELECT * FROM ({trait_observations_sql(engine, sources)}) AS observed "
                                       f"WHERE value IS NOT NULL")


# --- consent ---------------------------------------------------------------------------------

def _consent_rows(source: str, table: str, categories: dict[str, str], changed_at: str, signal: str,
                  where: str = "") -> str:
    return (f"SELECT {literal(source)} AS source, {literal(table)} AS source_table, "
            f"CAST(raw.{quote('id')} AS VARCHAR) AS row_id, owner.profile_id, consent.name AS category, "
            f"{_pick('consent', categories, 'BOOLEAN')} AS granted, {changed_at} AS changed_at, "
            f"{literal(signal)} AS signal FROM {quote(source)}.{quote(table)} AS raw {_owner_join(source, table)} "
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


def consent_observations_sql(engine: Engine, sources: list[tuple[str, str]]) -> str:
    parts: list[str] = []
    for source, source_type in sources:
        tables = engine.column_types(source)
        usable = {name: Columns(types, "raw") for name, types in tables.items() if "id" in types}
        if source_type == "events":
            for table in SEGMENT_TABLES:
                if table in usable:
                    parts += _segment_consent(source, table, usable[table])
        elif source_type == "shopify" and "customers" in usable:
            parts += _shopify_consent(source, usable["customers"])
        elif source_type == "mailchimp" and "members" in usable:
            parts += _mailchimp_consent(source, usable["members"])
    return union(parts, CONSENT_COLUMNS)


def write_consent_observations(model: Model, context: BuildContext, engine: Engine) -> None:
    sources = [(source.name, source.type) for source in context.config.sources]
    engine.replace_table(model.target, f"SELECT * FROM ({consent_observations_sql(engine, sources)}) AS observed "
                                       f"WHERE granted IS NOT NULL")
