"""Gather purchase rows and page views from whatever raw tables the sources have loaded.

Why Python writes this SQL: which tables and columns exist depends on what was sent or
pulled (no `order_cancelled` table until someone cancels, no `context_page_search` until a
browser sent one, dlt adds a vendor column only when a record had it). So each UNION is
generated over the tables and columns that exist, with NULL for the rest. What each raw
table means is declared as data below; the SQL that reconciles them lives in the .sql files.
"""

from __future__ import annotations

from models.adapter import Engine, literal, quote
from models.build import BuildContext
from models.catalog import Model
from models.incremental import RawPart, reread_parts, refresh
from models.rejoin import MARKER, PersonJoin, rejoin

# Stripe amounts are in the currency's smallest unit; these currencies have no minor unit
# (https://docs.stripe.com/currencies#zero-decimal)
ZERO_DECIMAL_CURRENCIES = ("bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                           "vuv", "xaf", "xof", "xpf")
_NUMERIC_TYPES = ("bigint", "integer", "int", "hugeint", "double", "numeric", "decimal", "smallint", "real", "float")

PURCHASE_COLUMNS = {
    "source": "VARCHAR", "source_table": "VARCHAR", "identity_table": "VARCHAR", "row_id": "VARCHAR",
    "order_id": "VARCHAR", "occurred_at": "TIMESTAMPTZ", "value": "DOUBLE", "currency": "VARCHAR",
    "precedence": "INTEGER", "cancelled": "BOOLEAN", "ip": "VARCHAR", "user_agent": "VARCHAR",
    "page_url": "VARCHAR", "fbp": "VARCHAR",
}
PAGE_COLUMNS = {
    "source": "VARCHAR", "row_id": "VARCHAR", "viewed_at": "TIMESTAMPTZ", "url": "VARCHAR", "referrer": "VARCHAR",
    "ip": "VARCHAR", "user_agent": "VARCHAR", "fbp": "VARCHAR", "utm_source": "VARCHAR", "utm_medium": "VARCHAR",
    "utm_campaign": "VARCHAR", "gclid": "VARCHAR", "gbraid": "VARCHAR", "wbraid": "VARCHAR", "fbclid": "VARCHAR",
    "ttclid": "VARCHAR",
}
CLICK_IDS = ("gclid", "gbraid", "wbraid", "fbclid", "ttclid")
FBP_COLUMNS = ("context_fbp", "fbp", "_fbp", "properties_fbp", "context_traits_fbp")


class Columns:
    """The columns one raw table has, and SQL expressions over them that tolerate absent ones."""

    def __init__(self, types: dict[str, str], alias: str | None = None):
        self.types = {name: kind.lower() for name, kind in types.items()}
        self.alias = alias

    def ref(self, column: str) -> str:
        return f"{self.alias}.{quote(column)}" if self.alias else quote(column)

    def aliased(self, alias: str) -> "Columns":
        return Columns(self.types, alias)

    def __contains__(self, name: str) -> bool:
        return name in self.types

    def first(self, *candidates: str, kind: str = "VARCHAR") -> str:
        """The first non-null of the candidate columns that exist, cast to `kind`; NULL when none does."""
        present = [f"CAST({self.ref(c)} AS {kind})" for c in candidates if c in self.types]
        if not present:
            return f"CAST(NULL AS {kind})"
        return present[0] if len(present) == 1 else f"COALESCE({', '.join(present)})"

    def time(self, *candidates: str) -> str:
        """A TIMESTAMPTZ from timestamp, ISO-text or (Stripe) unix-seconds columns."""
        parts = []
        for column in candidates:
            if column not in self.types:
                continue
            if self.types[column].startswith(_NUMERIC_TYPES):
                parts.append(f"TO_TIMESTAMP(CAST({self.ref(column)} AS DOUBLE))")
            else:
                parts.append(f"CAST({self.ref(column)} AS TIMESTAMPTZ)")
        if not parts:
            return "CAST(NULL AS TIMESTAMPTZ)"
        return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"


def url_parameter(haystack: str, name: str) -> str:
    """SQL for the value of query parameter `name` in a URL or `?a=b&c=d` string (NULL when absent).

    Written with SPLIT_PART/STRPOS, which both engines have, because DuckDB's REGEXP_EXTRACT
    has no PostgreSQL twin that sqlglot produces.
    """
    query = f"'&' || SUBSTR({haystack}, STRPOS({haystack}, '?') + 1)"
    value = f"SPLIT_PART(SPLIT_PART(SPLIT_PART({query}, {literal('&' + name + '=')}, 2), '&', 1), '#', 1)"
    return f"NULLIF({value}, '')"


# --- purchases -------------------------------------------------------------------------------

def _order_event(source: str, table: str, cols: Columns, cancelled: bool) -> str:
    """`Order Completed` / `Order Cancelled` events (from apps, or from vendor webhooks)."""
    return (f"SELECT {literal(source)} AS source, {literal(table)} AS source_table, 'tracks' AS identity_table, "
            f"{cols.first('id')} AS row_id, {cols.first('order_id')} AS order_id, "
            f"{cols.time('timestamp', 'received_at')} AS occurred_at, "
            f"{cols.first('total', 'revenue', 'value', kind='DOUBLE')} AS value, "
            f"UPPER({cols.first('currency')}) AS currency, {9 if cancelled else 3} AS precedence, "
            f"{'TRUE' if cancelled else 'FALSE'} AS cancelled, {cols.first('context_ip')} AS ip, "
            f"{cols.first('context_user_agent')} AS user_agent, {cols.first('context_page_url')} AS page_url, "
            f"{cols.first(*FBP_COLUMNS)} AS fbp FROM {quote(source)}.{quote(table)}")


def _vendor_row(source: str, table: str, order_id: str, occurred_at: str, value: str, currency: str,
                precedence: int, cancelled: str, body: str) -> str:
    return (f"SELECT {literal(source)} AS source, {literal(table)} AS source_table, {literal(table)} AS identity_table, "
            f"CAST(raw.{quote('id')} AS VARCHAR) AS row_id, {order_id} AS order_id, {occurred_at} AS occurred_at, "
            f"CAST({value} AS DOUBLE) AS value, UPPER({currency}) AS currency, {precedence} AS precedence, "
            f"{cancelled} AS cancelled, CAST(NULL AS VARCHAR) AS ip, CAST(NULL AS VARCHAR) AS user_agent, "
            f"CAST(NULL AS VARCHAR) AS page_url, CAST(NULL AS VARCHAR) AS fbp {body}")


def _shopify_orders(source: str, tables: dict[str, Columns]) -> list[str]:
    """A Shopify order is the purchase of record (precedence 1); a cancelled order is not a purchase."""
    cols = tables["orders"].aliased("raw")
    order_id = "CAST(raw.\"id\" AS VARCHAR)"
    body = f"FROM {quote(source)}.{quote('orders')} AS raw"
    placed = _vendor_row(source, "orders", order_id, cols.time("processed_at", "created_at"),
                         cols.first("total_price", kind="DOUBLE"), cols.first("currency"), 1, "FALSE", body)
    if "cancelled_at" not in cols:
        return [placed]
    cancelled = _vendor_row(source, "orders", order_id, cols.time("cancelled_at"), "NULL",
                            cols.first("currency"), 9, "TRUE", f"{body} WHERE raw.\"cancelled_at\" IS NOT NULL")
    return [placed, cancelled]


def _stripe_amount(cols: Columns, column: str) -> str:
    currency = f"LOWER({cols.first('currency')})"
    zero = ", ".join(literal(c) for c in ZERO_DECIMAL_CURRENCIES)
    amount = cols.first(column, kind="DOUBLE")
    return f"CASE WHEN {currency} IN ({zero}) THEN {amount} ELSE {amount} / 100.0 END"


def _stripe_charges(source: str, tables: dict[str, Columns]) -> list[str]:
    """A paid charge is a purchase; it names its Shopify order in metadata.order_id, or it pays a
    Checkout Session (whose id the `Order Completed` event carries), else it stands alone."""
    cols = tables["charges"].aliased("raw")
    sessions = tables.get("checkout_sessions")
    join, session_id = "", "CAST(NULL AS VARCHAR)"
    if sessions is not None and "payment_intent" in sessions and "payment_intent" in cols:
        join = (f" LEFT JOIN {quote(source)}.{quote('checkout_sessions')} AS session "
                f"ON session.\"payment_intent\" = raw.\"payment_intent\"")
        session_id = "CAST(session.\"id\" AS VARCHAR)"
    order_id = f"COALESCE({cols.first('metadata__order_id')}, {session_id}, CAST(raw.\"id\" AS VARCHAR))"
    paid = ["raw.\"status\" = 'succeeded'"] if "status" in cols else []
    paid += ["raw.\"paid\""] if "paid" in cols else []
    where = f" WHERE {' AND '.join(paid)}" if paid else ""
    body = f"FROM {quote(source)}.{quote('charges')} AS raw{join}{where}"
    return [_vendor_row(source, "charges", order_id, cols.time("created"), _stripe_amount(cols, "amount"),
                        cols.first("currency"), 2, "FALSE", body)]


def _stripe_sessions(source: str, tables: dict[str, Columns]) -> list[str]:
    """A paid one-off Checkout Session is a purchase (subscription sessions are paid by their invoices' charges)."""
    cols = tables["checkout_sessions"].aliased("raw")
    order_id = f"COALESCE({cols.first('metadata__order_id')}, CAST(raw.\"id\" AS VARCHAR))"
    paid = ["raw.\"payment_status\" = 'paid'"] if "payment_status" in cols else []
    paid += ["raw.\"mode\" = 'payment'"] if "mode" in cols else []
    where = f" WHERE {' AND '.join(paid)}" if paid else ""
    body = f"FROM {quote(source)}.{quote('checkout_sessions')} AS raw{where}"
    return [_vendor_row(source, "checkout_sessions", order_id, cols.time("created"),
                        _stripe_amount(cols, "amount_total"), cols.first("currency"), 2, "FALSE", body)]


# source type -> raw table -> the SELECTs it contributes
VENDOR_PURCHASES = {
    "shopify": {"orders": _shopify_orders},
    "stripe": {"charges": _stripe_charges, "checkout_sessions": _stripe_sessions},
}
ORDER_EVENTS = {"order_completed": False, "order_cancelled": True}


def _empty(columns: dict[str, str]) -> str:
    return "SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns.items()) + " WHERE 1 = 0"


def purchase_parts(engine: Engine, sources: list[tuple[str, str]]) -> list[RawPart]:
    """One SELECT per purchase report kind in the configured sources' schemas (owner: its raw table)."""
    parts: list[RawPart] = []
    for source, source_type in sources:
        tables = {name: Columns(types) for name, types in engine.column_types(source).items()}
        for table, cancelled in ORDER_EVENTS.items():  # apps' events and vendor webhooks alike
            if table in tables and "order_id" in tables[table]:
                parts.append(RawPart(source, table, _order_event(source, table, tables[table], cancelled)))
        for table, select in VENDOR_PURCHASES.get(source_type, {}).items():
            if table in tables and "id" in tables[table]:
                parts += [RawPart(source, table, sql) for sql in select(source, tables)]
    return parts


def purchase_observations_sql(engine: Engine, sources: list[tuple[str, str]]) -> str:
    """UNION ALL of every purchase report in the configured sources' schemas."""
    parts = purchase_parts(engine, sources)
    return " UNION ALL ".join(part.sql for part in parts) if parts else _empty(PURCHASE_COLUMNS)


def _page_view(source: str, cols: Columns) -> str:
    url = cols.first("context_page_url", "url")
    haystack = f"COALESCE(NULLIF({cols.first('context_page_search', 'search')}, ''), {url}, '')"
    campaign = {"utm_source": ("context_campaign_source", "utm_source"),
                "utm_medium": ("context_campaign_medium", "utm_medium"),
                "utm_campaign": ("context_campaign_name", "utm_campaign")}
    utm = [f"COALESCE({cols.first(column)}, {url_parameter(haystack, param)}) AS {param}"
           for param, (column, _) in campaign.items()]
    clicks = [f"{url_parameter(haystack, name)} AS {name}" for name in CLICK_IDS]
    return (f"SELECT {literal(source)} AS source, {cols.first('id')} AS row_id, "
            f"{cols.time('timestamp', 'received_at')} AS viewed_at, {url} AS url, "
            f"{cols.first('context_page_referrer', 'referrer')} AS referrer, {cols.first('context_ip')} AS ip, "
            f"{cols.first('context_user_agent')} AS user_agent, {cols.first(*FBP_COLUMNS)} AS fbp, "
            f"{', '.join(utm + clicks)} FROM {quote(source)}.{quote('pages')}")


def page_view_parts(engine: Engine, sources: list[str]) -> list[RawPart]:
    return [RawPart(source, "pages", _page_view(source, Columns(tables["pages"])), owner=source)
            for source in sources if "pages" in (tables := engine.column_types(source))]


def page_views_sql(engine: Engine, sources: list[str]) -> str:
    parts = page_view_parts(engine, sources)
    return " UNION ALL ".join(part.sql for part in parts) if parts else _empty(PAGE_COLUMNS)


def write_purchase_observations(model: Model, context: BuildContext, engine: Engine) -> None:
    """Append reports from loads not seen yet; re-read merged vendor tables (models.incremental)."""
    sources = [(source.name, source.type) for source in context.config.sources]
    refresh(model, context, engine, purchase_parts(engine, sources), PURCHASE_COLUMNS)


def write_page_views(model: Model, context: BuildContext, engine: Engine) -> None:
    """Append page calls from loads not seen yet (models.incremental), marked for profile_page_views."""
    sources = [source.name for source in context.config.events_sources()]
    refresh(model, context, engine, page_view_parts(engine, sources), PAGE_COLUMNS, owner_column="source",
            marker_column=MARKER)


PAGE_VIEWS = "FROM cdp_staging.page_views AS views"


def write_profile_page_views(model: Model, context: BuildContext, engine: Engine) -> None:
    """The model's SELECT (profile_page_views.sql) over the page views whose person, content or
    side of as_of changed (models.rejoin)."""
    if model.sql.count(PAGE_VIEWS) != 1:
        raise ValueError(f"{model.path.name}: models.rejoin needs its SELECT to read {PAGE_VIEWS!r} once")
    sources = [source.name for source in context.config.events_sources()]
    reread = sorted({part.source for part in reread_parts(engine, page_view_parts(engine, sources))})
    join = PersonJoin(target=model.target, columns=tuple(model.columns), values='"cdp_staging"."page_views"',
                      select=lambda rows: model.sql.replace(PAGE_VIEWS, f"FROM {rows} AS views"),
                      key={"source": "v.source", "row_id": "v.row_id"}, raw_row=("v.source", "'pages'", "v.row_id"),
                      time_column="viewed_at")
    rejoin(engine, context, model.key, join, reread)
