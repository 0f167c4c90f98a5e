"""The emulated shop's records and Shopify's search/sort/cursor rules over them.

Records are held in the GraphQL Admin API's own shape (camelCase fields, `gid://` ids,
child connections as plain lists), so the GraphQL layer only has to page and select.
Tests and the demo change data through `upsert`/`touch`, which stamp `updatedAt` from
the emulator's clock so incremental syncs see the change, exactly as a shop would.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson

# connection field on QueryRoot -> GraphQL type of its nodes
ROOT_KINDS: dict[str, str] = {
    "customers": "Customer",
    "orders": "Order",
    "products": "Product",
    "abandonedCheckouts": "AbandonedCheckout",
}
# sortKey -> record field (ID sorts on the numeric id)
SORT_FIELDS = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt", "PROCESSED_AT": "processedAt",
               "TITLE": "title", "ID": None, "RELEVANCE": None}
# search-syntax field -> record field, for the filters Headwater and the docs' examples use
SEARCH_FIELDS = {"updated_at": "updatedAt", "created_at": "createdAt", "processed_at": "processedAt",
                 "id": None, "email": "email", "status": "status"}
_TERM = re.compile(r"""(?P<field>[a-z_]+):(?P<op><=|>=|<|>|)(?P<value>'[^']*'|"[^"]*"|\S+)""")
_REFERENCE_KEYS = {"id", "legacyResourceId", "__typename"}  # a link to a node, not the node
_GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>\d+)")


def gid(type_name: str, legacy_id: int | str) -> str:
    return f"gid://shopify/{type_name}/{legacy_id}"


def parse_gid(value: str) -> tuple[str, int] | None:
    match = _GID.match(value or "")
    return (match["type"], int(match["id"])) if match else None


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def money_bag(amount: str | float, currency: str = "USD") -> dict:
    """A MoneyBag with the same amount in shop and presentment currency."""
    money = {"amount": str(amount), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


class SearchSyntaxError(ValueError):
    pass


@dataclass
class SearchFilter:
    """`updated_at:>'2025-01-01T00:00:00Z' created_at:<=2025-02-01` (terms are ANDed)."""

    terms: list[tuple[str, str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, query: str | None) -> "SearchFilter":
        result = cls()
        for match in _TERM.finditer(query or ""):
            name, op, value = match["field"], match["op"] or "=", match["value"].strip("'\"")
            if name in SEARCH_FIELDS:
                result.terms.append((name, op, value))
            else:
                result.ignored.append(name)
        return result

    def matches(self, record: dict) -> bool:
        return all(_compare(_search_value(record, name, value), op, _typed(name, value))
                   for name, op, value in self.terms)


def _typed(name: str, value: str) -> Any:
    if name == "id":
        return int(value)
    if name.endswith("_at"):
        try:
            return parse_time(value)
        except ValueError:
            raise SearchSyntaxError(f"{name}: {value!r} is not a date or timestamp") from None
    return value.lower()


def _search_value(record: dict, name: str, _value: str) -> Any:
    if name == "id":
        return int(record["legacyResourceId"])
    raw = record.get(SEARCH_FIELDS[name])
    if raw is None:
        return None
    return parse_time(raw) if name.endswith("_at") else str(raw).lower()


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None:
        return False
    return {"=": left == right, ">": left > right, ">=": left >= right,
            "<": left < right, "<=": left <= right}[op]


def encode_cursor(position: list) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode()


def decode_cursor(cursor: str) -> list:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception:  # noqa: BLE001 - any malformed cursor is the caller's error
        raise SearchSyntaxError(f"Invalid cursor for current pagination sort: {cursor!r}") from None
    if not isinstance(value, list):
        raise SearchSyntaxError(f"Invalid cursor for current pagination sort: {cursor!r}")
    return value


def _with_ids(record: dict, type_name: str) -> dict:
    record = {key: _as_list(value) for key, value in record.items()}
    if "id" not in record and "legacyResourceId" in record:
        record["id"] = gid(type_name, record["legacyResourceId"])
    parsed = parse_gid(record.get("id", ""))
    if parsed is None:
        raise ValueError(f"{type_name} record needs a gid://shopify/{type_name}/<n> id: {record.get('id')!r}")
    record.setdefault("legacyResourceId", str(parsed[1]))
    record["legacyResourceId"] = str(record["legacyResourceId"])
    record["__typename"] = type_name
    return record


def _as_list(value: Any) -> Any:
    """Child connections arrive as `{"nodes": [...]}` (or edges); the store keeps the list."""
    if isinstance(value, dict) and set(value) <= {"nodes", "edges", "pageInfo"} and ("nodes" in value or "edges" in value):
        return list(value["nodes"]) if "nodes" in value else [edge["node"] for edge in value["edges"]]
    return value


class ShopData:
    """All records of one emulated shop, thread-safe for the server and a test editing it."""

    def __init__(self, clock: Callable[[], datetime] | None = None):
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, dict]] = {kind: {} for kind in ROOT_KINDS}
        self._nodes: dict[str, dict] = {}
        self._version = 0
        self._search_cache: dict[tuple, tuple[int, list[dict], list[list]]] = {}
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def upsert(self, kind: str, record: dict) -> dict:
        """Add or replace a record (GraphQL shape); `updatedAt` defaults to now."""
        type_name = ROOT_KINDS[kind]
        record = _with_ids(record, type_name)
        now = iso(self.clock())
        record.setdefault("createdAt", now)
        record.setdefault("updatedAt", now)
        with self._lock:
            self._records[kind][record["id"]] = record
            self._index(record)
            self._version += 1
        return record

    def extend(self, kind: str, records: Iterable[dict]) -> None:
        for record in records:
            self.upsert(kind, record)

    def touch(self, kind: str, legacy_id: int | str, at: datetime | None = None, **changes: Any) -> dict:
        """Change fields of an existing record and bump its `updatedAt`, as an edit in the admin would."""
        with self._lock:
            key = gid(ROOT_KINDS[kind], legacy_id)
            if key not in self._records[kind]:
                raise KeyError(f"no {kind} record with id {legacy_id}")
            record = {**self._records[kind][key], **changes, "updatedAt": iso(at or self.clock())}
            return self.upsert(kind, record)

    def _index(self, record: dict) -> None:
        self._nodes[record["id"]] = record
        for value in record.values():
            items = value if isinstance(value, list) else [value]
            for item in items:
                if (isinstance(item, dict) and isinstance(item.get("id"), str)
                        and not set(item) <= _REFERENCE_KEYS):
                    parsed = parse_gid(item["id"])
                    if parsed:
                        item.setdefault("__typename", parsed[0])
                        self._nodes[item["id"]] = item

    def node(self, node_id: str) -> dict | None:
        with self._lock:
            return self._nodes.get(node_id)

    def all(self, kind: str) -> list[dict]:
        with self._lock:
            return list(self._records[kind].values())

    def count(self, kind: str, query: str | None = None) -> int:
        search = SearchFilter.parse(query)
        return sum(1 for record in self.all(kind) if search.matches(record))

    def search(self, kind: str, query: str | None, sort_key: str) -> tuple[list[dict], list[list]]:
        """Matching records in ascending sort order (ties broken by id) with their cursor positions.

        Cached per (kind, query, sortKey) until the data changes: a listing asks the same
        question once per page.
        """
        with self._lock:
            key = (kind, query, sort_key)
            cached = self._search_cache.get(key)
            if cached and cached[0] == self._version:
                return cached[1], cached[2]
            search = SearchFilter.parse(query)
            ranked = sorted(((sort_position(record, sort_key), record) for record in self._records[kind].values()
                             if search.matches(record)), key=lambda pair: pair[0])
            rows, positions = [record for _, record in ranked], [position for position, _ in ranked]
            self._search_cache[key] = (self._version, rows, positions)
            return rows, positions


def sort_position(record: dict, sort_key: str) -> list:
    """The cursor position of a record: [sort value, numeric id]; stable under edits elsewhere."""
    name = SORT_FIELDS.get(sort_key)
    value = record.get(name) if name else None
    if name and name.endswith("At") and value and not (len(value) == 20 and value.endswith("Z")):
        value = iso(parse_time(value))
    return [value or "", int(record["legacyResourceId"])]
