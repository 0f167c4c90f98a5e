"""Gather the identifier columns of every Segment table of every `events` source into one table.

Why Python assembles this SQL (the one place in models/ that does): which tables and
columns exist depends on what apps have sent. A source that never called `alias` has no
`aliases` table, and `phone` appears only once someone sent a phone trait. So the UNION
is generated over the tables and columns that exist, with NULL for the rest.
"""

from __future__ import annotations

from models.adapter import Engine, literal, quote
from models.build import BuildContext
from models.catalog import Model

SEGMENT_TABLES = ("identifies", "tracks", "pages", "screens", "groups", "aliases")

# output column -> raw columns that may hold it, first non-null wins
IDENTIFIER_COLUMNS: dict[str, tuple[str, ...]] = {
    "anonymous_id": ("anonymous_id",),
    "user_id": ("user_id",),
    "previous_id": ("previous_id",),
    "email": ("email", "traits_email", "context_traits_email"),
    "phone": ("phone", "traits_phone", "context_traits_phone"),
}
OUTPUT_COLUMNS = {"source": "VARCHAR", "source_table": "VARCHAR", "row_id": "VARCHAR", "seen_at": "TIMESTAMPTZ",
                  **{name: "VARCHAR" for name in IDENTIFIER_COLUMNS}}


def _text(columns: list[str]) -> str:
    if not columns:
        return "CAST(NULL AS VARCHAR)"
    parts = [f"CAST({quote(column)} AS VARCHAR)" for column in columns]
    return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"


def select_identifiers(source: str, table: str, present: list[str]) -> str:
    """The SELECT that maps one raw Segment table onto the identifier_rows columns."""
    have = set(present)
    times = [quote(c) for c in ("timestamp", "received_at") if c in have]
    seen_at = f"CAST(COALESCE({', '.join(times)}) AS TIMESTAMPTZ)" if times else "CAST(NULL AS TIMESTAMPTZ)"
    row_id = f"CAST({quote('id')} AS VARCHAR)" if "id" in have else "CAST(NULL AS VARCHAR)"
    values = [f"{_text([c for c in candidates if c in have])} AS {name}"
              for name, candidates in IDENTIFIER_COLUMNS.items()]
    return (f"SELECT {literal(source)} AS source, {literal(table)} AS source_table, {row_id} AS row_id, "
            f"{seen_at} AS seen_at, {', '.join(values)} FROM {quote(source)}.{quote(table)}")


def identifier_rows_sql(engine: Engine, sources: list[str]) -> str:
    parts = []
    for source in sources:
        tables = engine.columns(source)
        parts += [select_identifiers(source, table, tables[table]) for table in SEGMENT_TABLES if table in tables]
    if not parts:
        empty = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in OUTPUT_COLUMNS.items())
        return f"SELECT {empty} WHERE 1 = 0"
    return " UNION ALL ".join(parts)


def write_identifier_rows(model: Model, context: BuildContext, engine: Engine) -> None:
    sources = [source.name for source in context.config.events_sources()]
    engine.replace_table(model.target, identifier_rows_sql(engine, sources))
