"""The bulk-operation path for a first backfill of a large shop.

Why: paging a store with a million orders through the cost bucket takes hours; a bulk
operation lets Shopify walk the data server-side. We start `bulkOperationRunQuery`, poll
the operation until COMPLETED, download the JSONL from its `url` (a signed link, so no
access token is sent with it), and rebuild each parent node from the child lines that
name it in `__parentId`, so rows match the paged path's exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import orjson

from sources.shopify.helpers import ShopifyGraphQL
from sources.shopify.nodes import ShopifyResource
from sources.shopify.settings import BULK_MAX_POLLS, BULK_POLL_SECONDS
from sources.vendor_http import VendorError

RUN = ("mutation RunBulk($query: String!) { bulkOperationRunQuery(query: $query) { "
       "bulkOperation { id status } userErrors { field message code } } }")
CURRENT = "query CurrentBulk { currentBulkOperation { id status errorCode objectCount url } }"
POLL = ("query PollBulk($id: ID!) { node(id: $id) { ... on BulkOperation { "
        "id status errorCode objectCount url partialDataUrl } } }")
FINISHED_BADLY = {"FAILED", "CANCELED", "EXPIRED"}


class BulkOperationFailed(VendorError):
    pass


def _start(client: ShopifyGraphQL, query: str, poll: Callable[[], None]) -> str:
    """Start the operation; if another one is running (ours from a crashed run), wait for it first."""
    for _ in range(BULK_MAX_POLLS):
        payload = client.execute(RUN, {"query": query})["bulkOperationRunQuery"]
        errors = payload.get("userErrors") or []
        if not errors:
            return payload["bulkOperation"]["id"]
        if not any(error.get("code") == "OPERATION_IN_PROGRESS" for error in errors):
            raise BulkOperationFailed(f"{client.label}: Shopify refused the bulk query: "
                                      + "; ".join(error["message"] for error in errors))
        current = client.execute(CURRENT)["currentBulkOperation"]
        if current and current["status"] in ("CREATED", "RUNNING", "CANCELING"):
            poll()
    raise BulkOperationFailed(f"{client.label}: another bulk operation never finished")


def run_bulk_query(client: ShopifyGraphQL, query: str, poll_seconds: float = BULK_POLL_SECONDS) -> str | None:
    """Run one bulk query to completion; the URL of its JSONL, or None when it matched nothing."""
    poll = lambda: client.sleep(poll_seconds)  # noqa: E731 - the one wait between polls
    operation_id = _start(client, query, poll)
    for _ in range(BULK_MAX_POLLS):
        operation = client.execute(POLL, {"id": operation_id})["node"]
        status = operation["status"]
        if status == "COMPLETED":
            return operation.get("url")
        if status in FINISHED_BADLY:
            raise BulkOperationFailed(f"{client.label}: bulk operation {operation_id} ended {status} "
                                      f"({operation.get('errorCode') or 'no error code'})")
        poll()
    raise BulkOperationFailed(f"{client.label}: bulk operation {operation_id} did not finish")


def read_bulk_nodes(url: str, resource: ShopifyResource) -> Iterator[dict]:
    """Parent nodes rebuilt from JSONL: children attached as `{field: {"nodes": [...]}}`."""
    field_of = {typename: nested.field for nested in resource.nested for typename in nested.typenames}
    parents: dict[str, dict] = {}
    with httpx.Client(timeout=120.0) as http, http.stream("GET", url) as response:
        if response.status_code != 200:
            raise BulkOperationFailed(f"bulk result download answered HTTP {response.status_code}")
        for line in response.iter_lines():
            if not line.strip():
                continue
            node = orjson.loads(line)
            parent_id = node.pop("__parentId", None)
            if parent_id is None:
                for nested in resource.nested:
                    node[nested.field] = {"nodes": []}
                parents[node["id"]] = node
                continue
            field = field_of.get(node.get("__typename", ""))
            if field is None or parent_id not in parents:
                raise BulkOperationFailed(f"bulk result line for {parent_id} has an unknown child "
                                          f"{node.get('__typename')!r}")
            parents[parent_id][field]["nodes"].append(node)
    yield from parents.values()
