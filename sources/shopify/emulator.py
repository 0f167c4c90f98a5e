"""A local Shopify GraphQL Admin API: the real schema, Shopify's rules, fault injection.

`create_app(world_dir_or_records, access_token=...)` returns a Starlette app serving
`POST /admin/api/<version>/graphql.json`. Any valid query against `schema.graphql` is
answered by graphql-core; what Shopify enforces is enforced here: the
`X-Shopify-Access-Token` check (401 with Shopify's error body), `first`/`last` required
and at most 250, search filters, cursor pagination, the calculated query cost with its
leaky bucket (THROTTLED when empty, cost in `extensions.cost`), and bulk operations whose
JSONL is served from `/bulk/<n>.jsonl`. Tests reach the live emulator as
`app.state.shopify` to change data, inject faults and read the request log.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from functools import lru_cache
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
from graphql import (
    GraphQLError,
    OperationDefinitionNode,
    build_schema,
    execute,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sources.shopify.emulator_bulk import BulkOperations
from sources.shopify.emulator_cost import (
    MAX_QUERY_COST,
    CostContext,
    LeakyBucket,
    PaginationArgumentError,
    is_connection,
    page_size,
    per_node_cost,
    requested_cost,
)
from sources.shopify.emulator_data import (
    ROOT_KINDS,
    SearchSyntaxError,
    ShopData,
    decode_cursor,
    encode_cursor,
    parse_gid,
)

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")
PAGE_LIMIT = 250
SUPPORTED_VERSIONS = ("2025-01", "2025-04", "2025-07", "2025-10", "2026-01")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$|^unstable$")
_COUNT_FIELDS = {f"{kind}Count": kind for kind in ROOT_KINDS}
_SINGLE_FIELDS = {"customer", "order", "product", "node"}


@dataclass
class RequestRecord:
    """One GraphQL request as the emulator saw it; tests assert on these."""

    number: int
    status: int
    api_version: str = ""
    throttled: bool = False
    requested_cost: int | None = None
    actual_cost: int | None = None
    calls: list[dict] = field(default_factory=list)

    def returned_ids(self, connection: str) -> list[int]:
        return [i for call in self.calls if call["field"] == connection for i in call["returned_ids"]]


@dataclass
class _Fault:
    at_request: int
    kind: str  # "status" or "drain"
    status: int = 500


class Faults:
    """Planned failures, counted in GraphQL requests from now: `emulator.faults.error(503, after=2)`."""

    def __init__(self, counter: Callable[[], int]):
        self._counter = counter
        self._planned: list[_Fault] = []
        self._lock = threading.Lock()

    def error(self, status: int = 500, after: int = 0, times: int = 1) -> None:
        """The request after `after` more requests (and `times - 1` after it) answers `status`."""
        start = self._counter() + after + 1
        with self._lock:
            self._planned += [_Fault(start + i, "status", status) for i in range(times)]

    def drain_bucket(self, after: int = 0) -> None:
        """Empty the cost bucket just before a later request, so Shopify's own rule throttles it."""
        with self._lock:
            self._planned.append(_Fault(self._counter() + after + 1, "drain"))

    def due(self, number: int) -> list[_Fault]:
        with self._lock:
            due = [fault for fault in self._planned if fault.at_request == number]
            self._planned = [fault for fault in self._planned if fault.at_request != number]
            return due


def _gql_error(message: str, code: str, **extra: Any) -> dict:
    return {"message": message, "extensions": {"code": code, **extra}}


class ShopifyEmulator:
    def __init__(self, data: ShopData, access_token: str, bucket: LeakyBucket, polls_to_complete: int = 2):
        self.data = data
        self.access_token = access_token
        self.bucket = bucket
        self.schema = build_schema(SCHEMA_FILE.read_text())
        self.requests: list[RequestRecord] = []
        self._count_lock = threading.Lock()
        self._request_count = 0
        self.faults = Faults(lambda: self._request_count)
        self.bulk = BulkOperations(self._run_bulk_query, data.clock, polls_to_complete, self._bulk_query_problem)

    # ---- HTTP ---------------------------------------------------------------------
    async def graphql_endpoint(self, request: Request) -> Response:
        with self._count_lock:
            self._request_count += 1
            record = RequestRecord(self._request_count, 200, request.path_params["version"])
            self.requests.append(record)
        version = record.api_version
        for fault in self.faults.due(record.number):
            if fault.kind == "drain":
                self.bucket.drain()
            else:
                record.status = fault.status
                return JSONResponse({"errors": "Internal Server Error" if fault.status >= 500 else "Error"},
                                    status_code=fault.status)
        if not _VERSION.match(version):
            record.status = 404
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if request.headers.get("x-shopify-access-token") != self.access_token:
            record.status = 401
            return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            record.status = 400
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, status_code=400)
        served = version if version in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[0]
        body = self.answer(payload["query"], payload.get("variables") or {}, payload.get("operationName"),
                           record, str(request.base_url).rstrip("/"))
        return JSONResponse(body, headers={"X-Shopify-API-Version": served})

    async def bulk_file(self, request: Request) -> Response:
        content = self.bulk.result_file(int(request.path_params["number"]))
        if content is None:
            return Response("NoSuchKey", status_code=404)
        return Response(content, media_type="application/jsonl")

    # ---- GraphQL --------------------------------------------------------------------
    def answer(self, query: str, variables: dict, operation_name: str | None, record: RequestRecord,
               base_url: str) -> dict:
        document, problems = self._checked(query)
        if problems:
            return {"errors": problems}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        operation = next((o for o in operations if operation_name is None or
                          (o.name and o.name.value == operation_name)), None)
        if operation is None:
            return {"errors": [_gql_error(f"No operation named {operation_name!r}", "BAD_REQUEST")]}
        fragments = {d.name.value: d for d in document.definitions if hasattr(d, "type_condition")
                     and not isinstance(d, OperationDefinitionNode)}
        try:
            cost = requested_cost(operation, CostContext(self.schema, fragments, variables, PAGE_LIMIT))
        except PaginationArgumentError as error:
            return {"errors": [_gql_error(str(error), "BAD_REQUEST")]}
        record.requested_cost = cost
        if cost > MAX_QUERY_COST:
            return {"errors": [_gql_error(
                f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST}). "
                "To query larger amounts of data with fewer limits, use bulk operations.",
                "MAX_COST_EXCEEDED", cost=cost, maxCost=MAX_QUERY_COST)]}
        if not self.bucket.take(cost):
            record.throttled = True
            return {"errors": [_gql_error("Throttled", "THROTTLED",
                                          documentation="https://shopify.dev/api/usage/rate-limits")],
                    "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None,
                                            "throttleStatus": self.bucket.status().as_dict()}}}
        context = {"refund": 0, "calls": record.calls, "bulk": False, "base_url": base_url,
                   "fragments": fragments, "variables": variables}
        result = execute(self.schema, document, variable_values=variables, operation_name=operation_name,
                         context_value=context, field_resolver=self._resolve, type_resolver=_resolve_type)
        actual = max(cost - context["refund"], 0) if operation.operation.value == "query" else cost
        self.bucket.refund(cost - actual)
        record.actual_cost = actual
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [_error_body(error) for error in result.errors]
        body["data"] = result.data
        body["extensions"] = {"cost": {"requestedQueryCost": cost, "actualQueryCost": actual,
                                       "throttleStatus": self.bucket.status().as_dict()}}
        return body

    def _checked(self, query: str) -> tuple[Any, list[dict]]:
        """Parse and validate once per distinct query text: sources send the same few queries."""
        return self._checked_cached(query)

    @lru_cache(maxsize=256)  # noqa: B019 - one emulator per app; the cache dies with it
    def _checked_cached(self, query: str) -> tuple[Any, list[dict]]:
        try:
            document = parse(query)
        except GraphQLError as error:
            return None, [error.formatted]
        return document, [problem.formatted for problem in validate(self.schema, document)]

    def _bulk_query_problem(self, query: str) -> str | None:
        """Shopify validates a bulk query against the schema before accepting it."""
        _document, problems = self._checked(query)
        return f"Invalid bulk query: {problems[0]['message']}" if problems else None

    def _run_bulk_query(self, query: str) -> dict:
        document = parse(query)
        context = {"refund": 0, "calls": [], "bulk": True, "base_url": "", "fragments": {}, "variables": {}}
        result = execute(self.schema, document, context_value=context, field_resolver=self._resolve,
                         type_resolver=_resolve_type)
        return {"data": result.data, "errors": [e.formatted for e in result.errors or []]}

    def _resolve(self, source: Any, info, **args: Any) -> Any:
        parent = info.parent_type.name
        if parent == "QueryRoot":
            return self._resolve_root(info, args)
        if parent == "Mutation":
            return self.bulk.start(args["query"], info.context["base_url"])
        value = source.get(info.field_name) if isinstance(source, dict) else getattr(source, info.field_name, None)
        if is_connection(info.return_type):
            return self._page_list(value or [], args, info)
        if isinstance(value, list) and "first" in args and args["first"] is not None:
            return value[: args["first"]]
        if isinstance(value, str) and value.startswith("gid://") and not _is_leaf(info.return_type):
            return self.data.node(value)
        if isinstance(value, dict) and set(value) <= {"id", "__typename", "legacyResourceId"} and "id" in value:
            return self.data.node(value["id"]) or value
        return value

    def _resolve_root(self, info, args: dict) -> Any:
        name = info.field_name
        if name in ROOT_KINDS:
            return self._page_root(name, args, info)
        if name in _COUNT_FIELDS:
            total = self.data.count(_COUNT_FIELDS[name], args.get("query"))
            limit = args.get("limit")
            if limit is not None and total > limit:
                return {"count": limit, "precision": "AT_LEAST"}
            return {"count": total, "precision": "EXACT"}
        if name == "currentBulkOperation":
            return self.bulk.poll_current()
        if name in _SINGLE_FIELDS:
            parsed = parse_gid(args["id"])
            if parsed and parsed[0] == "BulkOperation":
                return self.bulk.poll(parsed[1])
            node = self.data.node(args["id"])
            expected = {"customer": "Customer", "order": "Order", "product": "Product"}.get(name)
            return node if node and (expected is None or node.get("__typename") == expected) else None
        return None

    def _size(self, args: dict, info) -> int | None:
        if info.context["bulk"]:
            return None
        try:
            return page_size(args, PAGE_LIMIT, info.field_name)
        except PaginationArgumentError as error:
            raise GraphQLError(str(error)) from None

    def _page_root(self, name: str, args: dict, info) -> dict:
        sort_key = args.get("sortKey") or "ID"
        reverse = bool(args.get("reverse"))
        try:
            rows, positions = self.data.search(name, args.get("query"), sort_key)
            after = decode_cursor(args["after"]) if args.get("after") else None
            before = decode_cursor(args["before"]) if args.get("before") else None
        except SearchSyntaxError as error:
            raise GraphQLError(str(error)) from None
        window = _between(rows, positions, after, before, reverse)
        page = self._cut(window, args, info)
        info.context["calls"].append({
            "field": name, "first": args.get("first"), "after": args.get("after"), "query": args.get("query"),
            "sortKey": sort_key, "returned_ids": [int(row["legacyResourceId"]) for row, _ in page],
        })
        return _connection(page, window)

    def _page_list(self, items: list, args: dict, info) -> dict:
        indexed = [(item, ["i", index]) for index, item in enumerate(items)]
        if args.get("reverse"):
            indexed.reverse()
        try:
            after = decode_cursor(args["after"]) if args.get("after") else None
            before = decode_cursor(args["before"]) if args.get("before") else None
        except SearchSyntaxError as error:
            raise GraphQLError(str(error)) from None
        order = {tuple(pos): n for n, (_, pos) in enumerate(indexed)}
        window = [(item, pos) for item, pos in indexed
                  if (after is None or order[tuple(pos)] > order.get(tuple(after), -1))
                  and (before is None or order[tuple(pos)] < order.get(tuple(before), len(indexed)))]
        return _connection(self._cut(window, args, info), window)

    def _cut(self, window: list, args: dict, info) -> list:
        size = self._size(args, info)
        if size is None:
            return window
        page = window[:size] if args.get("first") is not None else window[-size:] if size else []
        missing = size - len(page)
        if missing > 0:
            context = CostContext(self.schema, info.context["fragments"], info.context["variables"], None)
            info.context["refund"] += missing * per_node_cost(info.field_nodes[0], get_named_type(info.return_type),
                                                              context)
        return page


def _between(rows: list[dict], positions: list[list], after: list | None, before: list | None,
             reverse: bool) -> list[tuple[dict, list]]:
    """Rows strictly between the cursors, found by binary search over the ascending order."""
    keys = [tuple(position) for position in positions]
    if not reverse:
        low = bisect.bisect_right(keys, tuple(after)) if after is not None else 0
        high = bisect.bisect_left(keys, tuple(before)) if before is not None else len(keys)
        return list(zip(rows[low:high], positions[low:high]))
    high = bisect.bisect_left(keys, tuple(after)) if after is not None else len(keys)
    low = bisect.bisect_right(keys, tuple(before)) if before is not None else 0
    return list(zip(reversed(rows[low:high]), reversed(positions[low:high])))


def _connection(page: list[tuple[dict, list]], window: list) -> dict:
    edges = [{"cursor": encode_cursor(position), "node": node} for node, position in page]
    first_index = window.index(page[0]) if page else 0
    last_index = window.index(page[-1]) if page else -1
    return {
        "edges": edges,
        "nodes": [node for node, _ in page],
        "pageInfo": {
            "hasNextPage": bool(page) and last_index < len(window) - 1,
            "hasPreviousPage": bool(page) and first_index > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _is_leaf(type_) -> bool:
    return is_leaf_type(get_named_type(type_))


def _resolve_type(value: Any, info, abstract_type) -> str | None:
    if isinstance(value, dict):
        if value.get("__typename"):
            return value["__typename"]
        if abstract_type.name == "PricingValue":
            return "MoneyV2" if "amount" in value else "PricingPercentageValue"
        parsed = parse_gid(value.get("id", ""))
        return parsed[0] if parsed else None
    return None


def _error_body(error: GraphQLError) -> dict:
    body = error.formatted
    body.setdefault("extensions", {}).setdefault("code", "INTERNAL_SERVER_ERROR" if error.original_error
                                                  and not isinstance(error.original_error, GraphQLError)
                                                  else "BAD_REQUEST")
    return body


def load_world(world_dir: Path) -> dict[str, list[dict]]:
    """The synthetic world's Shopify records: OUT/vendors/shopify/<kind>.jsonl."""
    from sources.shopify.world import read_world

    return read_world(Path(world_dir))


def create_app(world_dir_or_records: Path | str | dict[str, list[dict]] | None = None, *,
               access_token: str = "shpat_emulator", clock: Callable[[], datetime] | None = None,
               bucket_clock: Callable[[], float] | None = None, bucket_size: float = 1000.0,
               restore_rate: float = 50.0, polls_to_complete: int = 2) -> Starlette:
    """The emulator as an ASGI app; `app.state.shopify` is the live `ShopifyEmulator`."""
    data = ShopData(clock or (lambda: datetime.now(timezone.utc)))
    if isinstance(world_dir_or_records, (str, Path)):
        world_dir_or_records = load_world(Path(world_dir_or_records))
    for kind, records in (world_dir_or_records or {}).items():
        data.extend(kind, records)
    bucket = LeakyBucket(bucket_size, restore_rate, bucket_clock or time.monotonic)
    emulator = ShopifyEmulator(data, access_token, bucket, polls_to_complete)
    app = Starlette(routes=[
        Route("/admin/api/{version}/graphql.json", emulator.graphql_endpoint, methods=["POST"]),
        Route("/bulk/{number:int}.jsonl", emulator.bulk_file, methods=["GET"]),
        Route("/health", lambda request: JSONResponse({"ok": True}), methods=["GET"]),
    ])
    app.state.shopify = emulator
    return app
