"""Gather the identifier columns of every configured source's raw tables into one table.

Why Python assembles this SQL (the one place in models/ that does): which tables and
columns exist depends on what was sent or pulled. A source that never called `alias` has
no `aliases` table, `phone` appears only once someone sent a phone trait, and dlt adds a
vendor column only when a record had it. So the UNION is generated over the tables and
columns that exist, with NULL for the rest. What each source type's tables hold is
declared below as data (RAW_MAPS), not as code.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.adapter import Engine, literal, quote
from models.build import BuildContext
from models.catalog import Model
from models.incremental import RawPart, refresh

IDENTIFIER_COLUMNS = ("anonymous_id", "user_id", "previous_id", "email", "phone", "order_id", "checkout_id",
                      "shopify_customer_id", "stripe_customer_id", "mailchimp_member_id", "mailchimp_unique_email_id")
OUTPUT_COLUMNS = {"source": "VARCHAR", "source_table": "VARCHAR", "row_id": "VARCHAR", "seen_at": "TIMESTAMPTZ",
                  **{name: "VARCHAR" for name in IDENTIFIER_COLUMNS}, "country": "VARCHAR"}


@dataclass(frozen=True)
class QueryParam:
    """One parameter of a URL query string held in a column (`?a=1&mc_eid=…`): its value, or NULL."""

    column: str
    name: str


@dataclass(frozen=True)
class RawTable:
    """Where one raw table keeps its row id, time and identifiers (candidates: first non-null wins)."""

    row_id: tuple[str, ...]
    seen_at: tuple[str, ...]
    columns: dict[str, tuple[str | QueryParam, ...]]


# A page reached through a Mailchimp campaign link: Mailchimp's e-commerce link tracking appends
# mc_cid (the campaign) and mc_eid (the member's unique_email_id) to every link, so the browser
# that opened the page belongs to that list member. Tracks and identifies on the page carry its
# search too (context.page).
_SEGMENT = RawTable(
    row_id=("id",), seen_at=("timestamp", "received_at"),
    columns={"anonymous_id": ("anonymous_id",), "user_id": ("user_id",), "previous_id": ("previous_id",),
             "email": ("email", "traits_email", "context_traits_email"),
             "phone": ("phone", "traits_phone", "context_traits_phone"),
             "mailchimp_unique_email_id": (QueryParam("context_page_search", "mc_eid"),),
             "country": ("country", "traits_country", "context_traits_country")},
)

# An order id is the strongest evidence joining a store's records: the `Order Completed` event
# (who was logged in or browsing), the Shopify order (its customer, email, phone) and the Stripe
# charge or Checkout Session that paid it all name the same order.
_ORDER_EVENT = RawTable(row_id=_SEGMENT.row_id, seen_at=_SEGMENT.seen_at,
                        columns={**_SEGMENT.columns, "order_id": ("order_id",), "checkout_id": ("checkout_id",)})

# A checkout id joins the `Checkout Started` event (the browser, maybe still anonymous) to
# Shopify's abandoned checkout, whose customer Shopify knows from the contact details typed
# into the checkout: a cart left by a visitor who never logged in still finds its person.
_CHECKOUT_EVENT = RawTable(row_id=_SEGMENT.row_id, seen_at=_SEGMENT.seen_at,
                           columns={**_SEGMENT.columns, "checkout_id": ("checkout_id",)})

# source type -> raw table -> its identifier layout (dlt flattens nested fields with `__`)
RAW_MAPS: dict[str, dict[str, RawTable]] = {
    "events": {**{table: _SEGMENT for table in ("identifies", "tracks", "pages", "screens", "groups", "aliases")},
               "order_completed": _ORDER_EVENT, "checkout_started": _CHECKOUT_EVENT},
    "shopify": {
        "customers": RawTable(("id",), ("created_at", "updated_at"), {
            "shopify_customer_id": ("id",), "email": ("email",), "phone": ("phone",), "country": ("country_code",)}),
        "orders": RawTable(("id",), ("created_at", "processed_at", "updated_at"), {
            "order_id": ("id",), "shopify_customer_id": ("customer_id",), "email": ("email",), "phone": ("phone",)}),
        "abandoned_checkouts": RawTable(("id",), ("created_at", "updated_at"), {
            "checkout_id": ("id",), "shopify_customer_id": ("customer_id",)}),
    },
    "stripe": {
        "customers": RawTable(("id",), ("created",), {
            "stripe_customer_id": ("id",), "email": ("email",), "phone": ("phone",),
            "country": ("address__country",)}),
        "charges": RawTable(("id",), ("created",), {
            "stripe_customer_id": ("customer",), "email": ("billing_details__email", "receipt_email"),
            "phone": ("billing_details__phone",), "order_id": ("metadata__order_id",),
            "country": ("billing_details__address__country",)}),
        "checkout_sessions": RawTable(("id",), ("created",), {
            "stripe_customer_id": ("customer",), "email": ("customer_details__email", "customer_email"),
            "phone": ("customer_details__phone",), "anonymous_id": ("client_reference_id",), "order_id": ("id",),
            "country": ("customer_details__address__country",)}),
    },
    "mailchimp": {
        "members": RawTable(("id",), ("timestamp_opt", "timestamp_signup", "last_changed"), {
            "mailchimp_member_id": ("id",), "email": ("email_address",), "phone": ("merge_fields__phone",),
            "mailchimp_unique_email_id": ("unique_email_id",), "country": ("location__country_code",)}),
    },
}

_NUMERIC = ("bigint", "integer", "int", "hugeint", "double", "numeric", "decimal", "smallint", "real")


def _query_param(param: QueryParam) -> str:
    """The parameter's value, by SPLIT_PART (the same on DuckDB and PostgreSQL); NULL when absent.

    '?' becomes '&' first, so the name matches only as a whole parameter (not `xmc_eid=`).
    """
    after = f"SPLIT_PART(REPLACE(CAST({quote(param.column)} AS VARCHAR), '?', '&'), {literal('&' + param.name + '=')}, 2)"
    return f"NULLIF(SPLIT_PART(SPLIT_PART({after}, '&', 1), '#', 1), '')"


def _text(columns: list[str | QueryParam]) -> str:
    if not columns:
        return "CAST(NULL AS VARCHAR)"
    parts = [_query_param(column) if isinstance(column, QueryParam) else f"CAST({quote(column)} AS VARCHAR)"
             for column in columns]
    return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"


def _present(candidates: tuple[str | QueryParam, ...], present: dict[str, str]) -> list[str | QueryParam]:
    return [c for c in candidates if (c.column if isinstance(c, QueryParam) else c) in present]


def _time(column: str, data_type: str) -> str:
    """Vendor times are timestamps, ISO text, or (Stripe) unix seconds."""
    if data_type.lower().startswith(_NUMERIC):
        return f"TO_TIMESTAMP(CAST({quote(column)} AS DOUBLE))"
    return f"CAST({quote(column)} AS TIMESTAMPTZ)"


def select_identifiers(source: str, table: str, layout: RawTable, present: dict[str, str]) -> str:
    """The SELECT that maps one raw table onto the identifier_rows columns."""
    times = [_time(c, present[c]) for c in layout.seen_at if c in present]
    seen_at = (times[0] if len(times) == 1 else f"COALESCE({', '.join(times)})") if times \
        else "CAST(NULL AS TIMESTAMPTZ)"
    row_id = _text([c for c in layout.row_id if c in present])
    values = [f"{_text(_present(layout.columns.get(name, ()), present))} AS {name}"
              for name in (*IDENTIFIER_COLUMNS, "country")]
    return (f"SELECT {literal(source)} AS source, {literal(table)} AS source_table, {row_id} AS row_id, "
            f"{seen_at} AS seen_at, {', '.join(values)} FROM {quote(source)}.{quote(table)}")


def identifier_row_parts(engine: Engine, sources: list[tuple[str, str]]) -> list[RawPart]:
    """One SELECT per mapped raw table that exists, for (source name, source type) pairs."""
    parts = []
    for source, source_type in sources:
        tables = engine.column_types(source)
        for table, layout in RAW_MAPS.get(source_type, {}).items():
            if table in tables:
                parts.append(RawPart(source, table, select_identifiers(source, table, layout, tables[table])))
    return parts


def identifier_rows_sql(engine: Engine, sources: list[tuple[str, str]]) -> str:
    """UNION ALL over every mapped raw table that exists, for (source name, source type) pairs."""
    parts = identifier_row_parts(engine, sources)
    if not parts:
        empty = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in OUTPUT_COLUMNS.items())
        return f"SELECT {empty} WHERE 1 = 0"
    return " UNION ALL ".join(part.sql for part in parts)


def write_identifier_rows(model: Model, context: BuildContext, engine: Engine) -> None:
    """Append the rows of loads not seen yet; re-read merged cloud tables (models.incremental)."""
    sources = [(source.name, source.type) for source in context.config.sources]
    refresh(model, context, engine, identifier_row_parts(engine, sources), OUTPUT_COLUMNS, marker_column="refreshed_at")
