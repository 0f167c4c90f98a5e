"""Which rows of which warehouse tables are about a person: one answer for delete and export.

Why rules over column names rather than a list of tables: sources add tables and columns as
data arrives (a new event name is a new table; dlt adds `billing_details__phone` when a charge
has one), so the person's rows are found wherever they are, by these rules:

1. a column naming a person (`user_id`, `anonymous_id`, `*email*`, `*phone`, `customer`,
   `customer_id`, `client_reference_id`, `distinct_id`, `id_value`, ...) holds one of their values;
   emails compare trimmed and lowercased;
2. `profile_id` is one of their profiles; sync state's `row_key` is a profile or a deleted row's key;
3. `id` is theirs in identity tables (`users`, `customers`, `members`), or is the id of a raw row
   the identity graph traced to them (every Segment table of a source shares the messageId);
4. dlt child tables follow their root (`_dlt_root_id`), and a row referencing a deleted row
   follows it (`charge`, `order_id` -> the deleted charges, orders);
5. JSON text columns (`payload`: webhooks, quarantine) contain one of their values;
6. a derived row naming its raw row (`row_id` beside `source` and `source_table` or
   `identity_table`, as every staging model keeps) follows that row: when the raw row is
   theirs, so is every value the models took from it (`trait_values`, `page_views`,
   `purchase_observations`), and the next build cannot bring their purchase back;
7. key/value tables (`value` beside `trait`, `key` or `id_type`) hold one of their values.

Rules 3, 4 and 6 grow with what matched, so `find` runs to a fixed point. Audit tables and dlt's
own bookkeeping are never touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from pipelines.privacy.person import Person
from pipelines.privacy.store import AUDIT_TABLES, Session, quote

PERSON_COLUMNS = ("user_id", "anonymous_id", "previous_id", "email", "email_address", "phone", "customer",
                  "customer_id", "client_reference_id", "distinct_id", "id_value", "raw_value", "email_id",
                  "external_id", "subscriber_hash", "member_id")
IDENTITY_TABLES = frozenset({"users", "customers", "members"})
ROW_KEY_COLUMNS = ("id", "conversion_id", "_dlt_id")   # what a matched row is known by elsewhere
PAYLOAD_COLUMNS = frozenset({"payload"})
RAW_ROW_TABLE_COLUMNS = ("source_table", "identity_table")   # beside `source` and `row_id`: the raw row's table
KEY_COLUMNS_OF_VALUES = frozenset({"trait", "key", "id_type"})  # beside `value`: a key/value table
MIN_VALUE_LENGTH = 6   # shorter key/value values ("42", "US") are not a person's
MAX_ROUNDS = 5

Table = tuple[str, str]


def _plain(column: str) -> str:
    return column.lower().replace("__", "_")


def is_person_column(column: str) -> bool:
    name = _plain(column)
    return any(name == suffix or name.endswith("_" + suffix) for suffix in PERSON_COLUMNS)


def _is_email_column(column: str) -> bool:
    name = _plain(column)
    return name.endswith("email") or name.endswith("email_address")


def _singular(table: str) -> str:
    return table[:-1] if table.endswith("s") else table


def _in(expression: str, values: set[str]) -> tuple[str, list[str]] | None:
    if not values:
        return None
    values_list = sorted(values)
    return f"{expression} IN ({', '.join(['%s'] * len(values_list))})", values_list


@dataclass
class Matches:
    """The person's rows found so far: per table, the keys of matched rows."""

    person: Person
    tables: dict[Table, dict[str, str]]
    keys: dict[Table, dict[str, set[str]]] = field(default_factory=dict)   # table -> key column -> values
    counts: dict[Table, int] = field(default_factory=dict)

    def _keys(self, table: Table, column: str) -> set[str]:
        return self.keys.get(table, {}).get(column, set())

    def condition(self, table: Table) -> tuple[str, list] | None:
        """The WHERE clause selecting the person's rows of `table`, or None when it holds none."""
        schema, name = table
        columns = self.tables[table]
        person = self.person
        parts: list[tuple[str, list]] = []

        def add(part: tuple[str, list] | None) -> None:
            if part is not None:
                parts.append(part)

        for column in columns:
            text = f"CAST({quote(column)} AS VARCHAR)"
            plain = _plain(column)
            if is_person_column(column):
                if _is_email_column(column):
                    add(_in(f"LOWER(TRIM({text}))", person.emails | {v.strip().lower() for v in person.raw_values}))
                else:
                    add(_in(text, person.raw_values))
            elif plain == "profile_id":
                add(_in(text, person.profile_ids))
            elif plain == "row_key":
                add(_in(text, person.profile_ids | self._all_keys("conversion_id") | self._all_keys("id")))
            elif column == "id":
                ids = set(person.row_ids.get(table, set()))
                if name in IDENTITY_TABLES:
                    ids |= person.raw_values
                ids |= {row_id for (source, _), row_ids in person.row_ids.items() if source == schema
                        for row_id in row_ids if _looks_like_message_id(row_id)}
                add(_in(text, ids))
            elif column == "_dlt_root_id":
                add(_in(text, {v for (s, _), by in self.keys.items() if s == schema for v in by.get("_dlt_id", ())}))
            elif column in PAYLOAD_COLUMNS:
                add(self._payload_condition(column))
            elif plain == "row_id" and "source" in columns:
                add(self._raw_row_condition(columns))
            elif plain == "value" and KEY_COLUMNS_OF_VALUES & set(columns):
                add(_in(f"LOWER(TRIM({text}))", person.emails | {v.strip().lower() for v in person.raw_values
                                                                if len(v.strip()) >= MIN_VALUE_LENGTH}))
            else:
                referenced = [(s, t) for (s, t) in self.keys if s == schema and t != name and
                              plain in (_singular(t), _singular(t) + "_id")]
                for other in referenced:
                    add(_in(text, self._keys(other, "id")))
        if not parts:
            return None
        return " OR ".join(f"({sql})" for sql, _ in parts), [p for _, params in parts for p in params]

    def found(self) -> Iterator[tuple[Table, tuple[str, list]]]:
        """(table, WHERE clause) for each table where `find` matched the person's rows: what
        an export reads and an erasure deletes, so both act on exactly the same rows."""
        for table in self.tables:
            if not self.counts.get(table):
                continue
            where = self.condition(table)
            if where is not None:
                yield table, where

    def _all_keys(self, column: str) -> set[str]:
        return {value for by in self.keys.values() for value in by.get(column, ())}

    def _raw_row_condition(self, columns: dict[str, str]) -> tuple[str, list] | None:
        """Rows derived from a raw row already matched (or traced to the person by the graph)."""
        raw_keys: dict[Table, set[str]] = {}
        for table, by_column in self.keys.items():
            if by_column.get("id"):
                raw_keys.setdefault(table, set()).update(by_column["id"])
        for table, row_ids in self.person.row_ids.items():
            raw_keys.setdefault(table, set()).update(row_ids)
        table_columns = [c for c in RAW_ROW_TABLE_COLUMNS if c in columns]
        parts, params = [], []
        for (source, table), ids in sorted(raw_keys.items()):
            if not ids:
                continue
            marks = ", ".join(["%s"] * len(ids))
            where_table = " OR ".join(f"{quote(c)} = %s" for c in table_columns)
            if where_table:
                parts.append(f"({quote('source')} = %s AND ({where_table}) AND CAST({quote('row_id')} AS VARCHAR) "
                             f"IN ({marks}))")
                params += [source, *[table] * len(table_columns), *sorted(ids)]
            elif any(_looks_like_message_id(i) for i in ids):   # events' rows share the messageId across tables
                ids = {i for i in ids if _looks_like_message_id(i)}
                parts.append(f"({quote('source')} = %s AND CAST({quote('row_id')} AS VARCHAR) "
                             f"IN ({', '.join(['%s'] * len(ids))}))")
                params += [source, *sorted(ids)]
        if not parts:
            return None
        return " OR ".join(parts), params

    def _payload_condition(self, column: str) -> tuple[str, list] | None:
        """JSON text holding one of the person's values as a whole JSON string."""
        needles = sorted({orjson.dumps(value).decode() for value in self.person.raw_values if len(value) >= 4}
                         | {orjson.dumps(email).decode() for email in self.person.emails})
        if not needles:
            return None
        text = f"LOWER(CAST({quote(column)} AS VARCHAR))"
        return " OR ".join([f"POSITION(%s IN {text}) > 0"] * len(needles)), [n.lower() for n in needles]

    def find(self, session: Session) -> None:
        """Select matching rows' keys table by table until nothing new matches."""
        for _ in range(MAX_ROUNDS):
            grew = False
            for table, columns in self.tables.items():
                where = self.condition(table)
                if where is None:
                    continue
                sql, params = where
                keys = [c for c in ROW_KEY_COLUMNS if c in columns]
                select = ", ".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" for c in keys) or "1 AS one"
                rows = session.run(f"SELECT {select} FROM {quote(table[0])}.{quote(table[1])} WHERE {sql}", params)
                if len(rows) != self.counts.get(table, 0):
                    grew = True
                self.counts[table] = len(rows)
                by_column = self.keys.setdefault(table, {})
                for column in keys:
                    by_column[column] = {row[column] for row in rows if row[column] is not None}
            if not grew:
                return


def _looks_like_message_id(value: str) -> bool:
    """Segment messageIds (UUIDs, SDK ids) are long and unique; short vendor ids are never shared across tables."""
    return len(value) >= 16


def person_tables(session: Session) -> dict[Table, dict[str, str]]:
    """Every table that may hold personal data: all but the audit and dlt's bookkeeping."""
    return {table: columns for table, columns in session.tables().items()
            if table not in AUDIT_TABLES and not table[1].startswith("_dlt_")}


def find_person_rows(session: Session, person: Person) -> Matches:
    matches = Matches(person, person_tables(session))
    matches.find(session)
    return matches
