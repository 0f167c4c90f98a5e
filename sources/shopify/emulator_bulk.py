"""Bulk operations in the emulator: bulkOperationRunQuery, status polling, JSONL results.

Shopify runs a bulk query asynchronously over the whole shop (no page limits, no cost),
then offers the result as a JSONL file: one line per node, nested connection nodes as
their own lines with `__parentId` naming their parent. The emulator runs the query when a
poll finds it due (after `polls_to_complete` polls), and serves the file itself.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from graphql import FieldNode, OperationDefinitionNode, parse, GraphQLError

from sources.shopify.emulator_data import gid, iso

RUNNING_STATES = {"CREATED", "RUNNING", "CANCELING"}


@dataclass
class BulkOperation:
    number: int
    query: str
    created_at: datetime
    base_url: str
    status: str = "CREATED"
    polls: int = 0
    completed_at: datetime | None = None
    lines: list[bytes] = field(default_factory=list)
    root_count: int = 0
    error_code: str | None = None

    @property
    def id(self) -> str:
        return gid("BulkOperation", self.number)

    def as_node(self) -> dict:
        done = self.status == "COMPLETED"
        body = b"".join(self.lines)
        return {
            "__typename": "BulkOperation", "id": self.id, "status": self.status, "type": "QUERY",
            "query": self.query, "createdAt": iso(self.created_at),
            "completedAt": iso(self.completed_at) if self.completed_at else None,
            "objectCount": str(len(self.lines)), "rootObjectCount": str(self.root_count),
            "fileSize": str(len(body)) if done and self.lines else None,
            "url": f"{self.base_url}/bulk/{self.number}.jsonl" if done and self.lines else None,
            "partialDataUrl": None, "errorCode": self.error_code,
        }


def validate_bulk_query(query: str) -> str | None:
    """The userError message Shopify gives for a query it cannot run in bulk, else None."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return f"Invalid bulk query: {error.message}"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation.value != "query":
        return "Bulk queries must contain exactly one query operation."
    roots = [s for s in operations[0].selection_set.selections if isinstance(s, FieldNode)]
    if not roots:
        return "Bulk queries must contain at least one connection."
    return None


def flatten(result: dict) -> tuple[list[bytes], int]:
    """JSONL lines for a bulk result: each node once, children linked by `__parentId`."""
    lines: list[bytes] = []
    roots = 0

    def nodes_of(connection: dict) -> list[dict]:
        if "nodes" in connection:
            return connection["nodes"]
        return [edge["node"] for edge in connection.get("edges", [])]

    def emit(node: dict, parent_id: str | None) -> None:
        own, children = {}, []
        for key, value in node.items():
            if isinstance(value, dict) and ("edges" in value or "nodes" in value):
                children.append(value)
            else:
                own[key] = value
        if parent_id is not None:
            own["__parentId"] = parent_id
        lines.append(orjson.dumps(own) + b"\n")
        for connection in children:
            for child in nodes_of(connection):
                emit(child, node.get("id"))

    for value in (result or {}).values():
        if isinstance(value, dict) and ("edges" in value or "nodes" in value):
            for node in nodes_of(value):
                roots += 1
                emit(node, None)
    return lines, roots


class BulkOperations:
    """One shop's bulk operations; only one query operation may run at a time."""

    def __init__(self, run_query: Callable[[str], dict], clock: Callable[[], datetime], polls_to_complete: int = 2,
                 check: Callable[[str], str | None] = lambda query: None):
        self._run_query = run_query
        self._check = check
        self._clock = clock
        self.polls_to_complete = polls_to_complete
        self._operations: dict[int, BulkOperation] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.RLock()

    def start(self, query: str, base_url: str) -> dict:
        with self._lock:
            problem = validate_bulk_query(query) or self._check(query)
            if problem:
                return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": problem, "code": "INVALID"}]}
            current = self._current()
            if current and current.status in RUNNING_STATES:
                return {"bulkOperation": None, "userErrors": [{
                    "field": None, "code": "OPERATION_IN_PROGRESS",
                    "message": f"A bulk query operation for this app and shop is already in progress: {current.id}.",
                }]}
            operation = BulkOperation(next(self._numbers), query, self._clock(), base_url)
            self._operations[operation.number] = operation
            return {"bulkOperation": operation.as_node(), "userErrors": []}

    def _current(self) -> BulkOperation | None:
        return self._operations[max(self._operations)] if self._operations else None

    def _advance(self, operation: BulkOperation) -> None:
        if operation.status not in RUNNING_STATES:
            return
        operation.polls += 1
        if operation.polls < self.polls_to_complete:
            operation.status = "RUNNING"
            return
        result = self._run_query(operation.query)
        if result.get("errors"):
            operation.status, operation.error_code = "FAILED", "INTERNAL_SERVER_ERROR"
        else:
            operation.lines, operation.root_count = flatten(result["data"])
            operation.status = "COMPLETED"
        operation.completed_at = self._clock()

    def poll_current(self) -> dict | None:
        with self._lock:
            operation = self._current()
            if operation is None:
                return None
            self._advance(operation)
            return operation.as_node()

    def poll(self, number: int) -> dict | None:
        with self._lock:
            operation = self._operations.get(number)
            if operation is None:
                return None
            self._advance(operation)
            return operation.as_node()

    def queries(self) -> list[str]:
        """The bulk queries started so far, oldest first (tests assert which path a load took)."""
        with self._lock:
            return [self._operations[number].query for number in sorted(self._operations)]

    def result_file(self, number: int) -> bytes | None:
        with self._lock:
            operation = self._operations.get(number)
            if operation is None or operation.status != "COMPLETED":
                return None
            return b"".join(operation.lines)
