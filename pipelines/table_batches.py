"""Rows bound for one warehouse schema, typed column by column, turned into Arrow tables.

Why: dlt loads Arrow tables ~50x faster than lists of dicts, and building them here is
also where each value is checked against its column's type, so a message that does not
fit is refused whole (all of its rows) before anything reaches the warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from pipelines.column_types import ARROW_TYPES, MAX_ROW_COLUMNS, MAX_TABLE_COLUMNS, TooWide, coerce, value_kind


class TableBatch:
    """One table's rows in arrival order, with each column's type."""

    def __init__(self, name: str, warehouse_kinds: Mapping[str, str], standard_kinds: Mapping[str, str]):
        self.name = name
        self.kinds: dict[str, str] = {**standard_kinds, **warehouse_kinds}
        # standard columns exist even when every value so far was null, so queries can rely on them
        self.columns: list[str] = list(standard_kinds)
        self._filled: set[str] = set(standard_kinds)
        self.rows: list[dict[str, Any]] = []

    def typed(self, row: dict[str, Any], timestamp_columns: frozenset[str]) -> tuple[dict[str, Any], dict[str, str]]:
        """The row coerced to its columns' types, and the types of columns it would create.

        Raises TypeConflict, UnstorableValue or TooWide; nothing is recorded until `add`.
        """
        if len(row) > MAX_ROW_COLUMNS:
            raise TooWide(f"(message): it makes {len(row)} columns in table {self.name}, more than the "
                          f"{MAX_ROW_COLUMNS:,} a row may have; send fewer properties or nest them in a list")
        kinds = self.kinds
        typed: dict[str, Any] = {}
        new_kinds: dict[str, str] = {}
        for column, value in row.items():
            kind = kinds.get(column)
            if kind is None:
                kind = new_kinds[column] = value_kind(column, value, timestamp_columns)
            typed[column] = coerce(self.name, column, kind, value)
        if new_kinds and len(kinds) + len(new_kinds) > MAX_TABLE_COLUMNS:
            raise TooWide(f"(message): its {len(new_kinds)} new columns would give table {self.name} "
                          f"{len(kinds) + len(new_kinds):,} columns, more than the {MAX_TABLE_COLUMNS:,} a warehouse "
                          f"table holds; drop unused columns or send these properties nested in a list")
        return typed, new_kinds

    def add(self, typed: dict[str, Any], new_kinds: dict[str, str]) -> None:
        if new_kinds:
            self.kinds.update(new_kinds)
        for column in typed:
            if column not in self._filled:
                self._filled.add(column)
                self.columns.append(column)
        self.rows.append(typed)

    def __len__(self) -> int:
        return len(self.rows)

    def to_arrow(self) -> pa.Table:
        rows = self.rows
        fields, arrays = [], []
        for column in self.columns:
            arrow_type = ARROW_TYPES[self.kinds[column]]
            fields.append(pa.field(column, arrow_type, nullable=column != "id"))
            arrays.append(pa.array([row.get(column) for row in rows], type=arrow_type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


class SchemaBatch:
    """All tables of one source schema for one load; a message is admitted all or nothing."""

    def __init__(self, warehouse_kinds: Mapping[str, Mapping[str, str]], timestamp_columns: frozenset[str],
                 standard_kinds: Mapping[str, str]):
        self._warehouse_kinds = warehouse_kinds
        self._timestamp_columns = timestamp_columns
        self._standard_kinds = standard_kinds
        self.tables: dict[str, TableBatch] = {}

    def warehouse_kinds(self, name: str) -> Mapping[str, str]:
        """The types `name`'s columns already have in the warehouse."""
        return self._warehouse_kinds.get(name, {})

    def table(self, name: str) -> TableBatch:
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = TableBatch(name, self._warehouse_kinds.get(name, {}), self._standard_kinds)
        return table

    def admit(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Add one message's rows to their tables, or raise TypeConflict and add none."""
        checked = []
        for table_name, row in rows:
            table = self.table(table_name)
            checked.append((table, *table.typed(row, self._timestamp_columns)))
        for table, typed, new_kinds in checked:
            table.add(typed, new_kinds)
